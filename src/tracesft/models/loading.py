"""Loading a model and tokenizer from a local Hugging Face directory (or a hub id already in the
local cache): dtype and device chosen, paths checked before anything is loaded, nothing downloaded."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import UserInputError

__all__ = ["DTYPES", "load_model_and_tokenizer", "load_tokenizer", "check_device", "check_weight_files",
           "max_positions"]

#: the parameter dtypes a model can be loaded in (CLI choices and config values read this)
DTYPES = ("float32", "bfloat16", "float16")
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")  # "org/name": looked up in the local cache only


_DEVICE = re.compile(r"cpu|cuda(:\d+)?")


def check_device(device, flag: str = "device") -> str:
    """``device`` if it is cpu, cuda or cuda:N; one line otherwise (before anything is loaded)."""
    if not isinstance(device, str) or not _DEVICE.fullmatch(device):
        raise UserInputError(f"{flag}: {device!r} is not one of cpu, cuda, cuda:N")
    return device


def load_model_and_tokenizer(
    model_path: str, *, device: str = "cpu", dtype: str = "float32", trust_remote_code: bool = False,
    tokenizer_path: str | None = None,
):
    """(model, tokenizer) via ``from_pretrained``: safetensors only, remote code off unless asked.

    The tokenizer comes from ``tokenizer_path`` when given, else from ``model_path``. A path that
    does not exist is an error at once; an ``org/name`` hub id is looked up in the local Hugging Face
    cache only (nothing is downloaded at run time). A tokenizer with more tokens than the model has
    embedding rows is refused (the first out-of-range id would crash the embedding).

    A local directory must exist and hold a config; errors are raised as
    :class:`tracesft.errors.UserInputError` (a ValueError) naming the path.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype not in DTYPES:
        raise UserInputError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    check_device(device)
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise UserInputError(f"device {device}: torch {torch.__version__} sees no CUDA GPU here; use device cpu")
    from safetensors import SafetensorError

    cached = {}
    for what, path in (("model", model_path), ("tokenizer", tokenizer_path)):
        if path is None or Path(path).exists():
            continue
        if not _HUB_ID.fullmatch(str(path)):
            raise UserInputError(f"{what} directory {path} does not exist" if what == "tokenizer" else
                                 f"model directory {path} does not exist or has no config.json")
        if not _in_hub_cache(str(path), what):  # e.g. a relative path mistyped: say so, no hub look-up
            raise UserInputError(f"{what} directory {path} does not exist (nor is {path} a model in the local "
                                 "Hugging Face cache; nothing is downloaded)")
        cached = {"local_files_only": True}  # a hub id: from the local cache only, never downloaded here
    if Path(model_path).exists() and not (Path(model_path) / "config.json").is_file():
        raise UserInputError(f"model directory {model_path} does not exist or has no config.json")
    try:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_path or model_path, trust_remote_code=trust_remote_code,
                                                  **cached)
        model = AutoModelForCausalLM.from_pretrained(
            model_path, dtype=getattr(torch, dtype), use_safetensors=True, trust_remote_code=trust_remote_code, **cached
        )
    except (OSError, ValueError, KeyError, SafetensorError) as e:
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        where = model_path if tokenizer_path is None else f"{model_path} (tokenizer {tokenizer_path})"
        raise UserInputError(f"cannot load model from {where}: {first}") from None
    rows = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > rows:
        raise UserInputError(f"tokenizer {tokenizer_path or model_path} has {len(tokenizer)} tokens but the model "
                             f"{model_path} embeds only {rows}: they do not belong together")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device), tokenizer


def _in_hub_cache(repo_id: str, what: str) -> bool:
    """Whether the local Hugging Face cache holds the hub model ``repo_id`` (its config, or for a
    tokenizer one of its tokenizer files)."""
    from huggingface_hub import try_to_load_from_cache

    files = ("config.json",) if what == "model" else ("tokenizer_config.json", "tokenizer.json", "config.json")
    return any(isinstance(try_to_load_from_cache(repo_id, f), str) for f in files)


def load_tokenizer(path: str, *, trust_remote_code: bool = False):
    """The tokenizer of a local model directory (for prompts rendered before an engine loads the model)."""
    from transformers import AutoTokenizer

    if not Path(path).is_dir():
        raise UserInputError(f"model directory {path} does not exist")
    try:
        return AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code, local_files_only=True)
    except Exception as e:  # OSError, ValueError, garbage JSON, the tokenizers library's own errors
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise UserInputError(f"cannot load the tokenizer of {path}: {first}") from None


def check_weight_files(model_dir) -> None:
    """Every ``*.safetensors`` file of a local model directory has a readable header (for an engine
    that loads the weights itself, and fails on a corrupt header with a traceback after starting)."""
    from safetensors import SafetensorError, safe_open

    path = Path(model_dir)
    if not path.is_dir():
        return
    for f in sorted(path.glob("*.safetensors")):
        try:
            with safe_open(str(f), framework="pt") as st:
                st.keys()
        except (SafetensorError, OSError, OverflowError, ValueError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
            raise UserInputError(f"cannot load model from {model_dir}: {f.name}: {first}") from None


def max_positions(model_dir) -> int | None:
    """The model's position limit from its config.json (``max_position_embeddings``), or None."""
    import json

    try:
        config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = config.get("max_position_embeddings") if isinstance(config, dict) else None
    return value if isinstance(value, int) and value > 0 else None
