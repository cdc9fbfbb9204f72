"""Masked normalization, the SFT micro-batch step, the cross-entropy form, and KL estimators."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "kl_penalty",
    "masked_mean",
    "masked_normalize",
    "sft_loss",
    "sft_microbatch_train_step",
    "token_normalize_constant",
]


def _check_same_shape(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_a} {tuple(a.shape)} and {name_b} {tuple(b.shape)} must have the same shape")


def _check_dim(dim: int | None, t: torch.Tensor) -> None:
    if dim is not None and not -t.dim() <= dim < t.dim():
        raise ValueError(f"dim={dim} is out of range for a tensor of shape {tuple(t.shape)}")


def masked_normalize(
    tensor: torch.Tensor, mask: torch.Tensor, normalize_constant: float = 1.0, dim: int | None = None
) -> torch.Tensor:
    """Sum of ``tensor`` where ``mask`` is True (along ``dim``, or over all elements), / constant.

    tensor and mask have the same shape; mask is bool (or 0/1). Masked-out elements contribute
    nothing, even when they are inf or NaN, and receive zero gradient.
    Returns a scalar (dim=None) or tensor.shape without ``dim``.
    """
    _check_same_shape("tensor", tensor, "mask", mask)
    _check_dim(dim, tensor)
    if normalize_constant == 0:
        raise ValueError("normalize_constant must be non-zero")
    kept = torch.where(mask.bool(), tensor, torch.zeros((), dtype=tensor.dtype, device=tensor.device))
    total = kept.sum() if dim is None else kept.sum(dim=dim)
    return total / normalize_constant


def masked_mean(tensor: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of ``tensor`` over elements where ``mask`` is True (along ``dim``, or over all).

    Empty mask (no element selected, overall or in a slice along ``dim``): the result is 0 there,
    with zero gradient, never NaN.
    """
    _check_same_shape("tensor", tensor, "mask", mask)
    _check_dim(dim, tensor)
    m = mask.bool()
    total = masked_normalize(tensor, m, 1.0, dim)
    count = m.sum() if dim is None else m.sum(dim=dim)
    return total / count.clamp(min=1).to(total.dtype)


def sft_microbatch_train_step(
    policy_log_probs: torch.Tensor,
    response_mask: torch.Tensor,
    gradient_accumulation_steps: int,
    normalize_constant: float = 1.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One SFT micro-batch: compute the loss, call ``backward()`` on it, return it detached.

    policy_log_probs: (batch, seq) float, log p of each label (requires grad).
    response_mask: (batch, seq) bool, True on response tokens; others are ignored.

    loss = mean over the batch of [sum over response tokens of -log_probs] / normalize_constant,
    divided by ``gradient_accumulation_steps`` (G). Splitting a minibatch of B sequences into G
    equal micro-batches and calling this on each accumulates exactly the gradient of the whole
    minibatch with G=1. For the exact per-token mean of the minibatch use
    ``normalize_constant=token_normalize_constant(minibatch_response_mask)``.

    Returns (loss, metadata): the scaled loss (what was backpropagated) and detached tensors
    ``unscaled_loss`` (loss * G), ``masked_ce_sum`` (the summed cross-entropy of the response
    tokens, before any normalisation), ``num_response_tokens``, ``mean_log_prob`` (over response
    tokens).
    """
    if policy_log_probs.dim() != 2:
        raise ValueError(f"policy_log_probs must be (batch, seq), got {tuple(policy_log_probs.shape)}")
    _check_same_shape("policy_log_probs", policy_log_probs, "response_mask", response_mask)
    if int(gradient_accumulation_steps) < 1:
        raise ValueError(f"gradient_accumulation_steps must be >= 1, got {gradient_accumulation_steps}")
    per_sequence = masked_normalize(-policy_log_probs, response_mask, normalize_constant, dim=-1)
    unscaled = per_sequence.mean()
    loss = unscaled / gradient_accumulation_steps
    loss.backward()
    with torch.no_grad():
        metadata = {
            "unscaled_loss": unscaled.detach(),
            "masked_ce_sum": (-policy_log_probs.detach() * response_mask).sum(),
            "num_response_tokens": response_mask.sum().detach(),
            "mean_log_prob": masked_mean(policy_log_probs.detach(), response_mask),
        }
    return loss.detach(), metadata


def token_normalize_constant(response_mask: torch.Tensor) -> float:
    """normalize_constant making the accumulated loss the exact mean over all response tokens.

    response_mask: (B, seq) bool, the mask of the *whole* minibatch (all micro-batches of one
    optimizer step). With B sequences split into G equal micro-batches, the accumulated loss is
    sum(-log p) / (normalize_constant * B); this returns (number of response tokens) / B, so the
    accumulated loss is sum(-log p) / tokens however the minibatch is split. (The well-known
    mismatch comes from averaging per micro-batch token means, which weights micro-batches with few
    tokens too much.)
    """
    if response_mask.dim() != 2 or response_mask.shape[0] == 0:
        raise ValueError(f"response_mask must be (batch>0, seq), got {tuple(response_mask.shape)}")
    tokens = int(response_mask.sum())
    if tokens == 0:
        raise ValueError("response_mask selects no token: the per-token mean is undefined")
    return tokens / response_mask.shape[0]


def sft_loss(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Mean next-token cross-entropy, the Hugging Face convention.

    logits: (batch, seq, vocab); labels: (batch, seq) *unshifted* (labels[t] is token t of the
    sequence). Inside: ``logits[:, :-1]`` predicts ``labels[:, 1:]`` (cut the tail of the logits,
    the head of the labels); positions labelled ``ignore_index`` are skipped. Returns a float32
    scalar, 0 (with zero gradient) when no position counts.
    """
    if logits.dim() != 3 or logits.shape[:2] != labels.shape:
        raise ValueError(
            f"logits must be (batch, seq, vocab) and labels (batch, seq); got {tuple(logits.shape)} and "
            f"{tuple(labels.shape)}"
        )
    shift_logits = logits[:, :-1].reshape(-1, logits.shape[-1]).float()
    shift_labels = labels[:, 1:].reshape(-1)
    total = F.cross_entropy(shift_logits, shift_labels, ignore_index=ignore_index, reduction="sum")
    count = (shift_labels != ignore_index).sum()
    return total / count.clamp(min=1)


_ESTIMATORS = ("k1", "k2", "k3")
_MODES = {"biased": "k1", "unbiased": "k3"}  # the seeds' names


def kl_penalty(
    log_probs: torch.Tensor,
    ref_log_probs: torch.Tensor,
    estimator: str = "k3",
    mask: torch.Tensor | None = None,
    *,
    mode: str | None = None,
) -> torch.Tensor:
    """Per-token estimators of KL(policy || reference) from tokens sampled from the policy.

    log_probs, ref_log_probs: (...) log-probs of the sampled tokens under policy and reference.
    With r = ref_log_probs - log_probs:
      k1 = -r                  (unbiased, high variance, can be negative)
      k2 = 0.5 * r^2           (biased, low variance)
      k3 = exp(r) - r - 1      (unbiased, always >= 0)
    Returns the per-token values, or their masked mean (scalar) when ``mask`` is given.

    ``mode="biased"`` / ``"unbiased"`` (the seeds' names) choose k1 / k3 and return the mean (the
    masked mean with ``mask``, else over every element). k3 here is exp(r) - r - 1 with
    r = ref - policy, the direction whose expectation under the policy's samples is
    KL(policy || reference); see docs/api.md.
    """
    if mode is not None:
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {tuple(_MODES)}, got {mode!r}")
        kl = kl_penalty(log_probs, ref_log_probs, _MODES[mode], mask)
        return kl if mask is not None else kl.mean()
    _check_same_shape("log_probs", log_probs, "ref_log_probs", ref_log_probs)
    if estimator not in _ESTIMATORS:
        raise ValueError(f"estimator must be one of {_ESTIMATORS}, got {estimator!r}")
    r = ref_log_probs - log_probs
    if estimator == "k1":
        kl = -r
    elif estimator == "k2":
        kl = 0.5 * r.square()
    else:
        kl = torch.expm1(r) - r
    if mask is None:
        return kl
    return masked_mean(kl, mask)
