"""Training: config, builders, data, one step, checkpoints, the loop, sweeps.

Names resolve lazily, so that loading a config or reading a registry does not import torch.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "TrainConfig": "config",
    "load_config": "config",
    "ConfigError": "config",
    "train": "loop",
    "TrainingError": "loop",
    "run_sweep": "sweep",
}
__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
