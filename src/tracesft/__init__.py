"""tracesft: supervised fine-tuning of causal language models on reasoning traces.

The public API is re-exported here. Names are resolved lazily, so that ``tracesft.grading`` and
``tracesft.data`` (which need no torch) load without importing torch.
"""

from __future__ import annotations

from ._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "tokenize_prompt_and_output": "tokenization",
    "qwen2_tokenizer": "tokenization",
    "compute_entropy": "logprobs",
    "get_response_log_probs": "logprobs",
    "masked_normalize": "losses",
    "masked_mean": "losses",
    "sft_microbatch_train_step": "losses",
    "token_normalize_constant": "losses",
    "sft_loss": "losses",
    "kl_penalty": "losses",
    "r1_zero_reward_fn": "grading",
    "free_form_reward_fn": "grading",
    "grade_many": "grading",
    "pass_at_k": "evaluate.metrics",
    "majority_vote": "evaluate.metrics",
    "load_examples": "data",
    "filter_correct": "data",
    "Example": "data",
    "DataError": "errors",
}

__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
