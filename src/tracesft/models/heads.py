"""The output head, and whether it is tied to the input embedding.

A tied head (``config.tie_word_embeddings``, e.g. SmolLM2, Qwen2 0.5B) shares its weight with the
input embedding: checkpoints save that tensor once, under the embedding's name (as transformers
does), and an inference engine is not sent it (the engine ties it itself).
"""

from __future__ import annotations

__all__ = ["output_embedding", "ties_word_embeddings", "shared_weight_groups", "tied_parameter_names", "without_tied"]


def output_embedding(model):
    """The head that maps hidden states to logits (``get_output_embeddings()``), or None when the model has none."""
    get_head = getattr(model, "get_output_embeddings", None)
    return get_head() if callable(get_head) else None


def ties_word_embeddings(model) -> bool:
    """Whether the model's config ties the output head to the input embedding."""
    return bool(getattr(getattr(model, "config", None), "tie_word_embeddings", False))


def shared_weight_groups(model) -> list[list[str]]:
    """State-dict names grouped by the storage they share (same data and shape), in state-dict
    order; only groups of two or more (a tied head and its embedding)."""
    groups: dict = {}
    for name, t in model.state_dict(keep_vars=True).items():
        groups.setdefault((t.data_ptr(), tuple(t.shape)), []).append(name)
    return [names for names in groups.values() if len(names) > 1]


def tied_parameter_names(model) -> set[str]:
    """State-dict names that share storage with an earlier name (e.g. a tied lm_head)."""
    return {name for names in shared_weight_groups(model) for name in names[1:]}


def without_tied(state: dict, tied: set[str]) -> dict:
    """``state`` with the tied copies (:func:`tied_parameter_names`) left out, as transformers saves it."""
    return {k: v for k, v in state.items() if k not in tied}
