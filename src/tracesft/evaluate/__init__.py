"""Evaluation: generate (Hugging Face or vLLM), grade, log records and summaries."""

from .evaluator import EVALUATORS, Evaluator, HFEvaluator, Sampling, build_evaluator
from .hf import log_generations
from .loading import DTYPES, load_model_and_tokenizer
from .records import grade_records, summarize_records

__all__ = ["log_generations", "summarize_records", "grade_records", "load_model_and_tokenizer", "DTYPES",
           "Evaluator", "HFEvaluator", "Sampling", "EVALUATORS", "build_evaluator"]
