"""Checkpoints that survive kills: written to a temporary directory, fsynced, then renamed.

A directory named ``step-NNNNNNNN`` under ``RUN_DIR/checkpoints`` is always whole: it only gets
that name by an atomic rename after every file in it was written and synced. Leftover temporary
directories (from a kill during a save) are removed on the next start. Optimizer, scheduler and
RNG state are loaded with ``torch.load(weights_only=True)``: nothing is unpickled as code.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import time
from pathlib import Path

import torch

__all__ = ["save_checkpoint", "latest_checkpoint", "load_checkpoint_weights", "load_checkpoint_training_state",
           "clean_partial", "CHECKPOINT_DIR"]

CHECKPOINT_DIR = "checkpoints"
_NAME = re.compile(r"^step-(\d{8})$")
# Test hook "STEP:SECONDS": pause after writing checkpoint STEP, before its rename (to SIGKILL mid-save).
_PAUSE_ENV = "TRACESFT_TEST_PAUSE_IN_SAVE"


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


def save_checkpoint(run_dir, step: int, model, tokenizer, model_state: dict, optim_state: dict, scheduler,
                    state: dict, keep_last: int) -> Path:
    """Write a whole checkpoint for ``step`` and keep only the newest ``keep_last``; returns its path.

    ``model_state`` / ``optim_state`` are full (unsharded) state dicts keyed by parameter name, as
    returned by :func:`tracesft.train.distributed.full_state_dicts`, so that N ranks' checkpoints
    resume on M ranks.
    """
    root = Path(run_dir) / CHECKPOINT_DIR
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    tmp = root / f".tmp-step-{step:08d}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    model.save_pretrained(tmp, state_dict=model_state, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    torch.save(optim_state, tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    torch.save(rng, tmp / "rng.pt")
    py_state = random.getstate()
    full_state = dict(state, step=step, python_random=[py_state[0], list(py_state[1]), py_state[2]],
                      saved_at=time.time())
    (tmp / "state.json").write_text(json.dumps(full_state, indent=2), encoding="utf-8")
    _fsync_tree(tmp)
    pause_step, _, pause = os.environ.get(_PAUSE_ENV, "").partition(":")
    pause = float(pause) if pause_step and int(pause_step) == step else 0.0
    if pause:
        print(f"checkpoint {step} written, pausing {pause}s before rename", flush=True)
        time.sleep(pause)
    if final.exists():  # re-saving the same step (e.g. after a resume): replace it whole
        old = root / f".old-step-{step:08d}-{os.getpid()}"
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, final)
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    for old in list_checkpoints(run_dir)[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)
    return final


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
        raise ValueError(f"checkpoint {path} holds no .safetensors file")
    weights: dict = {}
    for f in files:
        weights.update(load_file(f))
    missing, unexpected = model.load_state_dict(weights, strict=False)
    tied = tied_parameter_names(model)
    if unexpected or set(missing) - tied:
        raise ValueError(f"checkpoint {path} does not match the model: missing {sorted(set(missing) - tied)[:5]}, "
                         f"unexpected {sorted(unexpected)[:5]}")


def load_checkpoint_training_state(path, model, optimizer, scheduler) -> dict:
    """Load optimizer, scheduler and RNG state (after wrapping); returns the saved training state."""
    from .distributed import load_full_state_dicts

    path = Path(path)
    load_full_state_dicts(model, optimizer, None, torch.load(path / "optimizer.pt", weights_only=True))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
    rng = torch.load(path / "rng.pt", weights_only=True)
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    state = json.loads((path / "state.json").read_text(encoding="utf-8"))
    v, internal, gauss = state.pop("python_random")
    random.setstate((v, tuple(internal), gauss))
    return state
