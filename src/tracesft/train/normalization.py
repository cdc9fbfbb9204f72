"""Loss normalisations as per-token weight functions.

One optimizer step's objective is ``sum over its response tokens of -weight * log p``, the sum
taken over every micro-batch of every rank. A normalisation is a function that returns the
weights of one micro-batch from its response mask and the step's all-reduced totals; adding one
is adding a function and an entry in :data:`NORMALIZATIONS` (the config's choices are read from it).

Per-record weights: the mask a function gets is the boolean response mask times each sequence's
weight (a float mask), and the totals count weighted tokens and sequences, so that under ``token``
and ``sample`` a record of weight 2 counts exactly as the record twice, and under ``sum`` its term in
the sum is doubled (the divisor, the batch's shape, stays). Weight 0: out of the loss.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["StepTotals", "NORMALIZATIONS", "sum_weights", "token_weights", "sample_weights"]


@dataclass(frozen=True)
class StepTotals:
    """Counts over the whole optimizer step (all micro-batches, all ranks)."""

    tokens: float  #: response tokens (each times its record's weight)
    sequences: float  #: sequences (each counted as its record's weight)
    microbatches: int  #: micro-batches (G per rank x W ranks)


def sum_weights(mask, totals: StepTotals, normalize_constant: float = 1.0):
    """Per-sequence sums of -log p / ``normalize_constant``, averaged over each micro-batch and over the
    step's micro-batches: the reference :func:`tracesft.sft_microbatch_train_step` with G*W micro-batches."""
    return mask / (normalize_constant * mask.shape[0] * totals.microbatches)


def token_weights(mask, totals: StepTotals, normalize_constant: float = 1.0):
    """The exact mean of -log p over all response tokens of the step, however it is split."""
    return mask / totals.tokens if totals.tokens else mask * 0.0


def sample_weights(mask, totals: StepTotals, normalize_constant: float = 1.0):
    """The mean over all sequences of the step of each sequence's token mean."""
    if not totals.sequences:
        return mask * 0.0
    return mask / ((mask != 0).sum(dim=-1, keepdim=True).clamp(min=1) * totals.sequences)


NORMALIZATIONS = {"sum": sum_weights, "token": token_weights, "sample": sample_weights}
