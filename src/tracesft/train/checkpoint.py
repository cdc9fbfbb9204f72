"""Checkpoints that survive kills: written to a temporary directory, fsynced, then renamed.

A directory named ``step-NNNNNNNN`` under ``RUN_DIR/checkpoints`` is always whole: it only gets
that name by an atomic rename after every file in it was written and synced. Leftover temporary
directories (from a kill during a save) are removed on the next start. Optimizer, scheduler and
RNG state are loaded with ``torch.load(weights_only=True)``: nothing is unpickled as code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import torch

from ..errors import UserInputError
from .config import save_config
from .distributed import barrier
from .state import TrainState, capture_rng, restore_rng

__all__ = ["save_checkpoint", "latest_checkpoint", "load_checkpoint_weights", "load_checkpoint_training_state",
           "clean_partial", "prepare_run_dir", "CHECKPOINT_DIR"]

CHECKPOINT_DIR = "checkpoints"
_NAME = re.compile(r"^step-(\d{8})$")


def _fsync_tree(path: Path) -> None:
    for p in sorted(path.rglob("*")):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(run_dir, state: TrainState, model, tokenizer, model_state: dict, optim_state: dict, scheduler,
                    extra: dict, keep_last: int) -> Path:
    """Write a whole checkpoint of ``state`` and keep only the newest ``keep_last``; returns its path.

    ``model_state`` / ``optim_state`` are full (unsharded) state dicts keyed by parameter name, as
    returned by :func:`tracesft.train.distributed.full_state_dicts`, so that N ranks' checkpoints
    resume on M ranks. ``extra`` (e.g. the reason, the world size) is stored in ``state.json``.
    """
    root = Path(run_dir) / CHECKPOINT_DIR
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{state.step:08d}"
    tmp = root / f".tmp-step-{state.step:08d}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    model.save_pretrained(tmp, state_dict=model_state, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    torch.save(optim_state, tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    torch.save(capture_rng(), tmp / "rng.pt")
    (tmp / "state.json").write_text(json.dumps({**extra, **state.to_dict(), "saved_at": time.time()}, indent=2),
                                    encoding="utf-8")
    _fsync_tree(tmp)
    _publish(tmp, final)
    for old in list_checkpoints(run_dir)[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _publish(tmp: Path, final: Path) -> None:
    """Give a whole, synced checkpoint directory its final name (atomically)."""
    if final.exists():  # re-saving the same step (e.g. after a resume): replace it whole
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, final)
    fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def prepare_run_dir(cfg, resume: bool, info) -> Path | None:
    """Refuse to overwrite a run (or to resume nothing); create the directory (rank 0), clean what an
    interrupted save left, write the resolved config. Returns the checkpoint to resume from."""
    run_dir = Path(cfg.output_dir)
    latest = latest_checkpoint(run_dir)
    if not resume and latest is not None:
        raise UserInputError(f"{run_dir} already holds checkpoints: resume with --resume {run_dir}, "
                             "or choose another output_dir")
    if resume and latest is None:
        raise UserInputError(f"--resume {run_dir}: no whole checkpoint found under {run_dir / CHECKPOINT_DIR}")
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        clean_partial(run_dir)
        save_config(cfg, run_dir / "config.yaml")
    barrier(info)
    return latest


def list_checkpoints(run_dir) -> list[Path]:
    root = Path(run_dir) / CHECKPOINT_DIR
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if _NAME.match(p.name) and (p / "state.json").is_file()),
                  key=lambda p: int(_NAME.match(p.name).group(1)))


def latest_checkpoint(run_dir) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def clean_partial(run_dir) -> int:
    """Remove temporary directories left by an interrupted save; returns how many."""
    root = Path(run_dir) / CHECKPOINT_DIR
    if not root.is_dir():
        return 0
    stale = [p for p in root.iterdir() if p.name.startswith((".tmp-step-", ".old-step-"))]
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return len(stale)


def tied_parameter_names(model) -> set[str]:
    """State-dict names that share storage with an earlier name (e.g. a tied lm_head)."""
    seen, tied = {}, set()
    for name, t in model.state_dict(keep_vars=True).items():
        key = (t.data_ptr(), t.shape)
        if key in seen:
            tied.add(name)
        else:
            seen[key] = name
    return tied


def load_checkpoint_weights(path, model) -> None:
    """Load a checkpoint's weights into an unwrapped model (before DDP/FSDP wrapping)."""
    from safetensors.torch import load_file

    path = Path(path)
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise UserInputError(f"checkpoint {path} holds no .safetensors file")
    weights: dict = {}
    for f in files:
        weights.update(load_file(f))
    missing, unexpected = model.load_state_dict(weights, strict=False)
    tied = tied_parameter_names(model)
    if unexpected or set(missing) - tied:
        raise UserInputError(f"checkpoint {path} does not match the model: missing {sorted(set(missing) - tied)[:5]}, "
                         f"unexpected {sorted(unexpected)[:5]}")


def load_checkpoint_training_state(path, model, optimizer, scheduler) -> TrainState:
    """Load optimizer, scheduler and RNG state (after wrapping); returns the saved :class:`TrainState`."""
    from .distributed import load_full_state_dicts

    path = Path(path)
    load_full_state_dicts(model, optimizer, None, torch.load(path / "optimizer.pt", weights_only=True))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
    saved = json.loads((path / "state.json").read_text(encoding="utf-8"))
    rng = torch.load(path / "rng.pt", weights_only=True)
    if "python_random" in saved:  # checkpoints written before the RNG state moved to rng.pt
        rng["python"] = saved["python_random"]
    restore_rng(rng)
    return TrainState.from_dict(saved)
