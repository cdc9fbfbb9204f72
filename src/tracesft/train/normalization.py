"""Loss normalisations as per-token weight functions.

One optimizer step's objective is ``sum over its response tokens of -weight * log p``, the sum
taken over every micro-batch of every rank. A normalisation is a function that returns the
weights of one micro-batch from its response mask and the step's all-reduced totals; adding one
is adding a function and an entry in :data:`NORMALIZATIONS` (the config's choices are read from it).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["StepTotals", "NORMALIZATIONS", "sum_weights", "token_weights", "sample_weights"]


@dataclass(frozen=True)
class StepTotals:
    """Counts over the whole optimizer step (all micro-batches, all ranks)."""

    tokens: float  #: response tokens
    sequences: float  #: sequences
    microbatches: int  #: micro-batches (G per rank x W ranks)


def sum_weights(mask, totals: StepTotals, normalize_constant: float = 1.0):
    """Per-sequence sums of -log p / ``normalize_constant``, averaged over each micro-batch and over the
    step's micro-batches: the reference :func:`tracesft.sft_microbatch_train_step` with G*W micro-batches."""
    return mask / (normalize_constant * mask.shape[0] * totals.microbatches)


def token_weights(mask, totals: StepTotals, normalize_constant: float = 1.0):
    """The exact mean of -log p over all response tokens of the step, however it is split."""
    return mask / totals.tokens


def sample_weights(mask, totals: StepTotals, normalize_constant: float = 1.0):
    """The mean over all sequences of the step of each sequence's token mean."""
    return mask / (mask.sum(dim=-1, keepdim=True).clamp(min=1) * totals.sequences)


NORMALIZATIONS = {"sum": sum_weights, "token": token_weights, "sample": sample_weights}
