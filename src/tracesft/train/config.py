"""The ``tracesft train`` configuration: one dataclass, loaded from YAML, overridable, validated."""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from dataclasses import dataclass, fields
from pathlib import Path

from ..data.chat import HISTORY_THINKING, LOSS_ON
from ..data.mixture import parse_eval_sources, parse_sources
from ..errors import ConfigError
from ..evaluate.evaluator import EVALUATORS
from ..grading.registry import REWARDS
from ..models.loading import DTYPES
from ..outputs import write_text_atomic
from .metrics import LOG_BACKENDS
from .normalization import NORMALIZATIONS
from .optim import OPTIMIZERS
from .schedule import SCHEDULES

__all__ = ["TrainConfig", "load_config", "config_from_values", "read_config_file", "apply_overrides", "save_config",
           "ConfigError", "CHOICES"]

MAX_SEED = 2**63 - 1  #: torch seeds are 64-bit integers

# Allowed values, read from each choice's own registry. Training in float16 would need loss scaling.
CHOICES = {
    "dtype": tuple(d for d in DTYPES if d != "float16"),
    "precision": ("fp32", "bf16-mixed", "bf16-pure"),
    "loss_normalization": tuple(NORMALIZATIONS),
    "lr_schedule": SCHEDULES,
    "optimizer": tuple(OPTIMIZERS),
    "reward": ("auto", *REWARDS),
    "eval_backend": tuple(EVALUATORS),
    "log": LOG_BACKENDS,
    "parallel": ("ddp", "fsdp"),
    "add_eos": ("auto", "true", "false"),
    "loss_on": LOSS_ON,
    "history_thinking": HISTORY_THINKING,
    "overlength": ("auto", "drop", "truncate", "error"),
}


@dataclass
class TrainConfig:
    """Every option of ``tracesft train`` (YAML keys; ``--set key=value`` overrides)."""

    # model and data
    model: str = ""  #: local Hugging Face directory (safetensors) or hub id
    tokenizer: str | None = None  #: defaults to ``model``
    trust_remote_code: bool = False  #: allow the model's own Python code
    #: JSONL, Parquet or datasets directory of examples with responses; or a mixture: a list of sources
    #: {path, fraction | weight, split, template} (docs/data.md, Mixtures)
    train_data: str | list = ""
    train_split: str | None = None  #: the split of a datasets directory with several (one train_data path)
    #: JSONL, Parquet or datasets directory with ground truths, held out; or a list of them ({path, split}),
    #: each evaluated on its first eval_n examples, with metrics per source (by_source)
    eval_data: str | list | None = None
    eval_split: str | None = None  #: the split of eval_data when it has several
    #: auto (from the responses: R1-Zero tags -> r1_zero, else question_only), r1_zero, question_only,
    #: chat (the tokenizer's chat template), or a template file
    template: str = "auto"
    system_prompt: str | None = None  #: template chat: the system message of examples that have none
    #: template chat: which assistant turns are trained: final (the last assistant message) | assistant
    #: (every assistant message; user, system and tool messages never)
    loss_on: str = "final"
    #: template chat: earlier assistant turns' thinking in the history each trained turn sees: strip (as
    #: inference sends history without it; a turn after thinking turns trains on a sequence of its own) | keep
    history_thinking: str = "strip"
    #: template chat: train the think block of a trained turn (false: the answer after </think> only, the
    #: think block kept as context)
    think_loss: bool = True
    reward: str = "auto"  #: grader for filtering and evaluation (auto: the one that fits the template and data)
    filter_correct: bool = False  #: keep only traces whose answer is right before training
    #: chat records without a ground-truth field (info.reference_answer, ground_truth, answer) take the
    #: last \boxed{} of their final assistant turn (a reference solution's answer) as ground truth
    truth_from_boxed: bool = False
    #: rewrite free-form responses as '<solution> </think> <answer> ANSWER </answer>' when loading
    #: (what tracesft filter --to-r1-zero writes); template and reward auto then mean r1_zero
    to_r1_zero: bool = False
    subset: int | None = None  #: train on a seeded random sample of N examples (null or "full": all)
    test_size: float = 0.0  #: without eval_data: hold out this fraction (< 1) or count (>= 1) of train_data
    max_length: int = 1024  #: prompt+response tokens; longer examples follow overlength (counted)
    #: an example over max_length: drop | truncate (cut from the right, kept) | error | auto (drop when the
    #: template or the responses hold an answer block or </think>, which a cut would lose; else truncate)
    overlength: str = "auto"
    #: append the tokenizer's EOS to each response, trained in the loss, so the model learns to stop:
    #: auto (every text template, r1_zero included; not chat, whose end-of-turn token already ends the
    #: response) | true (also chat) | false
    add_eos: str = "auto"
    group_by_length: bool = True  #: sort within shuffled buckets to cut padding
    #: pack whole examples (best-fit decreasing) into one row per micro-batch of at most
    #: max_tokens_per_micro_batch tokens, attention kept inside each example; micro_batch_size is unused
    packing: bool = False
    #: packing: tokens per micro-batch (null: micro_batch_size x max_length); at least max_length
    max_tokens_per_micro_batch: int | None = None
    # hardware
    device: str = "cpu"  #: cpu | cuda | cuda:N (under torchrun, cuda puts rank r on cuda:r)
    dtype: str = "float32"  #: float32 | bfloat16 (bfloat16 alone means precision bf16-pure)
    #: fp32 | bf16-mixed (float32 weights and AdamW state, forward/backward under bf16 autocast) |
    #: bf16-pure (bf16 weights and optimizer state: updates below bf16's resolution round away)
    precision: str = "fp32"
    gradient_checkpointing: bool = False  #: recompute activations in backward: less memory, more time
    #: LoRA adapters (peft): {r, alpha, dropout, target_modules}; true = defaults (r 16, alpha 32, all-linear)
    lora: dict | None = None
    fused_logprobs: bool = True  #: chunked output head (no full-vocabulary logits)
    parallel: str = "ddp"  #: under torchrun: ddp (replicated) | fsdp (FSDP2 fully_shard)
    #: CPU threads for torch and the tokenizers (null: OMP_NUM_THREADS if set, in one process; else the cores
    #: this process may use, shared among the ranks on this machine); fewer than the cores when other
    #: processes are busy (see docs/performance.md)
    threads: int | None = None
    # optimisation
    optimizer: str = "adamw"  #: adamw | sgd (momentum = adam_beta1); no weight decay on biases and norms
    micro_batch_size: int = 4  #: sequences per forward/backward (per rank)
    gradient_accumulation_steps: int = 1  #: micro-batches per optimizer step (per rank)
    loss_normalization: str = "token"  #: sum (reference) | token (exact token mean) | sample
    normalize_constant: float = 1.0  #: divisor of per-sequence sums when loss_normalization=sum
    lr: float = 1e-4  #: peak learning rate
    weight_decay: float = 0.0  #: decoupled weight decay (not applied to biases and norm weights)
    adam_beta1: float = 0.9  #: AdamW beta1 (SGD: momentum)
    adam_beta2: float = 0.999  #: AdamW beta2
    max_grad_norm: float = 1.0  #: 0 disables clipping
    lr_schedule: str = "cosine"  #: constant | linear | cosine, after linear warmup
    warmup_steps: int = 0  #: optimizer steps of linear warmup from 0
    min_lr_ratio: float = 0.0  #: final lr / lr for linear and cosine
    epochs: int = 1  #: passes over the training examples (unless max_steps is set)
    max_steps: int | None = None  #: optimizer steps; overrides epochs when set
    seed: int = 0  #: torch RNG (dropout, LoRA init), data order, subset, held-out split, sampling
    # evaluation
    eval_backend: str = "hf"  #: hf (generate on the policy) | vllm (engine refreshed from the policy)
    vllm_device: str | None = None  #: eval_backend vllm: cpu | cuda:N (default: what the vLLM build runs on)
    #: eval_backend vllm: the engine's memory share (default: cuda 0.85; cpu a fixed 1 GiB KV cache)
    vllm_gpu_memory_utilization: float | None = None
    eval_every: int = 0  #: optimizer steps between evaluations (0: only at the end)
    eval_n: int = 64  #: held-out examples per evaluation
    eval_batch_size: int = 16  #: prompts generated at a time
    eval_max_new_tokens: int = 128  #: generation length cap per response
    eval_temperature: float = 0.0  #: 0: greedy
    eval_top_p: float = 1.0  #: nucleus sampling when eval_temperature > 0, in (0, 1]
    eval_samples: int = 1  #: responses per prompt (> 1 needs eval_temperature > 0): avg@K, pass@k, maj@K
    eval_pass_k: list[int] | None = None  #: the k of pass@k, each <= eval_samples (default: 1 and eval_samples)
    #: keep the best evaluated model as best/: null | accuracy | avg@K | pass@k (k of eval_pass_k) | maj@K
    keep_best: str | None = None
    #: stop after N evaluations without improvement of keep_best's metric (accuracy if unset); null: never
    early_stop_patience: int | None = None
    eval_kl: bool = False  #: also report mean k3 KL(policy || starting model) on eval responses
    eval_before: bool = True  #: also evaluate the starting model at step 0 (the baseline)
    # output
    output_dir: str = "runs/train"  #: the run directory (config, metrics, checkpoints, final/, plots)
    checkpoint_every: int = 0  #: optimizer steps between checkpoints (0: none until the end)
    keep_last: int = 2  #: checkpoints kept (older ones are deleted)
    log: str = "none"  #: none | tensorboard | wandb (optional extras)
    plots: bool = True  #: write PNG plots of metrics.jsonl at the end (extra plots)
    progress: bool = True  #: show progress: a bar on a terminal, else a log line every tenth of the run

    def validate(self, require: bool = True) -> TrainConfig:
        """Check every key (raises ConfigError naming it); ``require=False`` lets ``model``,
        ``train_data`` and ``output_dir`` stay empty (``--print-config`` of a partial config)."""
        for key, choices in CHOICES.items():
            value = getattr(self, key)
            if value not in choices:
                raise ConfigError(f"{key}: {value!r} is not one of {', '.join(choices)}")
        if not re.fullmatch(r"cpu|cuda(:\d+)?", self.device):
            raise ConfigError(f"device: {self.device!r} is not one of cpu, cuda, cuda:N")
        if not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"seed: must be in [0, 2**63 - 1], got {self.seed}")
        for key in ("model", "train_data", "output_dir"):
            if require and not getattr(self, key):
                raise ConfigError(f"{key}: required (set it in the YAML or with --set {key}=...)")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{f.name}: must be a finite number, got {value}")
        positive = ("micro_batch_size", "gradient_accumulation_steps", "max_length", "epochs", "eval_n",
                    "eval_batch_size", "eval_max_new_tokens", "keep_last")
        for key in positive:
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}: must be >= 1, got {getattr(self, key)}")
        for key in ("eval_every", "checkpoint_every", "warmup_steps"):
            if getattr(self, key) < 0:
                raise ConfigError(f"{key}: must be >= 0, got {getattr(self, key)}")
        if self.max_tokens_per_micro_batch is not None:
            if not self.packing:
                raise ConfigError("max_tokens_per_micro_batch: set, but packing is false (set packing: true)")
            if self.max_tokens_per_micro_batch < self.max_length:
                raise ConfigError(f"max_tokens_per_micro_batch: {self.max_tokens_per_micro_batch} is below max_length="
                                  f"{self.max_length} (an example of max_length tokens must fit one micro-batch)")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads: must be >= 1 or null, got {self.threads}")
        if self.subset is not None and self.subset < 1:
            raise ConfigError(f"subset: must be >= 1 or full, got {self.subset}")
        if self.dtype == "bfloat16" and self.precision == "fp32":
            self.precision = "bf16-pure"  # what dtype: bfloat16 always meant
        if self.precision == "bf16-mixed" and self.dtype != "float32":
            raise ConfigError("precision bf16-mixed keeps float32 master weights: set dtype float32 (or leave it)")
        if self.precision == "bf16-pure":
            self.dtype = "bfloat16"
        if self.test_size < 0:
            raise ConfigError(f"test_size: must be >= 0, got {self.test_size}")
        if self.test_size and self.eval_data:
            raise ConfigError("test_size and eval_data: evaluate on one or the other (test_size=0 or eval_data=null)")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max_steps: must be >= 1 or null, got {self.max_steps}")
        if self.lr <= 0 or self.normalize_constant <= 0:
            raise ConfigError("lr and normalize_constant must be > 0")
        for key in ("weight_decay", "max_grad_norm", "eval_temperature"):
            if getattr(self, key) < 0:
                raise ConfigError(f"{key}: must be >= 0, got {getattr(self, key)}")
        for key in ("adam_beta1", "adam_beta2"):
            if not 0 <= getattr(self, key) < 1:
                raise ConfigError(f"{key}: must be in [0, 1), got {getattr(self, key)}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ConfigError(f"min_lr_ratio: must be in [0, 1], got {self.min_lr_ratio}")
        self._validate_vllm()
        self._validate_lora()
        self._validate_samples()
        for key, default in (("loss_on", "final"), ("history_thinking", "strip"), ("think_loss", True)):
            if getattr(self, key) != default and self.template != "chat":
                raise ConfigError(f"{key}: {getattr(self, key)}, but template is {self.template} (turns and think "
                                  "blocks are read from chat records by template: chat)")
        if isinstance(self.eval_data, list):
            self.eval_data = [{"path": src.path, "split": src.split}
                              for src in parse_eval_sources(self.eval_data, self.eval_split)]
        if isinstance(self.train_data, list) or self.train_split is not None:
            self.train_data = self.train_data if isinstance(self.train_data, str) else \
                [src.to_dict() for src in parse_sources(self.train_data)]
            parse_sources(self.train_data, self.train_split)
        if self.system_prompt is not None and self.template != "chat":
            raise ConfigError(f"system_prompt: set, but template is {self.template} (a system message needs "
                              "template: chat; a text template can include the instruction itself)")
        return self

    def _validate_vllm(self) -> None:
        for key in ("vllm_device", "vllm_gpu_memory_utilization"):
            if getattr(self, key) is not None and self.eval_backend != "vllm":
                raise ConfigError(f"{key}: set, but eval_backend is {self.eval_backend} (set eval_backend: vllm)")
        if self.eval_backend == "vllm" and self.eval_temperature > 2:  # vLLM refuses it, after starting
            raise ConfigError(f"eval_temperature: the vLLM backend takes [0, 2], got {self.eval_temperature}")
        u = self.vllm_gpu_memory_utilization
        if u is not None and not 0 < u <= 1:
            raise ConfigError(f"vllm_gpu_memory_utilization: must be in (0, 1], got {u}")
        if self.vllm_device is not None and not re.fullmatch(r"cpu|cuda(:\d+)?", self.vllm_device):
            raise ConfigError(f"vllm_device: {self.vllm_device!r} is not one of cpu, cuda, cuda:N")

    def _validate_samples(self) -> None:
        if self.eval_samples < 1:
            raise ConfigError(f"eval_samples: must be >= 1, got {self.eval_samples}")
        if self.eval_samples > 1 and self.eval_temperature <= 0:
            raise ConfigError(f"eval_samples: {self.eval_samples} samples at eval_temperature 0 would all be the same "
                              "greedy response: set eval_temperature > 0 (e.g. 0.6)")
        if not 0 < self.eval_top_p <= 1:
            raise ConfigError(f"eval_top_p: must be in (0, 1], got {self.eval_top_p}")
        for k in self.eval_pass_k or ():
            if not 1 <= k <= self.eval_samples:
                raise ConfigError(f"eval_pass_k: {k} is not in [1, eval_samples={self.eval_samples}]")
        if self.early_stop_patience is not None and self.early_stop_patience < 1:
            raise ConfigError(f"early_stop_patience: must be >= 1 or null, got {self.early_stop_patience}")
        if (self.keep_best or self.early_stop_patience) and not self.has_eval:
            raise ConfigError("keep_best / early_stop_patience: the run does not evaluate (set eval_data or test_size)")
        self.best_metric_key()  # a keep_best that names no metric: one line

    @property
    def pass_k(self) -> tuple[int, ...]:
        """The k of pass@k reported: eval_pass_k, else 1 and eval_samples."""
        return tuple(sorted(set(self.eval_pass_k or (1, self.eval_samples))))

    def best_metric_key(self) -> str | None:
        """The evaluation summary key keep_best (or early stopping) watches: ``accuracy``, ``avg@K``,
        ``pass@k`` or ``maj@K`` with K = eval_samples (``K`` written literally is eval_samples)."""
        if self.keep_best is None:
            return "accuracy" if self.early_stop_patience else None
        name = self.keep_best.strip()
        k = self.eval_samples
        if name == "accuracy":
            return name
        m = re.fullmatch(r"(avg|maj|pass)@(K|k|\d+)", name)
        if m:
            kind, n = m.group(1), (k if m.group(2) in ("K", "k") else int(m.group(2)))
            if (kind in ("avg", "maj") and n == k) or (kind == "pass" and n in self.pass_k):
                return f"{kind}@{n}"
        choices = ["accuracy", f"avg@{k}", f"maj@{k}", *[f"pass@{j}" for j in self.pass_k]]
        raise ConfigError(f"keep_best: {self.keep_best!r} is not one of {', '.join(choices)} (K = eval_samples "
                          f"= {k}; pass@k for the k of eval_pass_k)")

    def _validate_lora(self) -> None:
        from ..models.lora import LoraSpec

        spec = LoraSpec.from_config(self.lora)
        self.lora = spec.to_dict() if spec is not None else None
        if spec is not None and self.parallel == "fsdp":
            raise ConfigError("lora with parallel fsdp: not supported (FSDP2 would shard the frozen base with the "
                              "adapters); use parallel: ddp, which for LoRA only all-reduces the adapters' gradients")

    @property
    def packing_budget(self) -> int:
        """Tokens per packed micro-batch: max_tokens_per_micro_batch, else micro_batch_size x max_length."""
        return self.max_tokens_per_micro_batch or self.micro_batch_size * self.max_length

    @property
    def has_eval(self) -> bool:
        """Whether the run evaluates: on eval_data, or on the test_size split of train_data."""
        return bool(self.eval_data) or self.test_size > 0

    def train_sources(self) -> list:
        """train_data as :class:`tracesft.data.mixture.Source` entries (one for a single path)."""
        return parse_sources(self.train_data, self.train_split)

    def eval_sources(self) -> list:
        """eval_data as :class:`tracesft.data.mixture.Source` entries (none without eval_data)."""
        return parse_eval_sources(self.eval_data, self.eval_split) if self.eval_data else []

    @property
    def train_paths(self) -> list[str]:
        return [src.path for src in self.train_sources()]

    @property
    def train_name(self) -> str:
        """train_data for messages: the path, or the sources' paths joined with '+'."""
        return self.train_data if isinstance(self.train_data, str) else "+".join(self.train_paths)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_HINTS = typing.get_type_hints(TrainConfig)
_KEYS = [f.name for f in fields(TrainConfig)]


_WORDS = {"subset": {"full": None}, "add_eos": {True: "true", False: "false"}}  # values a key accepts besides its type


def _coerce(key: str, value):
    if key == "train_data" and isinstance(value, list):
        return [src.to_dict() for src in parse_sources(value)]
    if key == "eval_data" and isinstance(value, list):
        return [{"path": src.path, "split": src.split} for src in parse_eval_sources(value)]
    if type(value) in (str, bool) and value in _WORDS.get(key, {}):
        return _WORDS[key][value]
    return coerce_to_hint(key, _HINTS[key], value)


def coerce_to_hint(label: str, hint, value):
    """``value`` (from YAML or ``--set``) as the type ``hint`` names; a ConfigError naming ``label``
    when it is not one (also used for the ``iterate:`` section's keys)."""
    args = typing.get_args(hint)
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), hint) if args else hint
    if value is None or (isinstance(value, str) and value.lower() in ("null", "none") and optional):
        if optional:
            return None
        raise ConfigError(f"{label}: must not be null")
    try:
        if base is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
                return value.lower() in ("true", "1", "yes")
            raise ValueError
        if base is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if base is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if base is str:
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError
            return str(value)
        if typing.get_origin(base) is list:  # a YAML list, one integer, or "1,4,8" from --set
            if isinstance(value, str):
                value = [v for v in value.split(",") if v.strip()]
            elif isinstance(value, int) and not isinstance(value, bool):
                value = [value]
            if not isinstance(value, list) or any(isinstance(v, bool) for v in value):
                raise ValueError
            return [int(v) for v in value]
        if base is dict:
            if isinstance(value, (dict, bool)):
                return value  # validated by the key's own spec
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(f"{label}: expected {getattr(base, '__name__', base)}, got {value!r}") from None
    return value


# What other trainers (transformers, TRL, torchtune) call some keys: suggested for an unknown key.
_ALIASES = {"learning_rate": "lr", "batch_size": "micro_batch_size", "per_device_train_batch_size": "micro_batch_size",
            "num_train_epochs": "epochs", "num_epochs": "epochs", "max_seq_length": "max_length",
            "max_seq_len": "max_length", "gradient_accumulation": "gradient_accumulation_steps",
            "warmup": "warmup_steps", "lr_scheduler_type": "lr_schedule", "model_name_or_path": "model",
            "dataset": "train_data", "output": "output_dir", "peft": "lora", "bf16": "precision"}


def _unknown(key: str) -> ConfigError:
    import difflib

    close = ([_ALIASES[key]] if key in _ALIASES else []) + difflib.get_close_matches(key, _KEYS, n=3)
    close = list(dict.fromkeys(close))[:3]
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return ConfigError(f"unknown config key {key!r}{hint}; valid keys: {', '.join(_KEYS)}")


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """``key=value`` strings (YAML scalars) merged over ``values``."""
    import yaml

    out = dict(values)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        key, _, sub = key.strip().partition(".")
        if key not in _KEYS:
            raise _unknown(key)
        try:
            value = _yaml_load(raw) if raw.strip() else ""
        except yaml.YAMLError as e:
            raise ConfigError(f"--set {key}: invalid value {raw!r} ({_first_line(e)})") from None
        if sub:  # key.sub=value sets one entry of a mapping key (lora.r=8)
            if _HINTS[key] is not dict and dict not in typing.get_args(_HINTS[key]):
                raise ConfigError(f"--set {key}.{sub}: {key} is not a mapping")
            current = out.get(key)
            value = {**(current if isinstance(current, dict) else {}), sub: value}
        out[key] = value
    return out


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _yaml_load(text: str):
    """YAML with the safe loader, refusing duplicate keys (the last one would silently win)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep)

    return yaml.load(text, Loader=UniqueKeyLoader)


def load_config(path: str | None, overrides: list[str] | None = None, require: bool = True) -> TrainConfig:
    """Load YAML (or start from defaults when path is None), apply overrides, validate
    (``require``: see :meth:`TrainConfig.validate`)."""
    return config_from_values(read_config_file(path) if path is not None else {}, overrides, require)


def read_config_file(path) -> dict:
    """A YAML config file as a mapping (duplicate keys refused); one line for what is not one."""
    import yaml

    from ..data.sources import read_bounded_text

    try:
        loaded = _yaml_load(read_bounded_text(path, "config"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except (yaml.YAMLError, RecursionError) as e:
        raise ConfigError(f"{path}: invalid YAML ({_first_line(e)})") from None
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the config must be a mapping of keys to values")
    return loaded


def config_from_values(values: dict, overrides: list[str] | None = None, require: bool = True) -> TrainConfig:
    """A validated config from a mapping of keys (a YAML already read: ``tracesft iterate``'s file
    holds these keys beside its own section), with ``overrides`` applied."""
    values = apply_overrides(values, overrides or [])
    for key in values:
        if key not in _KEYS:
            raise _unknown(key)
    config = TrainConfig(**{k: _coerce(k, v) for k, v in values.items()})
    return config.validate(require)


def save_config(config: TrainConfig, path) -> None:
    """Write the resolved config as YAML (loadable again with ``--config``)."""
    import yaml

    write_text_atomic(Path(path), yaml.safe_dump(config.to_dict(), sort_keys=False))
