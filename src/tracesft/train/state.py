"""``TrainState``: where a run is (step, epoch, position in the epoch's plan) and its RNG state.

Checkpoints save it and resume restores it; the loop reads and advances it, nothing else.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

import torch

__all__ = ["TrainState", "capture_rng", "restore_rng"]


@dataclass
class TrainState:
    step: int = 0  #: optimizer steps taken
    epoch: int = 0  #: current epoch (0-based)
    step_in_epoch: int = 0  #: steps of the current epoch's plan already taken

    def advance(self) -> None:
        self.step += 1
        self.step_in_epoch += 1

    def next_epoch(self) -> None:
        self.epoch += 1
        self.step_in_epoch = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainState:
        return cls(step=int(d["step"]), epoch=int(d["epoch"]), step_in_epoch=int(d["step_in_epoch"]))


def capture_rng() -> dict:
    """Torch (CPU and CUDA) and Python ``random`` generator states, for a checkpoint."""
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    version, internal, gauss = random.getstate()
    rng["python"] = [version, list(internal), gauss]
    return rng


def restore_rng(rng: dict) -> None:
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    if "python" in rng:
        version, internal, gauss = rng["python"]
        random.setstate((version, tuple(internal), gauss))
