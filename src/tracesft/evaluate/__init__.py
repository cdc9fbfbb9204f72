"""Evaluation: generate (Hugging Face or vLLM), grade, log records and summaries.

Names resolve lazily, so that reading a registry (``EVALUATORS``, ``DTYPES``) does not import torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "log_generations": "hf",
    "summarize_records": "records",
    "grade_records": "records",
    "load_model_and_tokenizer": "loading",
    "DTYPES": "loading",
    "Evaluator": "evaluator",
    "HFEvaluator": "evaluator",
    "Sampling": "evaluator",
    "EVALUATORS": "evaluator",
    "build_evaluator": "evaluator",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tracesft.evaluate' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
