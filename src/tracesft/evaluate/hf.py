"""Batched generation with Hugging Face ``generate``, grading, per-record logs and a summary."""

from __future__ import annotations

import logging
import time
from typing import Callable, Sequence

import torch

from ..errors import TrainingError
from ..logprobs import compute_entropy
from .records import grade_records, summarize_records

__all__ = ["log_generations", "summarize_records", "grade_records"]  # the last two live in .records

log = logging.getLogger(__name__)


def _response_end(tokenizer, ids: list[int], stop: Sequence[str], eos_ids: set[int], pad_id: int | None):
    """(response text, number of generated tokens that belong to it, whether it ended by itself).

    The response ends at the first stop string (kept) or at EOS (the EOS token is counted, not
    shown). Padding after the end is not counted. At a stop string the count is the smallest k
    whose decoded prefix already holds it, found by bisection (O(log n) decodes, not O(n)).
    A response with neither ran into the token limit (ended False).
    """
    n, ended = len(ids), False
    for k, t in enumerate(ids):
        if t in eos_ids:
            n, ended = k + 1, True
            break
    text = tokenizer.decode(ids[:n], skip_special_tokens=True)
    hits = [(text.find(s), s) for s in stop if s and s in text]
    if hits:
        pos, s = min(hits)
        end = pos + len(s)
        lo, hi = 1, n
        while lo < hi:
            mid = (lo + hi) // 2
            if len(tokenizer.decode(ids[:mid], skip_special_tokens=True)) >= end:
                hi = mid
            else:
                lo = mid + 1
        return text[:end], lo, True
    if pad_id is not None and pad_id not in eos_ids:
        while n > 0 and ids[n - 1] == pad_id:
            n -= 1
    return text, n, ended


class _StopInResponse:
    """transformers' ``StopStringCriteria``, restricted to the generated tokens.

    The library checks the whole sequence, so a stop string that begins in the prompt (a prompt
    ending in ``>`` and a stop string ``>>``) would end a response at its first token; a row it
    flags is kept done only when the stop string lies in the generated text (one short decode).
    """

    def __init__(self, tokenizer, stop: list[str], prompt_len: int) -> None:
        from transformers import StopStringCriteria

        self.inner = StopStringCriteria(tokenizer, stop)
        self.tokenizer, self.stop, self.prompt_len = tokenizer, stop, prompt_len
        self.window = 8 + max(len(s) for s in stop)  # tokens are >= 1 character

    def __call__(self, input_ids: torch.LongTensor, scores=None, **kwargs) -> torch.BoolTensor:
        done = self.inner(input_ids, scores, **kwargs)
        start = max(self.prompt_len, input_ids.shape[1] - self.window)
        for i in done.nonzero().flatten().tolist():
            tail = self.tokenizer.decode(input_ids[i, start:], skip_special_tokens=True)
            done[i] = any(s in tail for s in self.stop)
        return done


def _cap_to_positions(model, prompt_len: int, max_new_tokens: int) -> int:
    """max_new_tokens, lowered (with a warning) so that prompt + response fit the model's positions."""
    from ..errors import UserInputError

    positions = getattr(model.config, "max_position_embeddings", None) or getattr(model.config, "n_positions", None)
    if positions is None:
        return max_new_tokens
    room = positions - prompt_len
    if room < 1:
        raise UserInputError(f"a prompt of {prompt_len} tokens fills the model's {positions} positions")
    if max_new_tokens > room:
        log.warning("max_new_tokens=%d capped at %d: the model has %d positions and the prompts take %d",
                    max_new_tokens, room, positions, prompt_len)
    return min(max_new_tokens, room)


NONFINITE_LOGITS = ("the model produces non-finite logits (NaN or inf): its weights are not usable (a run whose "
                    "lr ruined them: take an earlier checkpoint)")


def _generate_batch(model, tokenizer, batch: list[str], *, max_new_tokens: int, temperature: float, top_p: float,
                    stop: Sequence[str], eos_ids: set[int], pad_id: int,
                    samples: int = 1) -> list[tuple[str, int, float, bool]]:
    """(response, generated tokens, mean step entropy, hit the token limit) for each of ``samples``
    sequences of each prompt of one left-padded batch (prompt-major: prompt 0's samples first)."""
    device = next(model.parameters()).device
    enc = tokenizer(batch, return_tensors="pt", padding=True).to(device)
    prompt_len = enc["input_ids"].shape[1]
    max_new_tokens = _cap_to_positions(model, prompt_len, max_new_tokens)
    sampling = temperature > 0
    stop_strings = [s for s in stop if s]
    criteria = [_StopInResponse(tokenizer, stop_strings, prompt_len)] if stop_strings else []
    try:
        out = model.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            do_sample=sampling,
            temperature=temperature if sampling else None,
            top_p=top_p if sampling else None,
            top_k=None,
            num_return_sequences=samples,
            pad_token_id=pad_id,
            eos_token_id=list(eos_ids) or None,
            stopping_criteria=criteria,
            return_dict_in_generate=True,
            output_logits=True,
            use_cache=True,
        )
    except RuntimeError as e:  # sampling from NaN/inf probabilities
        if "inf" in str(e) and "nan" in str(e):
            raise TrainingError(NONFINITE_LOGITS) from None
        raise
    new = out.sequences[:, prompt_len:]
    if any(bool(torch.isnan(lg).any() or torch.isposinf(lg).any()) for lg in out.logits):  # greedy goes on: NaN
        raise TrainingError(NONFINITE_LOGITS)
    # (batch, steps) entropy of the raw next-token distribution at each generated step.
    step_entropy = torch.stack([compute_entropy(lg.float()) for lg in out.logits], dim=1).cpu()
    results = []
    for i in range(new.shape[0]):
        text, n, ended = _response_end(tokenizer, new[i].tolist(), stop, eos_ids, pad_id)
        results.append((text, n, step_entropy[i, :n].mean().item() if n else 0.0, not ended))
    return results


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
    stop_token_ids: Sequence[int] = (),
    samples: int = 1,
    pass_k: Sequence[int] = (),
) -> dict:
    """Generate a response for each prompt, grade it, and log records and a summary.

    Batches of ``batch_size`` prompts are left-padded and generated with the KV cache; greedy at
    ``temperature == 0``, sampling (temperature, top_p, seeded by ``seed``) otherwise. A sequence
    stops at the first stop string (kept in the response; transformers' ``StopStringCriteria``), at EOS,
    or at one of ``stop_token_ids`` (a chat template's end-of-turn token: counted, not shown, like EOS).
    The model is put in eval mode and restored after; the tokenizer's padding side is restored too.

    ``samples`` responses are drawn for each prompt in the same generate call (``num_return_sequences``;
    more than one needs ``temperature > 0``), so a call generates ``batch_size * samples`` sequences;
    the same seed gives the same samples.

    Returns ``{"records": [...], "summary": {...}}``. Each record: prompt_index, sample_index,
    prompt, response, ground_truth,
    reward (the reward_fn dict), response_length (generated tokens up to the stop string or EOS,
    inclusive), mean_token_entropy (mean of :func:`compute_entropy` of the model's raw next-token
    logits over those tokens), hit_max_new_tokens (no EOS, stop string or stop token before the
    limit), and what :func:`grade_records` adds. The summary is :func:`summarize_records` (pass@k
    for each k of ``pass_k``).
    """
    if len(prompts) != len(ground_truths):
        raise ValueError(f"prompts and ground_truths differ in length: {len(prompts)} vs {len(ground_truths)}")
    if batch_size < 1 or max_new_tokens < 1:
        raise ValueError(f"batch_size and max_new_tokens must be >= 1, got {batch_size}, {max_new_tokens}")
    check_samples(samples, temperature)
    from tqdm.auto import tqdm

    was_training, padding_side = model.training, tokenizer.padding_side
    model.eval()
    tokenizer.padding_side = "left"
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    eos = tokenizer.eos_token_id
    eos_ids = (set(eos if isinstance(eos, list) else [eos]) | set(stop_token_ids)) - {None}
    device = next(model.parameters()).device
    records: list[dict] = []
    generated_tokens, gen_seconds = 0, 0.0
    show = progress if progress is not None else len(prompts) > 4 * batch_size
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            for start in tqdm(range(0, len(prompts), batch_size), disable=not show, desc="generating"):
                batch = list(prompts[start:start + batch_size])
                t0 = time.perf_counter()
                results = _generate_batch(model, tokenizer, batch, max_new_tokens=max_new_tokens,
                                          temperature=temperature, top_p=top_p, stop=stop, eos_ids=eos_ids,
                                          pad_id=pad_id, samples=samples)
                gen_seconds += time.perf_counter() - t0
                for j, (text, n, entropy, cut) in enumerate(results):
                    generated_tokens += n
                    i = j // samples
                    records.append({"prompt_index": start + i, "sample_index": j % samples, "prompt": batch[i],
                                    "response": text, "ground_truth": ground_truths[start + i],
                                    "response_length": n, "mean_token_entropy": entropy,
                                    "hit_max_new_tokens": cut})
    finally:
        tokenizer.padding_side = padding_side
        model.train(was_training)
    return grade_records(records, reward_fn, generated_tokens, gen_seconds, grading_workers, pass_k=pass_k,
                         max_new_tokens=max_new_tokens)


def check_samples(samples: int, temperature: float) -> None:
    """One line when ``samples`` per prompt cannot be drawn at ``temperature`` (every backend)."""
    from ..errors import UserInputError

    if samples < 1:
        raise UserInputError(f"samples per prompt must be >= 1, got {samples}")
    if samples > 1 and temperature <= 0:
        raise UserInputError(f"{samples} samples per prompt at temperature 0 would all be the same greedy "
                             "response: set a temperature > 0 (e.g. 0.6)")
