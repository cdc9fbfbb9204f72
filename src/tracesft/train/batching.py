"""Tokenized training data, length-grouped batching, and one optimizer step's gradient accumulation."""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from ..losses import masked_mean, sft_microbatch_train_step
from ..tokenization import tokenize_prompt_and_output

__all__ = ["TrainSet", "build_train_set", "epoch_plan", "accumulate_step"]


@dataclass
class TrainSet:
    """Prompt (templated) and response strings with their token lengths (after truncation)."""

    prompts: list[str]
    responses: list[str]
    lengths: list[int]
    n_truncated: int  # examples cut at max_length (kept)
    n_dropped: int  # examples whose prompt alone fills max_length (no response token left)


def build_train_set(prompts: list[str], responses: list[str], tokenizer, max_length: int) -> TrainSet:
    """Measure each example once; count truncated examples, drop (and count) those with no response left."""
    p_ids = tokenizer(prompts)["input_ids"]
    o_ids = tokenizer(responses, add_special_tokens=False)["input_ids"]
    keep_p, keep_r, lengths = [], [], []
    truncated = dropped = 0
    for p, r, pi, oi in zip(prompts, responses, p_ids, o_ids):
        total = len(pi) + len(oi)
        if len(pi) >= max_length or not oi:
            dropped += 1
            continue
        truncated += total > max_length
        keep_p.append(p)
        keep_r.append(r)
        lengths.append(min(total, max_length))
    return TrainSet(keep_p, keep_r, lengths, truncated, dropped)


def epoch_plan(lengths: list[int], micro_batch_size: int, accumulation: int, seed: int, epoch: int,
               group_by_length: bool = True) -> list[list[list[int]]]:
    """The epoch's optimizer steps, each a list of micro-batches of example indices.

    Deterministic in (seed, epoch). Shuffled; with ``group_by_length``, indices are sorted by length
    inside buckets of 16 optimizer steps (cutting padding), and the steps are shuffled again so
    that lengths are not a curriculum. The last step may hold fewer micro-batches.
    """
    rng = random.Random(seed * 1_000_003 + epoch)
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    per_step = micro_batch_size * accumulation
    if group_by_length:
        bucket = per_step * 16
        idx = [i for b in range(0, len(idx), bucket)
               for i in sorted(idx[b:b + bucket], key=lambda j: -lengths[j])]
    steps = [idx[s:s + per_step] for s in range(0, len(idx), per_step)]
    if group_by_length:
        rng.shuffle(steps)
    return [[s[m:m + micro_batch_size] for m in range(0, len(s), micro_batch_size)] for s in steps]


def accumulate_step(module, tokenizer, train_set: TrainSet, microbatches: list[list[int]], *, max_length: int,
                    loss_normalization: str, normalize_constant: float = 1.0, reduce_sum=None,
                    data_parallel_size: int = 1) -> dict:
    """Forward and backward over one optimizer step's micro-batches (gradients accumulate in .grad).

    ``module(input_ids, labels, response_mask)`` returns ``{"log_probs", "token_entropy"}``
    (:class:`tracesft.train.distributed.LogProbModule`, possibly wrapped in DDP/FSDP).
    Loss normalisation (G = this rank's micro-batches, b_m = size of micro-batch m, W = data-parallel
    size, whose gradient averaging the constants undo):
      - ``sum``: per-sequence sums of -log p / ``normalize_constant``, mean over each micro-batch, / G
        (the reference behaviour of :func:`sft_microbatch_train_step`; with W ranks it equals one
        process accumulating G*W micro-batches);
      - ``token``: exact mean of -log p over all response tokens of the global step, however it is
        split (normalize_constant = T / (b_m G W), T = response tokens summed over ranks);
      - ``sample``: mean over all sequences of the step of each sequence's token mean.
    ``reduce_sum`` sums a list of floats over ranks (identity by default). Returns floats for the
    global step: loss, response_tokens, total_tokens (non-padding), padded_tokens, entropy (mean
    over response tokens).
    """
    from contextlib import nullcontext

    reduce_sum = reduce_sum or (lambda values: list(values))
    W = data_parallel_size
    batches = [tokenize_prompt_and_output([train_set.prompts[i] for i in mb], [train_set.responses[i] for i in mb],
                                          tokenizer, max_length) for mb in microbatches]
    G = len(batches)
    local_tokens = sum(int(b["response_mask"].sum()) for b in batches)
    T, N = reduce_sum([local_tokens, sum(len(mb) for mb in microbatches)])
    device = next(module.parameters()).device
    loss_total = entropy_sum = 0.0
    real_tokens = padded = 0
    for m, (mb, batch) in enumerate(zip(microbatches, batches)):
        input_ids = batch["input_ids"].to(device)
        labels = batch["labels"].to(device)
        mask = batch["response_mask"].to(device)
        # DDP: all-reduce gradients once, after the last micro-batch.
        sync = module.no_sync() if (m < G - 1 and hasattr(module, "no_sync")) else nullcontext()
        with sync:
            out = module(input_ids, labels, mask)
            log_probs = out["log_probs"]
            b = len(mb)
            if loss_normalization == "sum":
                constant = normalize_constant
            elif loss_normalization == "token":
                constant = T / (b * G * W)
            else:  # sample: divide each sequence by its own token count
                per_seq = mask.sum(dim=-1, keepdim=True).clamp(min=1)
                log_probs = log_probs / per_seq
                constant = N / (b * G * W)
            loss, _ = sft_microbatch_train_step(log_probs, mask, G, constant)
        loss_total += float(loss)
        with torch.no_grad():
            entropy_sum += float(masked_mean(out["token_entropy"].detach(), mask)) * int(mask.sum())
        lengths = [train_set.lengths[i] for i in mb]
        real_tokens += sum(lengths)
        padded += (max(lengths) - 1) * b - sum(n - 1 for n in lengths)
    loss_sum, entropy_sum, real_tokens, padded = reduce_sum([loss_total, entropy_sum, real_tokens, padded])
    return {
        "loss": loss_sum / W,  # DDP/FSDP average the ranks' gradients, so the objective is the mean
        "response_tokens": int(T),
        "total_tokens": int(real_tokens),
        "padded_tokens": int(padded),
        "entropy": entropy_sum / max(1, T),
    }
