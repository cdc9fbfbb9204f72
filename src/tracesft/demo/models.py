"""Tiny randomly initialised Qwen2-architecture models, built from a config (no downloads)."""

from __future__ import annotations

import torch


def tiny_qwen2(
    vocab_size: int = 128,
    *,
    hidden_size: int = 32,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 4,
    num_key_value_heads: int = 2,
    intermediate_size: int | None = None,
    tie_word_embeddings: bool = True,
    max_position_embeddings: int = 512,
    seed: int = 0,
    **config_overrides,
):
    """A ``Qwen2ForCausalLM`` with random weights (seeded), float32, in train mode.

    Shapes are tiny by default so that tests run in milliseconds; pass the real Qwen2.5 vocabulary
    size (151,936) for benchmarks.
    """
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size or 2 * hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        num_key_value_heads=num_key_value_heads,
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=tie_word_embeddings,
        **config_overrides,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    model.train()
    return model
