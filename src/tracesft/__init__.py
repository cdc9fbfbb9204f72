"""tracesft: supervised fine-tuning of causal language models on reasoning traces."""

from .logprobs import compute_entropy, get_response_log_probs
from .losses import (
    kl_penalty,
    masked_mean,
    masked_normalize,
    sft_loss,
    sft_microbatch_train_step,
    token_normalize_constant,
)
from .tokenization import qwen2_tokenizer, tokenize_prompt_and_output

__version__ = "0.1.0"

__all__ = [
    "compute_entropy",
    "get_response_log_probs",
    "kl_penalty",
    "masked_mean",
    "masked_normalize",
    "qwen2_tokenizer",
    "sft_loss",
    "sft_microbatch_train_step",
    "token_normalize_constant",
    "tokenize_prompt_and_output",
]
