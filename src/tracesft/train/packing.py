"""Which attention path keeps packed examples apart, checked on the model itself before training.

A packed row holds several examples; their positions restart at 0 with each one. Three paths, the
first that passes a probe on the model is used:

- ``varlen`` (models on ``sdpa`` attention without a sliding window): attention registered with
  transformers as ``tracesft_varlen_sdpa`` runs sdpa once per example of the row (causal, no mask),
  from the row's example boundaries (``cu_seq_lens_q``, the name flash attention's varlen kernels
  use). A block-diagonal mask over the whole row makes sdpa compute every (query, key) pair of the
  row and mask most of them: on CPU, for a 4,096-token row of four examples, 1.8x the time of
  causal attention over the same row, where per-example attention does a quarter of it. Calls
  without boundaries (generation, unpacked batches) go to transformers' own sdpa, with its masks.
- ``position_ids``: transformers (>= 4.54) turns positions that restart at 0 into a block-diagonal
  causal mask for sdpa and eager attention (and varlen kernels for flash attention), when no KV
  cache is used.
- ``4d-mask``: an explicit additive (eager) or boolean (sdpa) block-diagonal causal mask, for a
  model whose code ignores position_ids there (older transformers, some remote code).

:func:`choose_packing_path` runs a two-example probe with the first example perturbed: the second
example's log-probs must not move. If no path passes, packing is refused.
"""

from __future__ import annotations

import logging

import torch

from ..errors import ConfigError

__all__ = ["choose_packing_path", "describe_path", "leaks", "VARLEN_SDPA", "varlen_kwargs"]

VARLEN_SDPA = "tracesft_varlen_sdpa"  #: the attention implementation of the varlen path (registered)


def _varlen_sdpa(module, query, key, value, attention_mask, *args, cu_seq_lens_q=None, **kwargs):
    """sdpa over each example of a packed row (query/key/value (1, heads, T, d)), causal, no mask;
    transformers' sdpa as it is when no boundaries are given."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if cu_seq_lens_q is None or query.shape[0] != 1:
        return sdpa_attention_forward(module, query, key, value, attention_mask, *args, **kwargs)
    bounds = cu_seq_lens_q.tolist()
    outs = [sdpa_attention_forward(module, query[:, :, s:e], key[:, :, s:e], value[:, :, s:e], None, *args,
                                   **kwargs)[0] for s, e in zip(bounds[:-1], bounds[1:])]
    return torch.cat(outs, dim=1), None


def _register_varlen() -> bool:
    try:
        from transformers import AttentionInterface
        from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
    except ImportError:  # transformers before 4.53
        return False
    AttentionInterface.register(VARLEN_SDPA, _varlen_sdpa)
    AttentionMaskInterface.register(VARLEN_SDPA, sdpa_mask)  # generation and padded batches: sdpa's masks
    return True


def varlen_kwargs(position_ids: torch.Tensor) -> dict:
    """The example boundaries of one packed row (positions restart at 0 with each example), as the
    ``cu_seq_lens_q/k`` and ``max_length_q/k`` keyword arguments transformers passes to attention."""
    starts = (position_ids[0] == 0).nonzero().squeeze(1)
    cu = torch.cat([starts, starts.new_tensor([position_ids.shape[-1]])]).to(torch.int32)
    longest = int((cu[1:] - cu[:-1]).max())
    return {"cu_seq_lens_q": cu, "cu_seq_lens_k": cu, "max_length_q": longest, "max_length_k": longest}

log = logging.getLogger(__name__)


def leaks(model, path: str, lengths: tuple[int, int] = (6, 9), against_alone: bool = False) -> float:
    """How far the second of two packed examples' log-probs move when the first one's tokens change
    (0 when attention stays inside each example). ``path``: ``varlen``, ``position_ids`` or ``4d-mask``
    (``none``: the row as one sequence, which leaks: what shows the probe can fail). With
    ``against_alone``: how far they are from the same example's log-probs alone (not packed), which
    also catches positions that do not restart (a model that ignores ``position_ids``)."""
    from ..logprobs import block_causal_mask, get_response_log_probs

    device = next(model.parameters()).device
    vocab = model.get_input_embeddings().weight.shape[0]
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randint(0, vocab, (n,), generator=g) for n in lengths)
    a2 = torch.randint(0, vocab, (lengths[0],), generator=g)
    positions = torch.cat([torch.arange(n - 1) for n in lengths])[None].to(device)
    dtype = next(model.parameters()).dtype
    mask = None
    if path == "4d-mask":
        mask = block_causal_mask(positions, dtype, boolean=_attn(model) == "sdpa")

    def second(first):
        ids = torch.cat([first[:-1], b[:-1]])[None].to(device)
        labels = torch.cat([first[1:], b[1:]])[None].to(device)
        extra = varlen_kwargs(positions) if path == "varlen" else None
        out = get_response_log_probs(model, ids, labels, with_grad=False, attention_mask=mask, fused=False,
                                     position_ids=positions if path != "none" else None, attention_kwargs=extra)
        return out["log_probs"][0, lengths[0] - 1:].float()

    def alone():
        out = get_response_log_probs(model, b[:-1][None].to(device), b[1:][None].to(device), with_grad=False,
                                     fused=False)
        return out["log_probs"][0].float()

    was_training = model.training
    model.eval()  # no dropout in the probe
    try:
        if against_alone:
            return float((second(a) - alone()).abs().max())
        return float((second(a) - second(a2)).abs().max())
    finally:
        model.train(was_training)


def _varlen_possible(model) -> bool:
    """sdpa attention and no sliding window in use (the varlen path runs plain causal sdpa)."""
    config = model.config
    window = getattr(config, "sliding_window", None) if getattr(config, "use_sliding_window", True) else None
    return _attn(model) == "sdpa" and not window and hasattr(model, "set_attn_implementation")


def _attn(model) -> str:
    return str(getattr(getattr(model, "config", None), "_attn_implementation", None) or "eager")


def describe_path(model, path: str) -> str:
    attn = _attn(model)
    if path == "varlen":
        return "varlen: sdpa once per example of the row, causal, no mask (attention tracesft_varlen_sdpa)"
    if path == "4d-mask":
        return f"an explicit 4D block-diagonal causal mask ({attn} attention)"
    if attn.startswith("flash") or "varlen" in attn:
        return f"position_ids -> {attn} varlen kernels (no mask tensor)"
    return f"position_ids -> transformers' block-diagonal causal mask ({attn} attention)"


ALONE_TOLERANCE = 1e-3  # packed vs alone: float32 kernels over other lengths differ by ~1e-5 on a 30-layer model;
# positions that do not restart moved a tiny GPT-2's log-probs by 0.17. In bfloat16 the kernels alone differ by
# as much (SmolLM2: 0.15), so the comparison is made on float32/float64 weights only.


def _packing_error(model, path: str) -> float:
    """The leak (a perturbed neighbour's effect), or inf when the packed example is not the example
    alone (beyond ALONE_TOLERANCE; float32/float64 weights only)."""
    leak = leaks(model, path)
    if leak > 1e-5 or next(model.parameters()).dtype not in (torch.float32, torch.float64):
        return leak
    return leak if leaks(model, path, against_alone=True) <= ALONE_TOLERANCE else float("inf")


def choose_packing_path(model) -> str:
    """``varlen``, ``position_ids`` or ``4d-mask``: the first that keeps two packed examples apart on
    ``model`` (probed), logged in one line; raises ConfigError when none does. The ``varlen`` path sets
    the model's attention implementation to :data:`VARLEN_SDPA` (kept when it passes)."""
    from ..models.unwrap import base_model

    inner = base_model(model)
    moved = {}
    if _varlen_possible(inner) and _register_varlen():
        inner.set_attn_implementation(VARLEN_SDPA)
        moved["varlen"] = _packing_error(inner, "varlen")
        if moved["varlen"] <= 1e-5:
            log.info("packing: examples kept apart by %s (checked: a perturbed neighbour moves log-probs by %.1g)",
                     describe_path(inner, "varlen"), moved["varlen"])
            return "varlen"
        inner.set_attn_implementation("sdpa")
    for path in ("position_ids", "4d-mask"):
        moved[path] = _packing_error(inner, path)
        if moved[path] <= 1e-5:
            log.info("packing: examples kept apart by %s (checked: a perturbed neighbour moves log-probs by %.1g)",
                     describe_path(inner, path), moved[path])
            return path
    raise ConfigError(f"packing: packed examples are not kept apart on this model ({_attn(inner)} attention: "
                      f"log-probs move by {moved['position_ids']:.3g} with position_ids, {moved['4d-mask']:.3g} with "
                      "a 4D mask; inf: no leak, but a packed example's log-probs are not its own alone, e.g. "
                      "positions that do not restart); set packing: false")
