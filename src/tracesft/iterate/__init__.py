"""Expert iteration (``tracesft iterate``): sample, grade, keep the correct traces, fine-tune, repeat.

Names resolve lazily, so that loading the config does not import torch.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "IterateConfig": "config",
    "IterateSettings": "config",
    "load_iterate_config": "config",
    "run_iterate": "loop",
    "iterate_table": "loop",
    "select_kept": "select",
}
__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
