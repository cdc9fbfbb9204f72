"""The ``tracesft iterate`` configuration: the ``tracesft train`` keys, plus an ``iterate:`` section.

One YAML file: every :class:`~tracesft.train.TrainConfig` key at the top level (the model, the
questions in ``train_data``, the SFT settings of each round, the eval set and its settings), and
the loop's own keys under ``iterate:`` (:class:`IterateSettings`). ``--set key=value`` overrides a
training key, ``--set iterate.key=value`` one of the loop's.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, fields
from pathlib import Path

from ..errors import ConfigError
from ..train.config import TrainConfig, coerce_to_hint, config_from_values, read_config_file

__all__ = ["IterateSettings", "IterateConfig", "load_iterate_config", "PREFER", "INIT", "DEFAULT_HINT"]

PREFER = ("shortest", "random")
INIT = ("base", "previous")
DEFAULT_HINT = "{question}\n(The correct answer is {answer}.)"


@dataclass
class IterateSettings:
    """The loop's own keys (the ``iterate:`` section)."""

    rounds: int = 3  #: sample -> keep -> fine-tune rounds
    samples_per_prompt: int = 4  #: K responses sampled per training question each round
    temperature: float = 1.0  #: sampling temperature (> 0)
    top_p: float = 1.0  #: nucleus sampling, in (0, 1]
    max_new_tokens: int | None = None  #: sampling length cap (null: eval_max_new_tokens)
    keep_per_prompt: int = 1  #: M: distinct correct responses kept per question (duplicates dropped)
    prefer: str = "shortest"  #: which M of a question's distinct correct responses: shortest | random
    init: str = "previous"  #: each round fine-tunes from: base (ReST-EM: the starting model) | previous (last round's)
    #: share of train_data's own traces (its responses) mixed into each round's training set, in [0, 1]
    mix_original: float = 0.0
    #: train each round on every trace kept so far (this round's and earlier rounds', duplicates of a
    #: question's response dropped), not on this round's only (ReST-EM, STaR: false)
    accumulate: bool = False
    #: STaR rationalisation: questions no sample solved are sampled again with the answer as a hint;
    #: correct rationales train with the hint removed (counted apart)
    rationalize: bool = False
    hint_template: str = DEFAULT_HINT  #: the hinted question: {question} and {answer}
    chunk_size: int = 256  #: questions sampled per saved chunk (a kill mid-sampling redoes one chunk)

    def validate(self) -> IterateSettings:
        for key in ("rounds", "samples_per_prompt", "keep_per_prompt", "chunk_size"):
            if getattr(self, key) < 1:
                name = {"samples_per_prompt": "samples_per_prompt (K)", "keep_per_prompt": "keep_per_prompt (M)"}
                raise ConfigError(f"iterate.{name.get(key, key)}: must be >= 1, got {getattr(self, key)}")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ConfigError(f"iterate.max_new_tokens: must be >= 1 or null, got {self.max_new_tokens}")
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ConfigError(f"iterate.temperature: must be > 0 (samples at 0 would all be the one greedy "
                              f"response), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"iterate.top_p: must be in (0, 1], got {self.top_p}")
        if not 0 <= self.mix_original <= 1:
            raise ConfigError(f"iterate.mix_original: must be in [0, 1], got {self.mix_original}")
        if self.prefer not in PREFER:
            raise ConfigError(f"iterate.prefer: {self.prefer!r} is not one of {', '.join(PREFER)}")
        if self.init not in INIT:
            raise ConfigError(f"iterate.init: {self.init!r} is not one of {', '.join(INIT)}")
        if self.hint_template.count("{question}") != 1 or self.hint_template.count("{answer}") != 1:
            raise ConfigError("iterate.hint_template: must contain {question} and {answer} once each")
        return self


_HINTS = typing.get_type_hints(IterateSettings)
_KEYS = [f.name for f in fields(IterateSettings)]


def _coerce(key: str, value):
    return coerce_to_hint(f"iterate.{key}", _HINTS[key], value)


@dataclass
class IterateConfig:
    """The whole config: ``train`` (a :class:`TrainConfig`: model, questions, SFT and eval settings)
    and ``iterate`` (:class:`IterateSettings`)."""

    train: TrainConfig
    iterate: IterateSettings

    def to_dict(self) -> dict:
        return {**self.train.to_dict(), "iterate": dataclasses.asdict(self.iterate)}

    @property
    def sample_max_new_tokens(self) -> int:
        return self.iterate.max_new_tokens or self.train.eval_max_new_tokens


def settings_from_values(section) -> IterateSettings:
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ConfigError("iterate: must be a mapping of the loop's keys (rounds, samples_per_prompt, ...)")
    for key in section:
        if key not in _KEYS:
            import difflib

            close = difflib.get_close_matches(str(key), _KEYS, n=2)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ConfigError(f"unknown key iterate.{key}{hint}; valid: {', '.join(_KEYS)}")
    return IterateSettings(**{k: _coerce(k, v) for k, v in section.items()}).validate()


def config_from_mapping(values: dict, overrides: list[str] | None = None) -> IterateConfig:
    """An :class:`IterateConfig` from a mapping (a config file's), ``overrides`` applied
    (``iterate.KEY=VALUE`` for the loop's keys, ``KEY=VALUE`` for the training keys)."""
    from ..train.config import _yaml_load

    values = dict(values)
    section = values.pop("iterate", None)
    section = dict(section) if isinstance(section, dict) else section
    train_overrides = []
    for item in overrides or []:
        key, eq, raw = item.partition("=")
        if eq and key.strip().startswith("iterate."):
            if not isinstance(section, (dict, type(None))):
                raise ConfigError("iterate: must be a mapping of the loop's keys")
            section = dict(section or {})
            section[key.strip().removeprefix("iterate.")] = _yaml_load(raw) if raw.strip() else ""
        else:
            train_overrides.append(item)
    settings = settings_from_values(section)
    if "output_dir" not in values and not any(o.startswith("output_dir=") for o in train_overrides):
        values["output_dir"] = "runs/iterate"
    return IterateConfig(config_from_values(values, train_overrides), settings)


def load_iterate_config(path, overrides: list[str] | None = None) -> IterateConfig:
    """The iterate config of a YAML file (see the module docstring), validated."""
    values = read_config_file(path) if path is not None else {}
    return config_from_mapping(values, overrides)


def save_iterate_config(config: IterateConfig, path: Path) -> None:
    import yaml

    from ..outputs import write_text_atomic

    write_text_atomic(Path(path), yaml.safe_dump(config.to_dict(), sort_keys=False))
