"""The model inside its wrappers: DDP and ``torch.compile`` (which wrap it), and peft (which adapts it).

FSDP2's ``fully_shard`` does not wrap: it changes the module's class in place, so an FSDP2 model is
its own unwrapped model (its parameters are sharded ``DTensor``s, gathered where full weights are needed).
No import of torch or peft here: wrappers are recognised by what they have, so that the primitives can
use this module.
"""

from __future__ import annotations

__all__ = ["unwrap_parallel", "is_adapted", "base_model", "unwrap_model"]


def unwrap_parallel(module):
    """The model under DDP (``.module``) and ``torch.compile`` (``._orig_mod``) wrappers, however nested.

    A peft model is returned as it is (its adapters are part of the model being trained).
    """
    while True:
        inner = getattr(module, "module", None)
        if inner is None:  # not ``or``: a compiled module's truth value asks the model for its len()
            inner = getattr(module, "_orig_mod", None)
        if inner is None or inner is module:
            return module
        module = inner


def is_adapted(model) -> bool:
    """Whether ``model`` is a peft model (by capability: it has a ``peft_config``)."""
    return hasattr(model, "peft_config") and hasattr(model, "get_base_model")


def base_model(model):
    """A peft model's inner transformers model (its layers carry the adapters); others unchanged."""
    return model.get_base_model() if is_adapted(model) else model


def unwrap_model(model):
    """The transformers model under every wrapper: DDP, ``torch.compile``, then peft."""
    return base_model(unwrap_parallel(model))
