"""Per-token log-probabilities and entropy of a causal LM's predictions.

``get_response_log_probs`` uses the fused, chunked head of :mod:`tracesft.fused_logprobs` wherever
it applies (never holding a (tokens x vocab) logits tensor for more than one chunk), and the
straightforward path (full logits -> log_softmax -> gather) otherwise or when ``fused=False``.
"""

from __future__ import annotations

import warnings

import torch

__all__ = ["compute_entropy", "get_response_log_probs", "log_probs_from_logits", "block_causal_mask"]


def compute_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of softmax(logits) over the last dimension.

    logits: (..., vocab) any float dtype; returns (...) float32 for half-precision input, else
    logits.dtype. Uses the logsumexp form H = logsumexp(z) - sum_j p_j z_j, stable for logits of
    magnitude 1e4; ``-inf`` entries (probability 0) contribute 0 and give no NaN gradients.
    """
    if logits.dim() < 1 or logits.shape[-1] == 0:
        raise ValueError(f"compute_entropy needs logits of shape (..., vocab>0), got {tuple(logits.shape)}")
    z = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
    # Shift by the max first (exact), so that log p keeps full precision for logits of size 1e4.
    shifted = z - z.amax(dim=-1, keepdim=True).detach().clamp(min=torch.finfo(z.dtype).min)
    log_p = shifted - torch.logsumexp(shifted, dim=-1, keepdim=True)
    # Clamp -inf log-probs to the most negative finite value: p = 0 there, so p * log_p = 0 and its
    # gradient is 0 rather than 0 * inf = NaN.
    log_p = log_p.clamp(min=torch.finfo(log_p.dtype).min)
    return -(log_p.exp() * log_p).sum(dim=-1)


def log_probs_from_logits(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[labels]: logits (batch, seq, vocab), labels (batch, seq) -> (batch, seq).

    Accumulates in float32 for half-precision logits.
    """
    if logits.shape[:-1] != labels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} do not match labels {tuple(labels.shape)}")
    z = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
    picked = torch.gather(z, -1, labels.unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(z, dim=-1)


def _check_inputs(input_ids: torch.Tensor, labels: torch.Tensor, response_mask: torch.Tensor | None) -> None:
    if input_ids.dim() != 2 or input_ids.shape != labels.shape:
        raise ValueError(
            f"input_ids and labels must both be (batch, seq); got {tuple(input_ids.shape)} and "
            f"{tuple(labels.shape)}"
        )
    if response_mask is not None and response_mask.shape != labels.shape:
        raise ValueError(
            f"response_mask {tuple(response_mask.shape)} does not match labels {tuple(labels.shape)}"
        )


def get_response_log_probs(
    model,
    input_ids: torch.Tensor,
    labels: torch.Tensor,
    return_token_entropy: bool = False,
    with_grad: bool | None = None,
    *,
    response_mask: torch.Tensor | None = None,
    attention_mask: torch.Tensor | None = None,
    fused: bool = True,
    chunk_size: int | None = None,
    position_ids: torch.Tensor | None = None,
    attention_kwargs: dict | None = None,
    grad_hint: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Per-token log p(labels[t] | input_ids[:t+1]) under a causal LM (Hugging Face interface).

    Args:
        model: a causal LM whose ``forward(input_ids)`` returns ``.logits``; for the fused path also
            a decoder reachable as ``model.model`` (or ``get_decoder()``) and ``get_output_embeddings()``.
        input_ids, labels: (batch, seq) int64.
        return_token_entropy: also return the entropy of the next-token distribution.
        response_mask: optional (batch, seq) bool. When given, the fused path projects only masked
            positions; outside the mask log-prob and entropy are returned as 0 (both paths).
        attention_mask: optional (batch, seq), passed to the model (not needed for right padding).
        fused: use the chunked head when the model allows it (default); False forces full logits.
        chunk_size: tokens per chunk of the fused head; default chosen from a memory budget.
        position_ids: optional (batch, seq) int64, passed to the model (with ``use_cache=False``). For
            rows of packed examples, positions restart at 0 with each example; transformers (>= 4.54)
            then keeps attention inside each example (a block-diagonal causal mask for sdpa and eager,
            varlen kernels for flash attention), but only without a KV cache, hence ``use_cache=False``.
        attention_kwargs: optional keyword arguments the model passes on to its attention (the
            example boundaries ``cu_seq_lens_q/k`` of a packed row, see :mod:`tracesft.train.packing`).
        grad_hint: optional (batch, seq), the gradient the caller's loss will send back to the
            log-probs up to one scalar factor (the weights ``w`` of ``-sum(w * log_probs)``): the fused
            head then forms its gradients in the forward (one matrix product fewer) and uses them if
            backward brings c * hint, recomputing otherwise (:func:`tracesft.fused_logprobs.fused_linear_log_probs`).
            Ignored by the full-logits path.
        with_grad: None (default) follows torch's grad mode, as any forward does: a graph is built
            when grad is enabled (training), none under ``torch.no_grad()``. False computes without a
            graph (scoring, as the seeds' ``with_grad=False``); True builds one even under no_grad.

    Returns ``{"log_probs": (batch, seq) float32, "token_entropy": (batch, seq) float32}`` (entropy
    only when asked). Nothing else is masked.
    """
    if with_grad is not None:
        with torch.set_grad_enabled(with_grad):
            return get_response_log_probs(model, input_ids, labels, return_token_entropy, response_mask=response_mask,
                                          attention_mask=attention_mask, fused=fused, chunk_size=chunk_size,
                                          position_ids=position_ids, attention_kwargs=attention_kwargs,
                                          grad_hint=grad_hint)
    _check_inputs(input_ids, labels, response_mask)
    if fused:
        from .fused_logprobs import fused_response_log_probs, fused_unsupported_reason

        reason = fused_unsupported_reason(model)
        if reason is None:
            return fused_response_log_probs(
                model, input_ids, labels, return_token_entropy,
                response_mask=response_mask, attention_mask=attention_mask, chunk_size=chunk_size,
                position_ids=position_ids, attention_kwargs=attention_kwargs, grad_hint=grad_hint,
            )
        _warn_fallback_once(type(model).__name__, reason)

    kwargs = {"attention_mask": attention_mask} if attention_mask is not None else {}
    if position_ids is not None:  # a KV cache would switch off transformers' packed-sequence masking
        kwargs.update(position_ids=position_ids, use_cache=False)
    kwargs.update(attention_kwargs or {})
    logits = model(input_ids=input_ids, **kwargs).logits
    out = {"log_probs": log_probs_from_logits(logits, labels)}
    if return_token_entropy:
        out["token_entropy"] = compute_entropy(logits)
    if response_mask is not None:
        out = {k: torch.where(response_mask, v, torch.zeros((), dtype=v.dtype)) for k, v in out.items()}
    return out


def block_causal_mask(position_ids: torch.Tensor, dtype: torch.dtype, boolean: bool = False) -> torch.Tensor:
    """The (batch, 1, seq, seq) causal mask of rows of packed examples (an example starts where its
    position is 0): query i sees key j when j <= i and both belong to the same example. ``boolean``:
    True where attention is allowed (sdpa); else additive, 0 or the dtype's minimum (eager)."""
    starts = (position_ids == 0).cumsum(-1)
    same = starts[:, :, None] == starts[:, None, :]
    n = position_ids.shape[-1]
    allowed = (same & torch.ones(n, n, dtype=torch.bool, device=position_ids.device).tril())[:, None]
    if boolean:
        return allowed
    return torch.zeros(allowed.shape, dtype=dtype, device=position_ids.device).masked_fill_(
        ~allowed, torch.finfo(dtype).min)


_warned: set[tuple[str, str]] = set()


def _warn_fallback_once(model_name: str, reason: str) -> None:
    key = (model_name, reason)
    if key not in _warned:
        _warned.add(key)
        warnings.warn(
            f"fused log-probs disabled for {model_name}: {reason}; using full logits", RuntimeWarning,
            stacklevel=3,
        )
