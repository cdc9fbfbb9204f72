"""Training: config, builders, data, one step, checkpoints, the loop, sweeps.

Names resolve lazily, so that loading a config or reading a registry does not import torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "TrainConfig": "config",
    "load_config": "config",
    "ConfigError": "config",
    "train": "loop",
    "TrainingError": "loop",
    "run_sweep": "sweep",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tracesft.train' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
