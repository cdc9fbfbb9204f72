"""Checkpoints that survive kills: written to a temporary directory, fsynced, then renamed.

A directory named ``step-NNNNNNNN`` under ``RUN_DIR/checkpoints`` is always whole: it only gets
that name by an atomic rename after every file in it was written and synced. Leftover temporary
directories (from a kill during a save) are removed on the next start; a previous checkpoint that
was being replaced is put back. Optimizer, scheduler and RNG state are loaded with
``torch.load(weights_only=True)``: nothing is unpickled as code.

Resuming reads the newest checkpoint whole, every file validated, before anything is applied; a
damaged one (truncated weights, an empty or garbled state file) is named in a warning and the
previous whole checkpoint is used instead. A checkpoint whose ``state.json`` names another step
than its directory is damaged the same way.

Each checkpoint carries the config it was trained with (``config.yaml``): a resume checks its
config against that copy, not against ``RUN_DIR/config.yaml``, which a kill or an edit may have
damaged. A LoRA run's checkpoint records a fingerprint of the frozen base weights
(``base_fingerprint`` in ``state.json``); resuming the adapter over other base weights is refused.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import TrainingError, UserInputError
from ..models.heads import tied_parameter_names
from ..models.lora import load_adapter_state
from ..models.unwrap import is_adapted
from ..outputs import fsync_tree, json_text
from .state import TrainState, capture_rng, restore_rng

__all__ = ["save_checkpoint", "latest_checkpoint", "list_checkpoints", "read_checkpoint", "read_newest_whole",
           "Checkpoint", "DamagedCheckpoint", "apply_weights", "base_fingerprint", "last_finite_checkpoint",
           "apply_training_state", "clean_partial", "CHECKPOINT_DIR"]

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
_NAME = re.compile(r"^step-(\d{8})$")


def base_fingerprint(model) -> str:
    """A sha256 over the frozen base weights of a LoRA model: every tensor's name, shape and dtype,
    and up to 4096 of its values evenly spaced (a fine-tuned or other base changes them)."""
    import hashlib

    from ..models.lora import base_name

    h = hashlib.sha256()
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            if p.requires_grad:
                continue
            flat = p.detach().reshape(-1)
            sample = flat[:: max(1, flat.numel() // 4096)][:4096].to("cpu", torch.float32).contiguous()
            h.update(f"{base_name(name)}|{tuple(p.shape)}|{p.dtype}|".encode())
            h.update(sample.numpy().tobytes())
    return h.hexdigest()


def save_checkpoint(run_dir, state: TrainState, model, tokenizer, model_state: dict, optim_state: dict, scheduler,
                    extra: dict, keep_last: int, config: dict | None = None) -> Path:
    """Write a whole checkpoint of ``state`` and keep only the newest ``keep_last``; returns its path.

    ``model_state`` / ``optim_state`` are full (unsharded) state dicts keyed by parameter name, as
    returned by :func:`tracesft.train.distributed.full_state_dicts`, so that N ranks' checkpoints
    resume on M ranks. ``extra`` (e.g. the reason, the world size) is stored in ``state.json``;
    ``config`` (the run's config as a dict) in the checkpoint's own ``config.yaml``.
    """
    root = Path(run_dir) / CHECKPOINT_DIR
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{state.step:08d}"
    tmp = root / f".tmp-step-{state.step:08d}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        from ..models.lora import quiet_peft_warnings

        with quiet_peft_warnings():
            model.save_pretrained(tmp, state_dict=model_state, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        torch.save(optim_state, tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        torch.save(capture_rng(), tmp / "rng.pt")
        if config is not None:
            import yaml

            (tmp / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        (tmp / "state.json").write_text(json_text({**extra, **state.to_dict(), "saved_at": time.time()}, indent=2),
                                        encoding="utf-8")
        fsync_tree(tmp)
    except (OSError, RuntimeError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        _raise_write_error(e, tmp, final)
    _publish(tmp, final)
    for old in list_checkpoints(run_dir)[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _raise_write_error(e: BaseException, tmp: Path, final: Path) -> None:
    """A failed checkpoint write as one line; a full disk is said as such (torch's own text is not)."""
    free = shutil.disk_usage(tmp.parent).free
    full = (isinstance(e, OSError) and e.errno == errno.ENOSPC) or "unexpected pos" in str(e) or free < (1 << 20)
    if full:
        raise TrainingError(f"cannot write checkpoint {final}: no space left on device ({free} bytes free on "
                            f"{tmp.parent}); the previous checkpoint is intact") from None
    if isinstance(e, OSError):
        raise TrainingError(f"cannot write checkpoint {final}: {e.strerror or e} ({e.filename or tmp}); "
                            "the previous checkpoint is intact") from None
    raise e


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


def list_checkpoints(run_dir) -> list[Path]:
    root = Path(run_dir) / CHECKPOINT_DIR
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if _NAME.match(p.name) and (p / "state.json").is_file()),
                  key=lambda p: int(_NAME.match(p.name).group(1)))


def last_finite_checkpoint(run_dir) -> Path | None:
    """The newest checkpoint whose weights are all finite (read from disk; for the message of a run
    stopped by a non-finite loss, whose newest checkpoints may already hold ruined weights)."""
    from safetensors import safe_open

    for path in reversed(list_checkpoints(run_dir)):
        try:
            finite = True
            for f in sorted(path.glob("*.safetensors")):
                with safe_open(str(f), framework="pt") as st:
                    for key in st.keys():
                        t = st.get_tensor(key)
                        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                            finite = False
                            break
                if not finite:
                    break
        except Exception:  # an unreadable checkpoint is no good checkpoint either
            continue
        if finite:
            return path
    return None


def latest_checkpoint(run_dir) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def clean_partial(run_dir) -> int:
    """Tidy what an interrupted save left; returns how many leftovers were handled.

    ``.tmp-step-*`` (a save that never finished) is removed. ``.old-step-N-*`` is the whole
    checkpoint N that was being replaced by a new save of the same step: it is put back when no
    ``step-N`` exists (the kill fell between the two renames), removed otherwise.
    """
    root = Path(run_dir) / CHECKPOINT_DIR
    if not root.is_dir():
        return 0
    stale = sorted(p for p in root.iterdir() if p.name.startswith((".tmp-step-", ".old-step-")))
    for p in stale:
        final = root / p.name[len(".old-"):len(".old-") + len("step-00000000")]
        if p.name.startswith(".old-step-") and not final.exists() and (p / "state.json").is_file():
            os.rename(p, final)
            log.warning("restored checkpoint %s (a save of the same step was interrupted)", final)
        else:
            shutil.rmtree(p, ignore_errors=True)
    return len(stale)


class DamagedCheckpoint(UserInputError):
    """A checkpoint file that cannot be read; the message names it."""


@dataclass
class Checkpoint:
    """Everything a resume needs, read and validated before any of it is applied."""

    path: Path
    weights: dict
    optim_state: dict
    scheduler_state: dict
    rng: dict
    state: TrainState
    world_size: int = 1  #: ranks of the run that wrote it
    config: dict | None = None  #: the config it was trained with (None: written before checkpoints had one)
    base_fingerprint: str | None = None  #: LoRA: :func:`base_fingerprint` of the base it was trained on


def _read(path: Path, what: str, reader):
    try:
        return reader(path)
    except FileNotFoundError:
        raise DamagedCheckpoint(f"{path}: missing") from None
    except Exception as e:  # any unreadable file: truncated, empty, garbled
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise DamagedCheckpoint(f"{path}: cannot read the {what} ({type(e).__name__}: {first})") from None


def read_checkpoint(path) -> Checkpoint:
    """Read every file of a checkpoint; :class:`DamagedCheckpoint` names the first that is unreadable."""
    from safetensors.torch import load_file

    path = Path(path)
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise DamagedCheckpoint(f"{path}: holds no .safetensors file")
    weights: dict = {}
    for f in files:
        weights.update(_read(f, "model weights", load_file))

    def load_pt(p):
        return torch.load(p, weights_only=True)

    def load_state(p):
        saved = json.loads(p.read_text(encoding="utf-8"))
        return saved, TrainState.from_dict(saved)

    optim_state = _read(path / "optimizer.pt", "optimizer state", load_pt)
    scheduler_state = _read(path / "scheduler.pt", "scheduler state", load_pt)
    rng = _read(path / "rng.pt", "random-generator state", load_pt)
    saved, state = _read(path / "state.json", "training state", load_state)
    if "python_random" in saved:  # checkpoints written before the RNG state moved to rng.pt
        rng["python"] = saved["python_random"]
    if not isinstance(rng, dict) or "torch" not in rng:
        raise DamagedCheckpoint(f"{path / 'rng.pt'}: not a random-generator state")
    named = _NAME.match(path.name)
    if named and int(named.group(1)) != state.step:
        raise DamagedCheckpoint(f"{path / 'state.json'}: says step {state.step}, but the checkpoint is "
                                f"{path.name}")
    config = None
    if (path / "config.yaml").exists():
        def load_config(p):
            import yaml

            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
            if not isinstance(loaded, dict):
                raise ValueError("not a mapping of keys to values")
            return loaded

        config = _read(path / "config.yaml", "config", load_config)
    return Checkpoint(path, weights, optim_state, scheduler_state, rng, state, int(saved.get("world_size", 1)),
                      config, saved.get("base_fingerprint"))


def read_newest_whole(run_dir) -> Checkpoint | None:
    """The newest checkpoint that reads whole; a damaged newer one is skipped with a warning naming
    the file. None when there is none; an error when every checkpoint is damaged."""
    found = list_checkpoints(run_dir)
    problems = []
    for path in reversed(found):
        try:
            return read_checkpoint(path)
        except DamagedCheckpoint as e:
            problems.append(str(e))
            log.warning("checkpoint damaged, trying the previous one: %s", e)
    if problems:
        raise UserInputError(f"no checkpoint under {Path(run_dir) / CHECKPOINT_DIR} can be read: "
                             + "; ".join(problems))
    return None


def apply_weights(checkpoint: Checkpoint, model) -> None:
    """Load the checkpoint's weights into an unwrapped model (before DDP/FSDP wrapping); a LoRA
    model's checkpoint holds its adapter only."""
    if is_adapted(model):
        if checkpoint.base_fingerprint is not None and base_fingerprint(model) != checkpoint.base_fingerprint:
            raise UserInputError(f"checkpoint {checkpoint.path}: its LoRA adapter was trained on other base weights "
                                 "than the model now given (their fingerprints differ); resume with the same base "
                                 "model, or start a new run")
        missing, unexpected = load_adapter_state(model, checkpoint.weights)
        tied = set()
    else:
        missing, unexpected = model.load_state_dict(checkpoint.weights, strict=False)
        tied = tied_parameter_names(model)
    if unexpected or set(missing) - tied:
        raise UserInputError(f"checkpoint {checkpoint.path} does not match the model: missing "
                             f"{sorted(set(missing) - tied)[:5]}, unexpected {sorted(unexpected)[:5]}")
    checkpoint.weights = {}  # applied: free the copy


def apply_training_state(checkpoint: Checkpoint, model, optimizer, scheduler) -> TrainState:
    """Load optimizer, scheduler and RNG state (after wrapping); returns the saved :class:`TrainState`."""
    from .distributed import load_full_state_dicts

    load_full_state_dicts(model, optimizer, None, checkpoint.optim_state)
    scheduler.load_state_dict(checkpoint.scheduler_state)
    restore_rng(checkpoint.rng)
    checkpoint.optim_state = {}
    return checkpoint.state
