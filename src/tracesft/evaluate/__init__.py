"""Evaluation: generate (Hugging Face or vLLM), grade, log records and summaries."""

from .hf import log_generations, summarize_records
from .loading import load_model_and_tokenizer

__all__ = ["log_generations", "summarize_records", "load_model_and_tokenizer"]
