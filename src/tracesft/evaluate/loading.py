"""Loading a model and tokenizer from a local Hugging Face directory (or hub id) safely."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserInputError

__all__ = ["DTYPES", "load_model_and_tokenizer"]

#: the parameter dtypes a model can be loaded in (CLI choices and config values read this)
DTYPES = ("float32", "bfloat16", "float16")


def load_model_and_tokenizer(
    model_path: str, *, device: str = "cpu", dtype: str = "float32", trust_remote_code: bool = False,
    tokenizer_path: str | None = None,
):
    """(model, tokenizer) via ``from_pretrained``: safetensors only, remote code off unless asked.

    The tokenizer comes from ``tokenizer_path`` when given, else from ``model_path``.

    A local directory must exist and hold a config; errors are raised as
    :class:`tracesft.errors.UserInputError` (a ValueError) naming the path.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype not in DTYPES:
        raise UserInputError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    p = Path(model_path)
    looks_local = p.exists() or model_path.startswith((".", "/", "~")) or model_path.count("/") > 1
    if looks_local and not (p / "config.json").is_file():
        raise UserInputError(f"model directory {model_path} does not exist or has no config.json")
    try:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_path or model_path, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(
            model_path, dtype=getattr(torch, dtype), use_safetensors=True, trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError, KeyError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        where = model_path if tokenizer_path is None else f"{model_path} (tokenizer {tokenizer_path})"
        raise UserInputError(f"cannot load model from {where}: {first}") from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device), tokenizer
