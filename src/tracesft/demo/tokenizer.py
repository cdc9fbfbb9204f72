"""A small byte-level BPE tokenizer trained on the task's own text (no downloads)."""

from __future__ import annotations

from typing import Iterable

SPECIALS = ["<|endoftext|>", "<|pad|>"]


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int = 512):
    """A ``PreTrainedTokenizerFast`` (byte-level BPE, single-digit tokens, exact round trip) trained on texts.

    ``<|endoftext|>`` is EOS (id 0) and ``<|pad|>`` the pad token (id 1); no BOS is added.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # Digits are single tokens (as in Qwen2), which arithmetic needs.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=SPECIALS[0], pad_token=SPECIALS[1], clean_up_tokenization_spaces=False
    )
