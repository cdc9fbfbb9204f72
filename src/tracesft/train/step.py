"""One optimizer step's forward and backward passes over its micro-batches (gradients accumulate)."""

from __future__ import annotations

from typing import Callable

import torch

from ..losses import masked_mean
from .distributed import gradient_sync
from .normalization import StepTotals

__all__ = ["train_step", "is_oom"]


def train_step(module, microbatches: list[dict], weight_fn: Callable, *, normalize_constant: float = 1.0,
               reduce_sum: Callable | None = None, world_size: int = 1, autocast_dtype=None) -> dict:
    """Forward and backward over this rank's micro-batches of one optimizer step.

    ``module(input_ids, labels, response_mask)`` returns ``{"log_probs", "token_entropy"}``
    (:class:`tracesft.train.distributed.LogProbModule`, possibly wrapped in DDP/FSDP).
    ``microbatches`` are :func:`tracesft.train.batching.collate` dicts (or ``collate_packed``: their
    ``position_ids`` go to the model, their ``segments`` to ``weight_fn``). The step's token and
    sequence counts are summed over ranks once (``reduce_sum``, identity by default; weighted by a
    micro-batch's ``loss_weight`` when it has one), then each micro-batch's loss is
    ``-sum(weight_fn(mask * loss_weight, totals) * log_probs) * world_size`` (the factor
    undoes DDP/FSDP's averaging of gradients over ranks). Gradients are synchronised across ranks
    on the last micro-batch only. With ``autocast_dtype`` (bf16-mixed) the forward runs under
    ``torch.autocast`` and the loss is summed in float32. Returns floats for the global step: loss, response_tokens,
    total_tokens (non-padding), padded_tokens, entropy (mean over response tokens).
    """
    reduce_sum = reduce_sum or (lambda values: list(values))
    masks = [mb["response_mask"] for mb in microbatches]
    weighted = [_weighted_mask(mb) for mb in microbatches]
    tokens, w_tokens, w_sequences = reduce_sum([sum(int(m.sum()) for m in masks), sum(float(w.sum()) for w in weighted),
                                                sum(_sequence_weight(mb) for mb in microbatches)])
    totals = StepTotals(tokens=w_tokens, sequences=w_sequences, microbatches=len(microbatches) * world_size)
    device = next(module.parameters()).device
    loss_sum = entropy_sum = 0.0
    real_tokens = padded = 0
    for m, mb in enumerate(microbatches):
        input_ids, labels, mask = (mb[k].to(device, non_blocking=True)
                                   for k in ("input_ids", "labels", "response_mask"))
        loss_mask = weighted[m].to(device, non_blocking=True) if "loss_weight" in mb else mask
        packed = {"position_ids": mb["position_ids"].to(device, non_blocking=True)} if "position_ids" in mb else {}
        segments = {"segments": mb["segments"].to(device, non_blocking=True)} if "segments" in mb else {}
        autocast = torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None)
        weights = weight_fn(loss_mask, totals, normalize_constant, **segments)
        with gradient_sync(module, enabled=m == len(microbatches) - 1):
            with autocast:
                out = module(input_ids, labels, mask, **packed, loss_weights=weights)
            loss = -(out["log_probs"].float() * weights).sum() * world_size
            loss.backward()
        loss_sum += float(loss.detach())
        with torch.no_grad():
            entropy_sum += float(masked_mean(out["token_entropy"].detach(), mask)) * int(mask.sum())
        real_tokens += mb["n_tokens"]
        padded += mb["n_padding"]
    loss_sum, entropy_sum, real_tokens, padded = reduce_sum([loss_sum, entropy_sum, real_tokens, padded])
    return {
        "loss": loss_sum / world_size,
        "response_tokens": int(tokens),
        "total_tokens": int(real_tokens),
        "padded_tokens": int(padded),
        "entropy": entropy_sum / max(1, tokens),
    }


def _weighted_mask(mb: dict):
    """The response mask times each sequence's ``loss_weight`` (the record's weight), when it has one
    (per sequence (b,), or per position (1, T) in a packed row)."""
    if "loss_weight" not in mb:
        return mb["response_mask"]
    w = mb["loss_weight"]
    return mb["response_mask"] * (w[:, None] if w.dim() == 1 else w)


def _sequence_weight(mb: dict) -> float:
    """The micro-batch's sequences, each counted as its weight (a packed row holds several)."""
    if "sequence_weight" in mb:
        return float(mb["sequence_weight"])
    if "loss_weight" in mb:
        return float(mb["loss_weight"].sum())
    return float(mb.get("n_sequences", mb["response_mask"].shape[0]))


def is_oom(e: BaseException) -> bool:
    oom_type = getattr(torch, "OutOfMemoryError", None)
    return (oom_type is not None and isinstance(e, oom_type)) or "out of memory" in str(e).lower()
