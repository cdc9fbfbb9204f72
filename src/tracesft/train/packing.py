"""Which attention path keeps packed examples apart, checked on the model itself before training.

A packed row holds several examples; their positions restart at 0 with each one. transformers
(>= 4.54) turns such ``position_ids`` into a block-diagonal causal mask for sdpa and eager attention
(and varlen kernels for flash attention), when no KV cache is used. A model whose code ignores them
(older transformers, some remote code) would let an example attend to the ones before it in its
row. :func:`choose_packing_path` runs a two-example probe with the first example perturbed: the
second example's log-probs must not move. The ``position_ids`` path is used when it passes, else an
explicit 4D block-diagonal mask when that passes; else packing is refused.
"""

from __future__ import annotations

import logging

import torch

from ..errors import ConfigError

__all__ = ["choose_packing_path", "describe_path", "leaks"]

log = logging.getLogger(__name__)


def leaks(model, path: str, lengths: tuple[int, int] = (6, 9)) -> float:
    """How far the second of two packed examples' log-probs move when the first one's tokens change
    (0 when attention stays inside each example). ``path``: ``position_ids`` or ``4d-mask``."""
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
        out = get_response_log_probs(model, ids, labels, with_grad=False, position_ids=positions, attention_mask=mask,
                                     fused=False)
        return out["log_probs"][0, lengths[0] - 1:].float()

    was_training = model.training
    model.eval()  # no dropout in the probe
    try:
        return float((second(a) - second(a2)).abs().max())
    finally:
        model.train(was_training)


def _attn(model) -> str:
    return str(getattr(getattr(model, "config", None), "_attn_implementation", None) or "eager")


def describe_path(model, path: str) -> str:
    attn = _attn(model)
    if path == "4d-mask":
        return f"an explicit 4D block-diagonal causal mask ({attn} attention)"
    if attn.startswith("flash") or "varlen" in attn:
        return f"position_ids -> {attn} varlen kernels (no mask tensor)"
    return f"position_ids -> transformers' block-diagonal causal mask ({attn} attention)"


def choose_packing_path(model) -> str:
    """``position_ids`` or ``4d-mask``, whichever keeps two packed examples apart on ``model`` (probed),
    logged in one line; raises ConfigError when neither does."""
    from ..models.unwrap import base_model

    inner = base_model(model)
    moved = {}
    for path in ("position_ids", "4d-mask"):
        moved[path] = leaks(inner, path)
        if moved[path] <= 1e-5:
            log.info("packing: examples kept apart by %s (checked: a perturbed neighbour moves log-probs by %.1g)",
                     describe_path(inner, path), moved[path])
            return path
    raise ConfigError(f"packing: attention leaks across packed examples on this model ({_attn(inner)} attention: "
                      f"log-probs move by {moved['position_ids']:.3g} with position_ids, {moved['4d-mask']:.3g} with "
                      "a 4D mask); set packing: false")
