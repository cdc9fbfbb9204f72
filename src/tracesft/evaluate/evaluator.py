"""The evaluation seam: one ``Evaluator`` protocol (generate -> grade -> records + summary).

``tracesft eval`` and the training loop both call ``evaluator.evaluate(policy, prompts,
ground_truths)``. A backend is one class here plus one entry in :data:`EVALUATORS`; the CLI's
``--backend`` choices and the training config's ``eval_backend`` values are read from it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

from ..errors import UserInputError

__all__ = ["Sampling", "Evaluator", "HFEvaluator", "EVALUATORS", "build_evaluator"]


@dataclass(frozen=True)
class Sampling:
    """How responses are generated: greedy at ``temperature == 0``, else sampled with ``top_p``."""

    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ("</answer>",)
    stop_token_ids: tuple[int, ...] = ()  #: besides EOS: a chat template's end-of-turn token
    seed: int = 0
    batch_size: int = 8  #: prompts per generate call (HF); vLLM schedules its own batches
    samples: int = 1  #: responses per prompt, drawn in the same generate call (> 1 needs temperature > 0)
    pass_k: tuple[int, ...] = ()  #: the k of pass@k besides 1 and ``samples``


class Evaluator(Protocol):
    def evaluate(self, policy, prompts: Sequence[str], ground_truths: Sequence) -> dict:
        """Generate for ``prompts`` with ``policy``'s current weights, grade against ``ground_truths``.

        ``policy`` is the model being trained (None: the weights the evaluator was built with).
        Returns ``{"records": [...], "summary": {...}}`` as :func:`tracesft.evaluate.log_generations`.
        """

    def close(self) -> None:
        """Release what the evaluator holds (an engine, a GPU)."""


class HFEvaluator:
    """Generates with Hugging Face ``generate`` on the policy itself (no copy of the weights)."""

    def __init__(self, model, tokenizer, reward_fn: Callable, sampling: Sampling, *, progress: bool | None = None,
                 grading_workers: int | None = None) -> None:
        self.model, self.tokenizer, self.reward_fn, self.sampling = model, tokenizer, reward_fn, sampling
        self.progress, self.grading_workers = progress, grading_workers

    @classmethod
    def build(cls, *, model_path: str, model, tokenizer, reward_fn: Callable, sampling: Sampling, device: str,
              progress: bool | None = None) -> HFEvaluator:
        return cls(model, tokenizer, reward_fn, sampling, progress=progress)  # generates on the policy's device

    def evaluate(self, policy, prompts: Sequence[str], ground_truths: Sequence) -> dict:
        from .hf import log_generations

        s = self.sampling
        return log_generations(policy if policy is not None else self.model, self.tokenizer, prompts, ground_truths,
                               self.reward_fn, max_new_tokens=s.max_new_tokens, temperature=s.temperature,
                               top_p=s.top_p, batch_size=s.batch_size, stop=s.stop, seed=s.seed,
                               progress=self.progress, grading_workers=self.grading_workers,
                               stop_token_ids=s.stop_token_ids, samples=s.samples, pass_k=s.pass_k)

    def close(self) -> None:
        pass


# name -> "module:class"; each class has ``build(model_path=, model=, tokenizer=, reward_fn=, sampling=,
# device=, progress=, **options)`` (options: the backend's own settings, such as vLLM's device).
# Classes are imported on use, so an optional backend costs nothing until chosen.
EVALUATORS: dict[str, str] = {
    "hf": "tracesft.evaluate.evaluator:HFEvaluator",
    "vllm": "tracesft.evaluate.vllm:VLLMEvaluator",
}


def build_evaluator(backend: str, *, model_path: str, model, tokenizer, reward_fn: Callable, sampling: Sampling,
                    device: str = "cpu", progress: bool | None = None, options: dict | None = None) -> Evaluator:
    """The evaluator registered as ``backend``.

    ``model``/``tokenizer`` are the loaded policy (HF generates with it); ``model_path`` is where
    its starting weights are on disk (an engine such as vLLM loads from there, then receives the
    policy's weights before each evaluation). ``options`` go to the backend's ``build`` (for vllm:
    ``vllm_device``, ``gpu_memory_utilization``).
    """
    if backend not in EVALUATORS:
        raise UserInputError(f"unknown evaluation backend {backend!r}: not one of {', '.join(EVALUATORS)}")
    module, _, name = EVALUATORS[backend].partition(":")
    cls = getattr(importlib.import_module(module), name)
    return cls.build(model_path=model_path, model=model, tokenizer=tokenizer, reward_fn=reward_fn, sampling=sampling,
                     device=device, progress=progress, **(options or {}))
