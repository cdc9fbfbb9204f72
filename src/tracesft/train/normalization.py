"""Loss normalisations as per-token weight functions.

One optimizer step's objective is ``sum over its response tokens of -weight * log p``, the sum
taken over every micro-batch of every rank. A normalisation is a function that returns the
weights of one micro-batch from its response mask and the step's all-reduced totals; adding one
is adding a function and an entry in :data:`NORMALIZATIONS` (the config's choices are read from it).

Per-record weights: the mask a function gets is the boolean response mask times each sequence's
weight (a float mask), and the totals count weighted tokens and sequences, so that under ``token``
and ``sample`` a record of weight 2 counts exactly as the record twice, and under ``sum`` its term in
the sum is doubled (unpacked, the divisor, the batch's shape, stays; packed, the divisor is the
step's weighted sequence count, so the record counts as twice). Weight 0: out of the loss.

A packed micro-batch (``packing: true``) holds several examples in one row; the step then passes
``segments``, each position's example index within its row, and a function that needs per-example
counts groups by it (:func:`per_sequence`). Without ``segments`` each row is one example.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["StepTotals", "NORMALIZATIONS", "sum_weights", "token_weights", "sample_weights", "per_sequence"]


@dataclass(frozen=True)
class StepTotals:
    """Counts over the whole optimizer step (all micro-batches, all ranks)."""

    tokens: float  #: response tokens (each times its record's weight)
    sequences: float  #: sequences (examples, however many share a packed row; each counted as its weight)
    microbatches: int  #: micro-batches (G per rank x W ranks)


def per_sequence(mask, segments=None):
    """Each position's example's response-token count (same shape as ``mask``, float) and the number of
    examples in the micro-batch: per row without ``segments``, per (row, segment) with them."""
    if segments is None:
        return mask.float().sum(dim=-1, keepdim=True).expand(mask.shape), mask.shape[0]
    import torch

    n_seg = int(segments.max()) + 1
    keys = segments + n_seg * torch.arange(mask.shape[0], device=mask.device)[:, None]
    flat = mask.float().reshape(-1)
    counts = flat.new_zeros(mask.shape[0] * n_seg).index_add_(0, keys.reshape(-1), flat)
    return counts[keys], int(sum(int(row.max()) + 1 for row in segments))


def sum_weights(mask, totals: StepTotals, normalize_constant: float = 1.0, segments=None):
    """Per-sequence sums of -log p / ``normalize_constant``, averaged over each micro-batch and over the
    step's micro-batches: the reference :func:`tracesft.sft_microbatch_train_step` with G*W micro-batches.

    Packed (``segments``): the per-sequence sums averaged over the step's sequences, which is the
    reference's value whenever its micro-batches hold equally many sequences."""
    if segments is not None:
        return mask / (normalize_constant * totals.sequences)
    return mask / (normalize_constant * mask.shape[0] * totals.microbatches)


def token_weights(mask, totals: StepTotals, normalize_constant: float = 1.0, segments=None):
    """The exact mean of -log p over all response tokens of the step, however it is split or packed."""
    return mask / totals.tokens if totals.tokens else mask * 0.0


def sample_weights(mask, totals: StepTotals, normalize_constant: float = 1.0, segments=None):
    """The mean over all sequences of the step of each sequence's token mean (packed: each example by
    its own response tokens, whatever shares its row)."""
    if not totals.sequences:
        return mask * 0.0
    counts, _ = per_sequence(mask != 0, segments)  # tokens, not weights: a weight scales the example's mean
    return mask / (counts.clamp(min=1) * totals.sequences)


NORMALIZATIONS = {"sum": sum_weights, "token": token_weights, "sample": sample_weights}
