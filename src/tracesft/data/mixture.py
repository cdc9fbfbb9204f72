"""Training data from several sources: ``train_data`` as a list of ``{path, fraction | weight, split, template}``.

The mixing rule, in order:

1. Each source is read whole (``split`` picks a split of a dataset dict) and its records are tagged
   with the source's index.
2. ``test_size`` holds out examples from all sources together (seeded), before anything is repeated.
3. Each source contributes ``fraction`` x its remaining examples: a fraction below 1 is a seeded
   sample without replacement (``round(fraction x n)``, at least 1), a fraction above 1 repeats every
   example ``floor(fraction)`` times plus a seeded sample of the rest; or, with ``weight``, every
   example once with its loss weight multiplied by ``weight`` (see per-record weights). The seed of
   source k is ``mixture:{seed}:{k}``, so one source's draw does not depend on the others'.
4. The sources are concatenated in the order listed; ``subset`` then samples from the mixture, and
   the epoch plan shuffles it (as for one file).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from ..errors import ConfigError

__all__ = ["Source", "parse_sources", "parse_eval_sources", "SOURCE_KEY", "mix"]

SOURCE_KEY = "_mixture_source"  #: the meta key an example's source index is kept under
_KEYS = ("path", "fraction", "weight", "split", "template")


@dataclass(frozen=True)
class Source:
    path: str
    split: str | None = None
    fraction: float | None = None
    weight: float | None = None
    template: str | None = None

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in _KEYS}

    @property
    def share(self) -> str:
        return f"weight {self.weight:g}" if self.weight is not None else f"fraction {self.fraction or 1:g}"


def _number(value, where: str, minimum_open: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where}: expected a number, got {value!r:.40}")
    if value < 0 or (minimum_open and value == 0):
        raise ConfigError(f"{where}: must be {'> 0' if minimum_open else '>= 0'}, got {value}")
    return float(value)


def parse_sources(value, split: str | None = None) -> list[Source]:
    """The sources of a ``train_data`` value: one path (with ``split``), or a list of paths and
    ``{path, fraction | weight, split, template}`` mappings. Raises ConfigError naming the entry."""
    if isinstance(value, str):
        return [Source(value, split)]
    if not isinstance(value, list) or not value:
        raise ConfigError("train_data: expected a path or a non-empty list of sources {path, fraction | weight, "
                          "split, template}")
    if split is not None:
        raise ConfigError("train_split: set, but train_data is a list of sources (give each its own split)")
    sources = []
    for k, entry in enumerate(value):
        where = f"train_data[{k}]"
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a path or a mapping {{path, fraction | weight, split, template}}")
        unknown = sorted(set(entry) - set(_KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(_KEYS)}")
        path = entry.get("path")
        if not isinstance(path, str) or not path:
            raise ConfigError(f"{where}: needs a path")
        fraction, weight = entry.get("fraction"), entry.get("weight")
        if fraction is not None and weight is not None:
            raise ConfigError(f"{where}: set fraction (how many examples) or weight (their loss weight), not both")
        for key in ("split", "template"):
            if entry.get(key) is not None and not isinstance(entry[key], str):
                raise ConfigError(f"{where}.{key}: expected a string, got {entry[key]!r:.40}")
        sources.append(Source(path, entry.get("split"),
                              _number(fraction, f"{where}.fraction", True) if fraction is not None else None,
                              _number(weight, f"{where}.weight", False) if weight is not None else None,
                              entry.get("template")))
    return sources


def _draw(examples: list, fraction: float, rng: random.Random) -> list:
    whole, rest = int(fraction), fraction - int(fraction)
    out = [e for _ in range(whole) for e in examples]
    n = round(rest * len(examples))
    if whole == 0:
        n = max(1, n) if examples else 0
    chosen = set(rng.sample(range(len(examples)), n)) if n else set()
    return out + [e for i, e in enumerate(examples) if i in chosen]


def mix(examples: list, sources: list[Source], seed: int) -> list:
    """The mixture of ``examples`` (tagged with their source in ``meta[SOURCE_KEY]``) by the rule above."""
    out = []
    for k, source in enumerate(sources):
        mine = [e for e in examples if e.meta.get(SOURCE_KEY) == k]
        if source.weight is not None:
            for e in mine:
                e.meta["weight"] = e.weight * source.weight
            out += mine
        else:
            out += _draw(mine, source.fraction or 1.0, random.Random(f"mixture:{seed}:{k}"))
    return out


def parse_eval_sources(value, split: str | None = None) -> list[Source]:
    """The sources of an ``eval_data`` value: one path (with ``split``), or a list of paths and
    ``{path, split}`` mappings (metrics are reported per source)."""
    if isinstance(value, str):
        return [Source(value, split)]
    if not isinstance(value, list) or not value:
        raise ConfigError("eval_data: expected a path or a non-empty list of sources {path, split}")
    if split is not None:
        raise ConfigError("eval_split: set, but eval_data is a list of sources (give each its own split)")
    sources = []
    for k, entry in enumerate(value):
        entry = {"path": entry} if isinstance(entry, str) else entry
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) or not entry["path"]:
            raise ConfigError(f"eval_data[{k}]: expected a path or a mapping {{path, split}}")
        unknown = sorted(set(entry) - {"path", "split"})
        if unknown:
            raise ConfigError(f"eval_data[{k}]: unknown key(s) {', '.join(unknown)}; valid: path, split")
        if entry.get("split") is not None and not isinstance(entry["split"], str):
            raise ConfigError(f"eval_data[{k}].split: expected a string, got {entry['split']!r:.40}")
        sources.append(Source(entry["path"], entry.get("split")))
    return sources
