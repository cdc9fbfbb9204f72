"""vLLM backend (optional extra ``tracesft[vllm]``; needs a CUDA GPU).

- :func:`init_vllm` puts a vLLM engine on its own GPU.
- :func:`load_policy_into_vllm_instance` copies the training model's current weights into the engine
  without going through disk.
- :func:`log_generations_vllm` has the same records and summary as
  :func:`tracesft.evaluate.log_generations`. Entropy is an approximation: vLLM returns only the
  top-k log-probs of each step, so the entropy is computed over those k entries renormalised
  (a lower bound on the true entropy when the tail is non-negligible).
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

from .hf import grade_records

__all__ = ["init_vllm", "load_policy_into_vllm_instance", "log_generations_vllm", "vllm_unavailable_reason"]

ENTROPY_TOP_K = 20


def vllm_unavailable_reason() -> str | None:
    """Why the vLLM backend cannot run here, or None."""
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return "the vLLM backend needs a CUDA GPU and none is visible"
    try:
        import vllm  # noqa: F401
    except ImportError:
        return "vLLM is not installed: pip install 'tracesft[vllm]'"
    return None


def _require():
    reason = vllm_unavailable_reason()
    if reason is not None:
        raise RuntimeError(reason)


def init_vllm(model_id: str, device: str = "cuda:0", seed: int = 0, gpu_memory_utilization: float = 0.85):
    """A ``vllm.LLM`` for ``model_id`` on ``device`` (its own GPU, apart from the training one)."""
    _require()
    import os

    import torch
    from vllm import LLM

    index = torch.device(device).index
    if index is not None:
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", str(index))
    return LLM(model=model_id, dtype=torch.bfloat16, seed=seed, enable_prefix_caching=True,
               gpu_memory_utilization=gpu_memory_utilization)


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
