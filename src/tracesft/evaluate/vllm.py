"""vLLM backend (optional extra ``tracesft[vllm]``; needs a CUDA GPU).

- :func:`init_vllm` starts a vLLM engine for a model directory.
- :func:`load_policy_into_vllm_instance` copies the training model's current weights into the engine
  without going through disk.
- :func:`log_generations_vllm` has the same records and summary as
  :func:`tracesft.evaluate.log_generations`. Entropy is an approximation: vLLM returns only the
  top-k log-probs of each step, so the entropy is computed over those k entries renormalised
  (a lower bound on the true entropy when the tail is non-negligible).
- :class:`VLLMEvaluator` is the :class:`tracesft.evaluate.Evaluator` over these.

Which GPU the engine uses: ``init_vllm(..., device=...)`` where vLLM takes a device argument, else
the process's ``CUDA_VISIBLE_DEVICES`` (this module never changes the environment, which would do
nothing once CUDA is initialised).
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

from ..errors import BackendUnavailableError, MissingExtraError
from .records import grade_records

__all__ = ["init_vllm", "load_policy_into_vllm_instance", "log_generations_vllm", "vllm_unavailable_reason",
           "VLLMEvaluator"]

ENTROPY_TOP_K = 20


def vllm_unavailable_reason() -> str | None:
    """Why the vLLM backend cannot run here, or None."""
    import torch

    if not torch.cuda.is_available():
        return "the vLLM backend needs a CUDA GPU and none is visible"
    try:
        import vllm  # noqa: F401
    except ImportError:
        return "vLLM is not installed: pip install 'tracesft[vllm]'"
    return None


def _require():
    import torch

    if not torch.cuda.is_available():
        raise BackendUnavailableError("the vLLM backend needs a CUDA GPU and none is visible")
    try:
        import vllm  # noqa: F401
    except ImportError:
        raise MissingExtraError("the vLLM backend", "vllm") from None


def init_vllm(model_id: str, device: str | None = None, seed: int = 0, gpu_memory_utilization: float = 0.85):
    """A ``vllm.LLM`` for ``model_id`` (bfloat16, prefix caching).

    Without ``device`` the engine uses the GPUs the process sees (``CUDA_VISIBLE_DEVICES``). With
    it, the device is passed to vLLM when the installed version's engine arguments take one
    (chosen by capability, not by version string); otherwise the call says so instead of silently
    placing the engine elsewhere.
    """
    _require()
    import dataclasses

    import torch
    from vllm import LLM

    kwargs = {}
    if device is not None:
        from vllm.engine.arg_utils import EngineArgs

        if "device" not in {f.name for f in dataclasses.fields(EngineArgs)}:
            raise BackendUnavailableError(f"this vLLM cannot be told to use {device}: start the process with "
                                          "CUDA_VISIBLE_DEVICES naming the engine's GPU instead")
        kwargs["device"] = device
    return LLM(model=model_id, dtype=torch.bfloat16, seed=seed, enable_prefix_caching=True,
               gpu_memory_utilization=gpu_memory_utilization, **kwargs)


def load_policy_into_vllm_instance(policy, llm) -> None:
    """Copy ``policy``'s current state dict into the engine's model in place."""
    _require()
    state = policy.state_dict()
    if hasattr(llm, "apply_model"):  # vLLM >= 0.8 (V1 engine)
        llm.apply_model(lambda model: model.load_weights(state.items()))
        return
    model = llm.llm_engine.model_executor.driver_worker.model_runner.model
    model.load_weights(state.items())


def _entropy_from_top_logprobs(step: dict) -> float:
    import math

    lps = [lp.logprob if hasattr(lp, "logprob") else float(lp) for lp in step.values()]
    m = max(lps)
    z = sum(math.exp(x - m) for x in lps)
    ps = [math.exp(x - m) / z for x in lps]
    return -sum(p * math.log(p) for p in ps if p > 0)


def log_generations_vllm(
    llm,
    prompts: Sequence[str],
    ground_truths: Sequence,
    reward_fn: Callable,
    *,
    max_new_tokens: int,
    temperature: float = 0.0,
    top_p: float = 1.0,
    stop: Sequence[str] = ("</answer>",),
    seed: int = 0,
    grading_workers: int | None = None,
) -> dict:
    """Same contract as :func:`tracesft.evaluate.log_generations`, generating with vLLM."""
    _require()
    from vllm import SamplingParams

    if len(prompts) != len(ground_truths):
        raise ValueError(f"prompts and ground_truths differ in length: {len(prompts)} vs {len(ground_truths)}")
    params = SamplingParams(temperature=temperature, top_p=top_p, max_tokens=max_new_tokens, stop=list(stop),
                            include_stop_str_in_output=True, logprobs=ENTROPY_TOP_K, seed=seed)
    t0 = time.perf_counter()
    outputs = llm.generate(list(prompts), params)
    seconds = time.perf_counter() - t0
    records, tokens = [], 0
    for prompt, truth, out in zip(prompts, ground_truths, outputs):
        comp = out.outputs[0]
        n = len(comp.token_ids)
        tokens += n
        ents = [_entropy_from_top_logprobs(step) for step in (comp.logprobs or [])]
        records.append({"prompt": prompt, "response": comp.text, "ground_truth": truth, "response_length": n,
                        "mean_token_entropy": sum(ents) / len(ents) if ents else 0.0})
    return grade_records(records, reward_fn, tokens, seconds, grading_workers)


class VLLMEvaluator:
    """Evaluates on a vLLM engine; before each evaluation the policy's weights are copied into it."""

    def __init__(self, llm, reward_fn: Callable, sampling) -> None:
        self.llm, self.reward_fn, self.sampling = llm, reward_fn, sampling

    @classmethod
    def build(cls, *, model_path: str, model, tokenizer, reward_fn: Callable, sampling, device: str,
              progress: bool | None = None) -> VLLMEvaluator:
        return cls(init_vllm(model_path, seed=sampling.seed), reward_fn, sampling)

    def evaluate(self, policy, prompts: Sequence[str], ground_truths: Sequence) -> dict:
        if policy is not None:
            load_policy_into_vllm_instance(policy, self.llm)
        s = self.sampling
        return log_generations_vllm(self.llm, prompts, ground_truths, self.reward_fn, max_new_tokens=s.max_new_tokens,
                                    temperature=s.temperature, top_p=s.top_p, stop=s.stop, seed=s.seed)

    def close(self) -> None:
        self.llm = None
