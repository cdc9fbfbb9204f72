"""Optimizers, chosen by name, over parameter groups: no weight decay on biases and norm weights."""

from __future__ import annotations

__all__ = ["OPTIMIZERS", "build_optimizer", "parameter_groups"]


def parameter_groups(model, weight_decay: float) -> list[dict]:
    """Two groups: matrices (embeddings, projections) decay; 1-D tensors (biases, norm weights) do not."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def _adamw(groups, *, lr: float, betas: tuple[float, float], weight_decay: float):
    import torch

    return torch.optim.AdamW(groups, lr=lr, betas=betas, weight_decay=weight_decay)


def _sgd(groups, *, lr: float, betas: tuple[float, float], weight_decay: float):
    import torch

    return torch.optim.SGD(groups, lr=lr, momentum=betas[0], weight_decay=weight_decay)


#: name -> builder(parameter groups, lr=, betas=, weight_decay=); the config's ``optimizer`` choices.
OPTIMIZERS = {"adamw": _adamw, "sgd": _sgd}


def build_optimizer(model, name: str, *, lr: float, betas: tuple[float, float], weight_decay: float):
    return OPTIMIZERS[name](parameter_groups(model, weight_decay), lr=lr, betas=betas, weight_decay=weight_decay)
