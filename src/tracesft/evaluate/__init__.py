"""Evaluation: generate (Hugging Face or vLLM), grade, log records and summaries.

Names resolve lazily, so that reading a registry (``EVALUATORS``, ``DTYPES``) does not import torch.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "log_generations": "hf",
    "summarize_records": "records",
    "grade_records": "records",
    "pass_at_k": "metrics",
    "majority_vote": "metrics",
    "multi_sample_metrics": "metrics",
    "load_model_and_tokenizer": ".models.loading",  # tracesft.models.loading, re-exported here
    "DTYPES": ".models.loading",
    "Evaluator": "evaluator",
    "HFEvaluator": "evaluator",
    "Sampling": "evaluator",
    "EVALUATORS": "evaluator",
    "build_evaluator": "evaluator",
}
__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
