"""Metric logging: ``metrics.jsonl`` always, plus TensorBoard or Weights & Biases when configured."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from ..errors import MissingExtraError
from ..outputs import json_text

__all__ = ["MetricsLog", "LOG_BACKENDS"]

LOG_BACKENDS = ("none", "tensorboard", "wandb")

log = logging.getLogger(__name__)


class MetricsLog:
    """One JSON row per train step or evaluation; numbers are mirrored to the optional backend.

    ``enabled=False`` (ranks other than 0) writes nothing. W&B runs offline when no API key is set.
    """

    def __init__(self, run_dir: Path, backend: str = "none", config: dict | None = None, enabled: bool = True) -> None:
        self.path = Path(run_dir) / "metrics.jsonl"
        self.enabled = enabled
        self.tb = self.wandb = None
        if not enabled:
            return
        if backend == "tensorboard":
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise MissingExtraError("log: tensorboard", "tensorboard") from None
            self.tb = SummaryWriter(str(Path(run_dir) / "tensorboard"))
        elif backend == "wandb":
            try:
                import wandb
            except ImportError:
                raise MissingExtraError("log: wandb", "wandb") from None
            mode = None if os.environ.get("WANDB_API_KEY") else "offline"
            self.wandb = wandb.init(project="tracesft", dir=str(run_dir), config=config, mode=mode)

    def reset(self) -> None:
        if self.enabled:
            self.path.write_text("", encoding="utf-8")

    def truncate_after(self, step: int) -> None:
        """On resume: drop rows logged after the checkpoint (they will be logged again)."""
        if not self.enabled or not self.path.exists():
            return
        from ..outputs import atomic_writer

        rows, dropped = [], []
        with self.path.open("rb") as f:
            for number, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                try:  # a kill during an append leaves a partial last line; an edit may leave anything
                    row = json.loads(raw.decode("utf-8"))
                    if not isinstance(row, dict):
                        raise ValueError("not an object")
                except (UnicodeDecodeError, ValueError, RecursionError):
                    dropped.append(number)
                    continue
                if not isinstance(row.get("step", 0), (int, float)) or row.get("step", 0) <= step:
                    rows.append(raw.decode("utf-8").rstrip("\n"))
        if dropped:
            log.warning("%s: dropped %d unreadable line(s) (%s; a partial last line is what a kill during a write "
                        "leaves)", self.path, len(dropped), ", ".join(map(str, dropped[:5])))
        with atomic_writer(self.path) as out:
            out.write("".join(r + "\n" for r in rows))

    def write(self, row: dict) -> None:
        if not self.enabled:
            return
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json_text(row) + "\n")
        numbers = {f"{row.get('kind', 'train')}/{k}": v for k, v in row.items()
                   if isinstance(v, (int, float)) and k != "step"}
        if self.tb is not None:
            for k, v in numbers.items():
                self.tb.add_scalar(k, v, row["step"])
        if self.wandb is not None:
            self.wandb.log(numbers, step=row["step"])

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
            self.tb = None
        if self.wandb is not None:
            self.wandb.finish()
            self.wandb = None
