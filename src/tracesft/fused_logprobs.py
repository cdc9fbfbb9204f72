"""Fused, chunked output head: log p(label) and entropy without full-vocabulary logits.

The straightforward path materializes (tokens x vocab) logits and, under autograd, several more
tensors of that size (log_softmax output, softmax for the entropy, their gradients). Here the
output projection ``hidden @ W_out^T`` lives inside a chunk loop of a custom autograd Function:
forward keeps only O(tokens) values (log-prob, logsumexp, entropy) and backward recomputes each
chunk's logits to form its gradient. At most one chunk of (chunk x vocab) float32 values (two when
the entropy itself is differentiated) is alive at any moment.

Reference: :func:`tracesft.logprobs.log_probs_from_logits` and :func:`tracesft.logprobs.compute_entropy`
on full logits; tests compare the two on the same inputs.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .models.heads import output_embedding
from .models.unwrap import base_model

__all__ = [
    "DEFAULT_CHUNK_BUDGET_BYTES",
    "auto_chunk_size",
    "vocab_chunk_size",
    "fused_linear_log_probs",
    "fused_response_log_probs",
    "fused_unsupported_reason",
]

# Memory allowed for the per-chunk float32 temporaries: two (chunk x vocab) buffers in the forward
# (the logits and their softmax, which becomes the gradient when it is formed in the forward), two
# (tokens x slice) buffers in a backward that recomputes.
DEFAULT_CHUNK_BUDGET_BYTES = 512 * 2**20

# Config attributes that change logits after the output projection; we do not implement them.
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling", "output_multiplier_scale")

# Relative tolerance of the check that backward's incoming gradient is a multiple of ``grad_hint``.
_HINT_RTOL = 1e-6


def auto_chunk_size(vocab_size: int, budget_bytes: int = DEFAULT_CHUNK_BUDGET_BYTES,
                    n_tokens: int | None = None) -> int:
    """Tokens per chunk of the forward: two (chunk x vocab) float32 buffers fit in ``budget_bytes``;
    with ``n_tokens``, the chunks are then evened out (2048 tokens in chunks of at most 441 give five
    of 410, not four of 441 and one of 284)."""
    rows = max(1, budget_bytes // (2 * 4 * max(1, vocab_size)))
    if n_tokens:
        chunks = -(-n_tokens // rows)
        rows = -(-n_tokens // chunks)
    return rows


def _last_level_cache_bytes() -> int:
    """Size of the largest CPU cache (Linux sysfs), 32 MiB where it cannot be read."""
    sizes = []
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            text = (index / "size").read_text().strip().upper()
            if (index / "type").read_text().strip() == "Instruction":
                continue
        except OSError:
            continue
        unit = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
        digits = text.rstrip("KMG")
        if digits.isdigit():
            sizes.append(int(digits) * unit)
    return max(sizes, default=32 * 2**20)


def _block_rows(vocab_size: int, device: torch.device) -> int:
    """Rows of a chunk whose softmax arithmetic runs together. On CPU: two (rows x vocab) float32
    blocks in the last-level cache, so that the chunk's logits come from memory once and the
    max/exp/sum/entropy/gradient passes run in cache (each pass over the whole chunk would
    stream it from memory again). Elsewhere the whole chunk (one kernel launch per pass)."""
    if device.type != "cpu":
        return 2**31
    return max(1, _last_level_cache_bytes() // (2 * 4 * max(1, vocab_size)))


def _chunk_logits(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                  out: torch.Tensor | None = None) -> torch.Tensor:
    """float32 logits of one chunk; written into ``out`` (a reused buffer) when the model is float32.

    Reusing one buffer per call matters on CPU: a fresh (chunk x vocab) allocation each chunk is
    returned to the OS and page-faulted in again, which the profiler showed as a slow ``exp``.
    """
    if out is not None and h.dtype == torch.float32:
        if bias is None:
            return torch.mm(h, weight.t(), out=out)
        return torch.addmm(bias, h, weight.t(), out=out)
    z = h @ weight.t() if bias is None else torch.addmm(bias, h, weight.t())
    return z.float()  # float32 softmax arithmetic for half-precision models


class _FusedLinearLogProbs(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, labels, chunk_size, want_entropy, vocab_chunk, grad_hint):
        """One pass over chunks of tokens: each chunk's logits (one matrix product), then, a block of
        rows at a time (:func:`_block_rows`), max, exp, sum, log p(label), entropy and, with
        ``grad_hint``, the gradient of the logits ``hint * (onehot - p)`` in place of p. With the
        hint, the chunk's gradients for hidden and weight follow from two more matrix products
        (the weight's accumulated in place), so that backward needs no second pass over the
        logits: three matrix products in all, as with full logits, instead of four."""
        n, vocab = hidden.shape[0], weight.shape[0]
        log_probs = hidden.new_empty(n, dtype=torch.float32)
        lse = hidden.new_empty(n, dtype=torch.float32)
        entropy = hidden.new_empty(n, dtype=torch.float32) if want_entropy else None
        precompute = grad_hint is not None and any(ctx.needs_input_grad[:3])
        need_h, need_w, need_b = (precompute and ctx.needs_input_grad[i] for i in range(3))
        rows = min(n, chunk_size)
        block = min(rows, _block_rows(vocab, hidden.device))
        z_buf = hidden.new_empty((rows, vocab), dtype=torch.float32)
        p_buf = hidden.new_empty((rows if precompute else block, vocab), dtype=torch.float32)
        grad_h = hidden.new_empty(hidden.shape, dtype=torch.float32) if need_h else None
        grad_w = hidden.new_empty(weight.shape, dtype=torch.float32) if need_w else None
        grad_b = hidden.new_zeros(vocab, dtype=torch.float32) if need_b else None
        hint = grad_hint.float() if precompute else None
        for s in range(0, n, chunk_size):
            e = min(n, s + chunk_size)
            z = _chunk_logits(hidden[s:e], weight, bias, out=z_buf[: e - s])
            for a in range(0, e - s, block):
                b, i0, i1 = min(e - s, a + block), s + a, s + min(e - s, a + block)
                zb = z[a:b]
                pb = p_buf[a:b] if precompute else p_buf[: b - a]
                m = zb.amax(dim=-1, keepdim=True)
                zb.sub_(m)  # shifted logits, max 0
                torch.exp(zb, out=pb)
                sumexp = pb.sum(dim=-1)
                log_sumexp = sumexp.log()
                lse[i0:i1] = log_sumexp + m.squeeze(-1)
                lab = labels[i0:i1, None]
                log_probs[i0:i1] = zb.gather(1, lab).squeeze(1) - log_sumexp
                if want_entropy:
                    # H = log sum exp(z) - E_p[z], z shifted (the shift cancels); a batched dot product, no temporary.
                    entropy[i0:i1] = log_sumexp - torch.bmm(pb[:, None, :], zb[:, :, None]).view(-1) / sumexp
                if precompute:  # d(hint . log p(label))/dz = hint * (onehot - p)
                    hb = hint[i0:i1]
                    pb.mul_((-hb / sumexp)[:, None]).scatter_add_(1, lab, hb[:, None])
            if precompute:
                gz = p_buf[: e - s]
                if need_b:
                    grad_b += gz.sum(0)
                gz = gz.to(weight.dtype)
                if need_h:
                    grad_h[s:e] = gz @ weight
                if need_w:  # accumulated in float32, in place: one write of the (vocab x hidden) gradient per chunk
                    if s == 0:
                        torch.mm(gz.t().float(), hidden[s:e].float(), out=grad_w)
                    else:
                        grad_w.addmm_(gz.t().float(), hidden[s:e].float())
        del z_buf, p_buf
        ctx.precomputed = (grad_h, grad_w, grad_b, hint) if precompute else None
        ctx.chunk_size = chunk_size
        ctx.vocab_chunk = vocab_chunk
        ctx.set_materialize_grads(False)  # an unused output (e.g. entropy for logging) gets None
        ctx.has_bias = bias is not None
        ctx.save_for_backward(hidden, weight, bias if bias is not None else hidden.new_empty(0), labels, lse,
                              entropy if entropy is not None else lse.new_empty(0))
        ctx.mark_non_differentiable(lse)
        if want_entropy:
            return log_probs, entropy
        return log_probs, lse.new_empty(0)

    @staticmethod
    def backward(ctx, grad_log_probs, grad_entropy):
        """With the gradients formed in the forward (``grad_hint``): those, times c, when the incoming
        gradient is c * hint (checked) and none reaches the entropy. Otherwise chunked over the
        vocabulary: each slice of rows of the weight gets its gradient from one matrix product,
        written once (chunking over tokens would add into the whole (vocab x hidden) gradient once
        per chunk)."""
        precomputed, ctx.precomputed = ctx.precomputed, None
        hidden, weight, bias, labels, lse, entropy = ctx.saved_tensors
        use_entropy_grad = grad_entropy is not None and entropy.numel() > 0
        if precomputed is not None and grad_log_probs is not None and not use_entropy_grad:
            scale = _hint_scale(grad_log_probs.float(), precomputed[3])
            if scale is not None:
                grads = [None if t is None else (t if scale == 1.0 else t.mul_(scale)) for t in precomputed[:3]]
                dtypes = (hidden.dtype, weight.dtype, bias.dtype if ctx.has_bias else None)
                grads = [None if t is None else t.to(d) for t, d in zip(grads, dtypes)]
                return (*grads, None, None, None, None, None)
        del precomputed
        bias = bias if ctx.has_bias else None
        need_h, need_w, need_b = ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        n, vocab = hidden.shape[0], weight.shape[0]
        if grad_log_probs is None:
            if not use_entropy_grad:
                return None, None, None, None, None, None, None, None
            grad_log_probs = lse.new_zeros(n)
        g = grad_log_probs.float()[:, None]
        ge = grad_entropy.float()[:, None] if use_entropy_grad else None
        h_ent = entropy[:, None] if use_entropy_grad else None
        grad_h = torch.zeros(hidden.shape, dtype=torch.float32, device=hidden.device) if need_h else None
        grad_w = torch.empty_like(weight) if need_w else None
        grad_b = torch.empty(vocab, dtype=bias.dtype, device=bias.device) if need_b else None
        cols = ctx.vocab_chunk or vocab_chunk_size(n, vocab)
        z_buf = hidden.new_empty((n, min(vocab, cols)), dtype=torch.float32)
        p_buf = torch.empty_like(z_buf) if use_entropy_grad else None
        for v0 in range(0, vocab, cols):
            v1 = min(vocab, v0 + cols)
            w_s = weight[v0:v1]
            z = _chunk_logits(hidden, w_s, bias[v0:v1] if bias is not None else None, out=z_buf[:, : v1 - v0])
            z.sub_(lse[:, None])  # log p over this slice of the vocabulary
            if use_entropy_grad:
                # dH/dz_j = -p_j (log p_j + H); d log p_label / dz_j = onehot_j - p_j
                p = torch.exp(z, out=p_buf[:, : v1 - v0])
                z.add_(h_ent).mul_(ge).add_(g)
                grad_z = p.mul_(z).neg_()
            else:
                grad_z = z.exp_().mul_(-g)
            hit = ((labels >= v0) & (labels < v1)).nonzero().squeeze(1)
            if hit.numel():
                grad_z[hit, labels[hit] - v0] += g[hit, 0]
            gz = grad_z.to(weight.dtype)
            if need_h:
                if gz.dtype == torch.float32:
                    grad_h.addmm_(gz, w_s)
                else:
                    grad_h += (gz @ w_s).float()
            if need_w:
                torch.mm(gz.t(), hidden, out=grad_w[v0:v1])  # hidden has the weight's dtype (see the caller)
            if need_b:
                grad_b[v0:v1] = grad_z.sum(0).to(grad_b.dtype)
            del gz
        if grad_h is not None:
            grad_h = grad_h.to(hidden.dtype)
        return grad_h, grad_w, grad_b, None, None, None, None, None


def vocab_chunk_size(n_tokens: int, vocab_size: int, budget_bytes: int = DEFAULT_CHUNK_BUDGET_BYTES) -> int:
    """Vocabulary rows per slice of a backward that recomputes: two (tokens x slice) float32 buffers in
    ``budget_bytes``, at least 256 rows (a matrix product narrower than that runs below speed), at most
    the vocabulary."""
    return max(1, min(vocab_size, max(256, budget_bytes // (2 * 4 * max(1, n_tokens)))))


def _hint_scale(grad: torch.Tensor, hint: torch.Tensor) -> float | None:
    """c such that ``grad`` = c * ``hint`` (to a relative 1e-6 of the largest entry), or None."""
    grad, hint = grad.double(), hint.double()
    norm = float(hint.dot(hint))
    if norm == 0.0:
        return 0.0 if not bool(grad.any()) else None
    c = float(grad.dot(hint)) / norm
    if float((grad - c * hint).abs().max()) > _HINT_RTOL * float(grad.abs().max()):
        return None
    return c


def fused_linear_log_probs(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    return_entropy: bool = False,
    chunk_size: int | None = None,
    vocab_chunk: int | None = None,
    grad_hint: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """log softmax(hidden @ weight^T + bias)[labels] and the entropy, one chunk of tokens at a time.

    hidden: (tokens, hidden_size), weight: (vocab, hidden_size), bias: (vocab,) or None, labels:
    (tokens,) int64 in [0, vocab). Returns ``(log_probs, entropy)``, each (tokens,) float32
    (entropy None unless asked). Gradients flow to hidden, weight and bias; arithmetic on logits is
    float32 whatever the input dtype. ``chunk_size``: tokens per chunk of the forward (default
    :func:`auto_chunk_size`); ``vocab_chunk``: vocabulary rows per slice of the backward (default
    :func:`vocab_chunk_size`, from the number of tokens).

    ``grad_hint``: (tokens,), the gradient backward is expected to bring to the log-probs up to one
    scalar factor, e.g. the weights ``w`` of a loss ``-sum(w * log_probs)``. With it (and a graph
    being built), the forward also forms the gradients for hidden, weight and bias while it has each
    chunk's probabilities (three matrix products in all, as with full logits, instead of four with
    a backward that recomputes the logits), keeping them until backward. Backward uses them, scaled,
    when its incoming gradient is c * ``grad_hint`` (checked to a relative 1e-6) and no gradient
    reaches the entropy; otherwise it recomputes as without the hint, so the result never depends
    on the hint being right.
    """
    if hidden.dim() != 2 or weight.dim() != 2 or hidden.shape[1] != weight.shape[1]:
        raise ValueError(f"hidden {tuple(hidden.shape)} and weight {tuple(weight.shape)} must be (N, H), (V, H)")
    if labels.shape != hidden.shape[:1]:
        raise ValueError(f"labels {tuple(labels.shape)} must be ({hidden.shape[0]},)")
    if bias is not None and bias.shape != weight.shape[:1]:
        raise ValueError(f"bias {tuple(bias.shape)} must be ({weight.shape[0]},)")
    if grad_hint is not None and grad_hint.shape != labels.shape:
        raise ValueError(f"grad_hint {tuple(grad_hint.shape)} must be ({hidden.shape[0]},)")
    if chunk_size is None:
        chunk_size = auto_chunk_size(weight.shape[0], n_tokens=hidden.shape[0])
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if hidden.shape[0] == 0:
        empty = hidden.new_zeros(0, dtype=torch.float32) + 0 * hidden.sum() + 0 * weight.sum()
        return empty, (empty if return_entropy else None)
    weight = weight.to(hidden.dtype) if weight.dtype != hidden.dtype else weight
    log_probs, entropy = _FusedLinearLogProbs.apply(
        hidden.contiguous(), weight, bias, labels.contiguous(), int(chunk_size), bool(return_entropy),
        int(vocab_chunk) if vocab_chunk else None,
        grad_hint.detach() if grad_hint is not None and torch.is_grad_enabled() else None,
    )
    return log_probs, (entropy if return_entropy else None)


def _base_decoder(model):
    base = getattr(model, "base_model", None)
    if base is None or base is model:
        return None
    return base


def fused_unsupported_reason(model) -> str | None:
    """Why the fused head cannot reproduce ``model``'s logits, or None when it can."""
    model = base_model(model)
    config = getattr(model, "config", None)
    for attr in _LOGIT_TRANSFORMS:
        value = getattr(config, attr, None)
        if value not in (None, 1, 1.0):
            return f"config.{attr}={value!r} (logit scaling/soft-capping is not implemented)"
    head = output_embedding(model)
    if not isinstance(head, nn.Linear):
        return "no output embedding (nn.Linear) reachable through get_output_embeddings()"
    if _base_decoder(model) is None:
        return "no decoder module reachable through model.base_model"
    return None


def fused_response_log_probs(
    model,
    input_ids: torch.Tensor,
    labels: torch.Tensor,
    return_token_entropy: bool = False,
    *,
    response_mask: torch.Tensor | None = None,
    attention_mask: torch.Tensor | None = None,
    chunk_size: int | None = None,
    position_ids: torch.Tensor | None = None,
    attention_kwargs: dict | None = None,
    grad_hint: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """The fused implementation behind :func:`tracesft.get_response_log_probs` (same contract).

    Runs the decoder for final hidden states (batch, seq, hidden), then the chunked head on the
    positions of ``response_mask`` (all positions when None); other positions get 0.
    """
    model = base_model(model)
    decoder = _base_decoder(model)
    head = output_embedding(model)
    kwargs = {"attention_mask": attention_mask} if attention_mask is not None else {}
    if position_ids is not None:
        kwargs["position_ids"] = position_ids
    kwargs.update(attention_kwargs or {})
    hidden = decoder(input_ids=input_ids, use_cache=False, **kwargs).last_hidden_state
    b, t, h = hidden.shape
    flat_hidden = hidden.reshape(b * t, h)
    flat_labels = labels.reshape(b * t)
    flat_hint = grad_hint.reshape(b * t) if grad_hint is not None else None
    if response_mask is not None:
        idx = response_mask.reshape(b * t).nonzero().squeeze(1)
        flat_hidden = flat_hidden.index_select(0, idx)
        flat_labels = flat_labels.index_select(0, idx)
        flat_hint = flat_hint.index_select(0, idx) if flat_hint is not None else None
    log_probs, entropy = fused_linear_log_probs(
        flat_hidden, head.weight, flat_labels, head.bias,
        return_entropy=return_token_entropy, chunk_size=chunk_size, grad_hint=flat_hint,
    )

    def unflatten(values: torch.Tensor) -> torch.Tensor:
        if response_mask is None:
            return values.reshape(b, t)
        full = values.new_zeros(b * t)
        return full.index_copy(0, idx, values).reshape(b, t)

    out = {"log_probs": unflatten(log_probs)}
    if return_token_entropy:
        out["token_entropy"] = unflatten(entropy)
    return out
