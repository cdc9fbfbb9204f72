"""LoRA adapters through peft: the ``lora`` config key, wrapping, adapter checkpoints, merged weights.

With ``lora: {r: 16}`` the base model is frozen and peft adds low-rank adapters to every linear
layer of attention and MLP (peft's ``"all-linear"``: the output head is left out); only adapter
parameters reach the optimizer. An adapter on a head tied to the input embedding (``lm_head`` of
SmolLM2, Qwen2 0.5B) is refused: one weight serves both, so no merged ``final/`` equals the adapted
model. Checkpoints hold the adapter (``adapter_model.safetensors``,
``adapter_config.json``: a directory peft loads) and the optimizer state; ``final/`` holds the
merged model (base weights + B A * alpha / r, loadable by anything that reads a Hugging Face
directory) and ``final/adapter/`` the adapter alone. Merged weights are computed without touching
the adapted model, so evaluation backends (vLLM) can be refreshed from them mid-run.
"""

from __future__ import annotations

import math
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import ConfigError, MissingExtraError
from .heads import shared_weight_groups
from .unwrap import base_model, is_adapted

__all__ = ["LoraSpec", "apply_lora", "adapter_state", "load_adapter_state", "merged_state_dict", "base_name",
           "save_final", "quiet_peft_warnings"]

_DEFAULT_TARGETS = "all-linear"


@dataclass(frozen=True)
class LoraSpec:
    """The ``lora`` config key: ``{r, alpha, dropout, target_modules}``."""

    r: int = 16
    alpha: float = 32.0  #: the update is scaled by alpha / r
    dropout: float = 0.0
    #: module names (or name suffixes) to adapt, or "all-linear": every linear layer but the output head
    target_modules: str | list[str] = field(default=_DEFAULT_TARGETS)

    @classmethod
    def from_config(cls, value) -> LoraSpec | None:
        """``None``/``False`` -> no LoRA; ``True`` -> defaults; a mapping -> validated spec."""
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if not isinstance(value, dict):
            raise ConfigError(f"lora: expected a mapping such as {{r: 16, alpha: 32}}, true or null, got {value!r}")
        known = {"r", "alpha", "dropout", "target_modules"}
        for key in value:
            if key not in known:
                raise ConfigError(f"lora.{key}: unknown key; lora takes {', '.join(sorted(known))}")
        spec = cls(**value)
        if isinstance(spec.r, bool) or not isinstance(spec.r, int) or spec.r < 1:
            raise ConfigError(f"lora.r: must be an integer >= 1, got {spec.r!r}")
        if isinstance(spec.alpha, bool) or not isinstance(spec.alpha, (int, float)) or not spec.alpha > 0 \
                or not math.isfinite(spec.alpha):
            raise ConfigError(f"lora.alpha: must be a finite number > 0, got {spec.alpha!r}")
        if isinstance(spec.dropout, bool) or not isinstance(spec.dropout, (int, float)) or not 0 <= spec.dropout < 1:
            raise ConfigError(f"lora.dropout: must be in [0, 1), got {spec.dropout!r}")
        targets = spec.target_modules
        if isinstance(targets, str):
            targets = targets if targets == _DEFAULT_TARGETS else [t.strip() for t in targets.split(",") if t.strip()]
        if not targets or not isinstance(targets, (str, list)) or \
                (isinstance(targets, list) and not all(isinstance(t, str) and t for t in targets)):
            raise ConfigError(f"lora.target_modules: must name modules (e.g. [q_proj, v_proj]) or be all-linear, "
                              f"got {spec.target_modules!r}")
        return cls(spec.r, float(spec.alpha), float(spec.dropout), targets)

    def to_dict(self) -> dict:
        return {"r": self.r, "alpha": self.alpha, "dropout": self.dropout, "target_modules": self.target_modules}


def _linear_names(model) -> list[str]:
    """Distinct last-name parts of the model's linear layers (what ``target_modules`` can name)."""
    names = {n.rsplit(".", 1)[-1] for n, m in model.named_modules()
             if isinstance(m, torch.nn.Linear) or type(m).__name__ == "Conv1D"}
    return sorted(names)


def apply_lora(model, spec: LoraSpec, gradient_checkpointing: bool = False):
    """The model wrapped by peft with fresh adapters; base weights frozen."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise MissingExtraError("LoRA (config key lora)", "lora") from None
    config = LoraConfig(r=spec.r, lora_alpha=spec.alpha, lora_dropout=spec.dropout,
                        target_modules=spec.target_modules, task_type="CAUSAL_LM")
    shared = {name for names in shared_weight_groups(model) for name in names}  # a tied head and its embedding
    try:
        with quiet_peft_warnings():
            adapted = get_peft_model(model, config)
    except ValueError as e:
        linear = _linear_names(model)
        raise ConfigError(f"lora.target_modules: {spec.target_modules!r} matches no layer peft can adapt in "
                          f"{type(model).__name__} (its linear layers: {', '.join(linear) or 'none'}); "
                          f"peft said: {str(e).splitlines()[0][:160]}") from None
    _refuse_tied_targets(adapted, shared)
    if gradient_checkpointing:
        # the frozen embedding's output has no grad: checkpointed blocks would see no input needing one
        model.enable_input_require_grads()
    return adapted


def _refuse_tied_targets(adapted, shared: set[str]) -> None:
    """An adapter on a tied head (or its embedding) cannot be merged: the one weight serves both."""
    from peft.tuners.lora import LoraLayer

    hit = sorted({base_name(f"{name}.base_layer.weight").removesuffix(".weight")
                  for name, module in adapted.named_modules() if isinstance(module, LoraLayer)}
                 & {n.removesuffix(".weight") for n in shared})
    if hit:
        raise ConfigError(f"lora.target_modules: {', '.join(hit)} is tied: the output head and the input embedding "
                          "share one weight in this model (tie_word_embeddings), so an adapter on it cannot be merged "
                          "into final/; leave it out (all-linear does)")


def _is_adapter_key(name: str) -> bool:
    return any(part.startswith("lora_") for part in name.split("."))


def adapter_state(model, full_state: dict) -> dict:
    """The adapter's entries of a full state dict of ``model`` (peft's names)."""
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    return {k: v for k, v in full_state.items() if k in trainable}


def load_adapter_state(model, weights: dict) -> tuple[list, list]:
    """Load a checkpoint's adapter weights (:func:`adapter_state`, as saved); (missing, unexpected)."""
    from peft import set_peft_model_state_dict

    result = set_peft_model_state_dict(model, weights)
    unexpected = list(getattr(result, "unexpected_keys", []) or [])
    missing = [k for k in getattr(result, "missing_keys", []) or [] if _is_adapter_key(k)]
    return missing, unexpected


def base_name(name: str) -> str:
    """peft's name of a base weight -> the base model's own name."""
    if name.startswith("base_model.model."):
        name = name[len("base_model.model."):]
    return name.replace(".base_layer.", ".")


@torch.no_grad()
def merged_state_dict(model, state: dict | None = None) -> dict:
    """Base-model names -> weights with each active adapter's update added (``model`` unchanged).

    ``state`` (default: ``model.state_dict()``) may be a full state dict gathered elsewhere.
    """
    from peft.tuners.lora import LoraLayer

    state = model.state_dict() if state is None else state
    deltas = {}
    for name, module in model.named_modules():
        if isinstance(module, LoraLayer):
            for adapter in module.active_adapters:
                if adapter in module.lora_A:
                    key = f"{name}.base_layer.weight"
                    delta = module.get_delta_weight(adapter)
                    deltas[key] = deltas[key] + delta if key in deltas else delta
    out = {}
    for name, tensor in state.items():
        if _is_adapter_key(name):
            continue
        if name in deltas:
            tensor = tensor + deltas[name].to(tensor.device, tensor.dtype)
        out[base_name(name)] = tensor
    return out


def save_final(model, state: dict, directory) -> None:
    """Write ``directory`` as a plain Hugging Face model holding ``state`` (for a LoRA model its merged
    weights, :func:`merged_state_dict`), and for a LoRA model the adapter alone in ``directory/adapter``."""
    base_model(model).save_pretrained(directory, state_dict=state, safe_serialization=True)
    if is_adapted(model):  # the adapter alone, beside the merged model
        _absolute_base_paths(model)
        with quiet_peft_warnings():
            model.save_pretrained(Path(directory) / "adapter")


@contextmanager
def quiet_peft_warnings():
    """Leave out transformers' deprecation warning that peft triggers on every wrap and save
    (``is_gradient_checkpointing``): the user cannot act on it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def _absolute_base_paths(model) -> None:
    """Each adapter config's base model as an absolute path when it is a local directory, so that the
    adapter loads from any working directory without a hub look-up (a hub id stays as it is)."""
    for config in model.peft_config.values():
        name = config.base_model_name_or_path
        if name and Path(name).is_dir():
            config.base_model_name_or_path = str(Path(name).resolve())
