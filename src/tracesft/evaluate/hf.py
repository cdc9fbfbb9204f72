"""Batched generation with Hugging Face ``generate``, grading, per-record logs and a summary."""

from __future__ import annotations

import time
from typing import Callable, Sequence

import torch

from ..grading.rewards import grade_many
from ..logprobs import compute_entropy

__all__ = ["log_generations", "summarize_records", "grade_records"]


class _StopOnStrings:
    """Stopping criterion: a row is done once its generated text contains one of the stop strings."""

    def __init__(self, tokenizer, stop: Sequence[str], prompt_len: int) -> None:
        self.tokenizer = tokenizer
        self.stop = tuple(s for s in stop if s)
        self.prompt_len = prompt_len
        self.window = 8 + max((len(s) for s in self.stop), default=0)  # tokens are >= 1 char

    def __call__(self, input_ids: torch.LongTensor, scores=None, **kwargs) -> torch.BoolTensor:
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        if not self.stop:
            return done
        tails = input_ids[:, max(self.prompt_len, input_ids.shape[1] - self.window):]
        for i, text in enumerate(self.tokenizer.batch_decode(tails, skip_special_tokens=True)):
            done[i] = any(s in text for s in self.stop)
        return done


def _cut(tokenizer, ids: list[int], stop: Sequence[str], eos_ids: set[int], pad_id: int | None):
    """(response text, number of generated tokens that belong to it).

    The response ends at the first stop string (kept) or at EOS (the EOS token is counted, not
    shown). Padding after the end is not counted.
    """
    n = len(ids)
    for k, t in enumerate(ids):
        if t in eos_ids:
            n = k + 1
            break
    text = tokenizer.decode(ids[:n], skip_special_tokens=True)
    hits = [(text.find(s), s) for s in stop if s and s in text]
    if hits:
        pos, s = min(hits)
        end = pos + len(s)
        # Smallest k whose decoded prefix already contains the stop string.
        for k in range(1, n + 1):
            if len(tokenizer.decode(ids[:k], skip_special_tokens=True)) >= end:
                return text[:end], k
    if pad_id is not None and pad_id not in eos_ids:
        while n > 0 and ids[n - 1] == pad_id:
            n -= 1
    return text, n


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def summarize_records(records: list[dict], generated_tokens: int | None = None, seconds: float | None = None) -> dict:
    """Summary statistics of evaluation records.

    accuracy = mean answer_reward; format_rate = mean format_reward; mean_reward; mean response
    length overall / for correct (answer_reward 1) / for incorrect responses (None when there are
    none); mean_token_entropy (mean over records of their per-token mean); n_examples; and, when
    given, generation throughput in tokens per second.
    """
    correct = [r for r in records if r["reward"]["answer_reward"] == 1.0]
    incorrect = [r for r in records if r["reward"]["answer_reward"] != 1.0]
    summary = {
        "n_examples": len(records),
        "accuracy": _mean([r["reward"]["answer_reward"] for r in records]),
        "format_rate": _mean([r["reward"]["format_reward"] for r in records]),
        "mean_reward": _mean([r["reward"]["reward"] for r in records]),
        "mean_response_length": _mean([r["response_length"] for r in records]),
        "mean_response_length_correct": _mean([r["response_length"] for r in correct]),
        "mean_response_length_incorrect": _mean([r["response_length"] for r in incorrect]),
        "mean_token_entropy": _mean([r["mean_token_entropy"] for r in records]),
    }
    if generated_tokens is not None and seconds:
        summary["generated_tokens"] = generated_tokens
        summary["generation_seconds"] = seconds
        summary["tokens_per_second"] = generated_tokens / seconds
    return summary


def grade_records(records: list[dict], reward_fn: Callable, generated_tokens: int, seconds: float,
                  workers: int | None = None) -> dict:
    """Add each record's ``reward`` (graded in parallel) and return ``{"records", "summary"}``.

    Shared by the Hugging Face and vLLM backends, so both produce the same records and summary.
    """
    rewards = grade_many([r["response"] for r in records], [r["ground_truth"] for r in records],
                         workers=workers, reward_fn=reward_fn, progress=False)
    for r, rw in zip(records, rewards):
        r["reward"] = dict(rw)
    return {"records": records, "summary": summarize_records(records, generated_tokens, seconds)}


@torch.no_grad()
def log_generations(
    model,
    tokenizer,
    prompts: Sequence[str],
    ground_truths: Sequence,
    reward_fn: Callable,
    *,
    max_new_tokens: int,
    temperature: float = 0.0,
    top_p: float = 1.0,
    batch_size: int = 8,
    stop: Sequence[str] = ("</answer>",),
    seed: int = 0,
    progress: bool | None = None,
    grading_workers: int | None = None,
) -> dict:
    """Generate a response for each prompt, grade it, and log records and a summary.

    Batches of ``batch_size`` prompts are left-padded and generated with the KV cache; greedy at
    ``temperature == 0``, sampling (temperature, top_p, seeded by ``seed``) otherwise. A sequence
    stops at the first stop string (kept in the response) or EOS. The model is put in eval mode and
    restored after; the tokenizer's padding side is restored too.

    Returns ``{"records": [...], "summary": {...}}``. Each record: prompt, response, ground_truth,
    reward (the reward_fn dict), response_length (generated tokens up to the stop string or EOS,
    inclusive), mean_token_entropy (mean of :func:`compute_entropy` of the model's raw next-token
    logits over those tokens). The summary is :func:`summarize_records`.
    """
    if len(prompts) != len(ground_truths):
        raise ValueError(f"prompts and ground_truths differ in length: {len(prompts)} vs {len(ground_truths)}")
    if batch_size < 1 or max_new_tokens < 1:
        raise ValueError(f"batch_size and max_new_tokens must be >= 1, got {batch_size}, {max_new_tokens}")
    from tqdm.auto import tqdm
    from transformers import StoppingCriteriaList

    was_training = model.training
    padding_side = tokenizer.padding_side
    model.eval()
    tokenizer.padding_side = "left"
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    eos = tokenizer.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}
    device = next(model.parameters()).device
    records: list[dict] = []
    generated_tokens = 0
    gen_seconds = 0.0
    show = progress if progress is not None else len(prompts) > 4 * batch_size
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            for start in tqdm(range(0, len(prompts), batch_size), disable=not show, desc="generating"):
                batch = list(prompts[start:start + batch_size])
                enc = tokenizer(batch, return_tensors="pt", padding=True).to(device)
                prompt_len = enc["input_ids"].shape[1]
                sampling = temperature > 0
                t0 = time.perf_counter()
                out = model.generate(
                    **enc,
                    max_new_tokens=max_new_tokens,
                    do_sample=sampling,
                    temperature=temperature if sampling else None,
                    top_p=top_p if sampling else None,
                    top_k=None,
                    pad_token_id=pad_id,
                    eos_token_id=list(eos_ids) or None,
                    stopping_criteria=StoppingCriteriaList([_StopOnStrings(tokenizer, stop, prompt_len)]),
                    return_dict_in_generate=True,
                    output_logits=True,
                    use_cache=True,
                )
                gen_seconds += time.perf_counter() - t0
                new = out.sequences[:, prompt_len:]
                # (batch, steps) entropy of the raw next-token distribution at each generated step.
                step_entropy = torch.stack([compute_entropy(lg.float()) for lg in out.logits], dim=1).cpu()
                for i, prompt in enumerate(batch):
                    text, n = _cut(tokenizer, new[i].tolist(), stop, eos_ids, pad_id)
                    generated_tokens += n
                    records.append({
                        "prompt": prompt,
                        "response": text,
                        "ground_truth": ground_truths[start + i],
                        "response_length": n,
                        "mean_token_entropy": step_entropy[i, :n].mean().item() if n else 0.0,
                    })
    finally:
        tokenizer.padding_side = padding_side
        model.train(was_training)

    return grade_records(records, reward_fn, generated_tokens, gen_seconds, grading_workers)
