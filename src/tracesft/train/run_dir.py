"""Owning a run directory: one writer at a time, no silent overwrite, and an honest resume.

- A lock (``RUN_DIR/.lock``, ``flock``) is held by the process that trains into the directory; a
  second ``tracesft train`` on it stops with the holder's pid. The kernel releases the lock when
  its process dies, so a stale lock never blocks.
- Without ``--resume`` a directory with checkpoints is refused; with it, the newest checkpoint that
  reads whole is used (see :mod:`tracesft.train.checkpoint`).
- On resume the config may change only where it cannot change the run's trajectory (evaluation,
  checkpointing, logging; ``gradient_accumulation_steps`` too when the number of ranks changes and
  the global batch does not); other changes are refused unless forced, and then applied and
  recorded, never only recorded.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

import yaml

from ..errors import UserInputError
from . import checkpoint as ckpt
from .config import save_config
from .distributed import barrier

__all__ = ["RunLock", "prepare_run_dir", "config_changes", "resume_changes", "resume_from", "RESUME_SAFE_KEYS"]

log = logging.getLogger(__name__)

#: keys a resume may change freely: they do not touch the weights' trajectory
RESUME_SAFE_KEYS = frozenset({
    "eval_data", "eval_every", "eval_n", "eval_batch_size", "eval_max_new_tokens", "eval_temperature", "eval_kl",
    "eval_top_p", "eval_samples", "eval_pass_k", "keep_best", "early_stop_patience",
    "eval_before", "eval_backend", "vllm_device", "vllm_gpu_memory_utilization", "checkpoint_every", "keep_last",
    "log", "plots", "progress", "output_dir",
    "device", "parallel", "fused_logprobs", "gradient_checkpointing", "threads",
})


class RunLock:
    """An exclusive ``flock`` on ``RUN_DIR/.lock`` for as long as the run lasts (released on exit)."""

    def __init__(self, run_dir: Path) -> None:
        import fcntl

        self.path = Path(run_dir) / ".lock"
        try:  # never through a symbolic link: truncating it would damage the file it points to
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as e:
            raise UserInputError(f"{run_dir}: cannot open its lock file {self.path} ({e.strerror}; "
                                 "a symbolic link is refused)") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(self.fd)
            raise UserInputError(f"{run_dir} is in use by {holder}: wait for that run to end or stop it "
                                 "(two writers would interleave their checkpoints)") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"process {os.getpid()} on {socket.gethostname()} since {time.ctime()}".encode(), 0)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the lock
            self.fd = None


def read_saved_config(run_dir: Path) -> dict | None:
    """The run's config.yaml as a mapping; None when it is missing; one line when it is not a config."""
    saved_path = Path(run_dir) / "config.yaml"
    if not saved_path.is_file():
        return None
    from ..data.sources import read_bounded_text

    try:
        saved = yaml.safe_load(read_bounded_text(saved_path, "config"))
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as e:
        raise UserInputError(f"{saved_path}: not a readable config ({type(e).__name__}); remove that directory "
                             "or restore the file") from None
    if saved is None:
        return {}
    if not isinstance(saved, dict):
        raise UserInputError(f"{saved_path}: not a mapping of config keys")
    return saved


def config_changes(cfg, run_dir: Path, ignore=frozenset(), saved: dict | None = None) -> dict:
    """``{key: (saved, new)}`` for the keys whose value differs from ``saved`` (default: the run's
    config.yaml)."""
    if saved is None:
        saved = read_saved_config(run_dir) or {}
    return {k: (saved[k], v) for k, v in cfg.to_dict().items() if k in saved and saved[k] != v and k not in ignore}


def resume_changes(cfg, run_dir: Path, saved: dict | None = None) -> dict:
    """Keys whose value differs from the saved config (the checkpoint's copy when given, else the
    run's config.yaml) and that change its trajectory."""
    return config_changes(cfg, run_dir, RESUME_SAFE_KEYS, saved)


def _check_resume(cfg, run_dir: Path, checkpoint: ckpt.Checkpoint, force: bool, world_size: int) -> dict:
    step = checkpoint.state.step
    if cfg.max_steps is not None and cfg.max_steps < step:
        raise UserInputError(f"--resume {run_dir}: the run is at step {step}, past max_steps={cfg.max_steps}")
    changes = resume_changes(cfg, run_dir, checkpoint.config)
    if "gradient_accumulation_steps" in changes:  # fine on another number of ranks with the same global batch
        old, new = changes["gradient_accumulation_steps"]
        if old * checkpoint.world_size == new * world_size:
            del changes["gradient_accumulation_steps"]
    if changes and not force:
        listed = ", ".join(f"{k} {old!r} -> {new!r}" for k, (old, new) in changes.items())
        hint = ""
        if checkpoint.config is not None and _differs_from_copy(run_dir, checkpoint.config):
            hint = (f" ({run_dir / 'config.yaml'} differs from the checkpoint's copy "
                    f"{checkpoint.path / 'config.yaml'}: if it was damaged, copy that one back)")
        raise UserInputError(f"--resume {run_dir}: {listed} would not continue the same run{hint}; start a new run, "
                             "or pass --force to apply the change from this step on (it is recorded in metrics.jsonl)")
    return changes


def _differs_from_copy(run_dir: Path, copy: dict) -> bool:
    try:
        saved = read_saved_config(run_dir)
    except UserInputError:
        return True
    return saved is None or {k: v for k, v in saved.items() if k != "output_dir"} != \
        {k: v for k, v in copy.items() if k != "output_dir"}


#: what a finished run holds; training over it needs --resume or --overwrite
FINISHED_MARKS = ("final", "summary.json")


def _legacy_run(run_dir: Path) -> bool:
    """A run written before run directories carried a marker: a config and a checkpoint (whether one
    reads whole is checked by the resume itself)."""
    return (run_dir / "config.yaml").is_file() and ckpt.latest_checkpoint(run_dir) is not None


def _wipe_run(run_dir: Path) -> None:
    """--overwrite: delete a run's own contents (the directory is one of ours: it has the marker)."""
    import shutil

    from ..outputs import MARKER

    for p in run_dir.iterdir():
        if p.name in (MARKER, ".lock"):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def prepare_run_dir(cfg, resume: bool, info, force: bool = False, overwrite: bool = False):
    """Claim and lock the directory (rank 0), refuse to overwrite a run or to resume nothing, tidy
    what an interrupted save left, check the resume contract, write the resolved config.

    The directory must be missing, empty, or a run of ``tracesft train`` (:func:`tracesft.outputs.claim_dir`);
    one that holds checkpoints or a finished run (``final/``, ``summary.json``) is refused without
    ``resume``, unless ``overwrite`` deletes the old run first.

    Returns ``(lock, checkpoint, changes)``: the lock to release at the end (None on other ranks),
    the checkpoint to resume from (None for a new run) and the forced config changes.
    """
    run_dir = Path(cfg.output_dir)
    if resume and not run_dir.is_dir():
        raise UserInputError(f"--resume {run_dir}: no such run directory")
    if resume and overwrite:
        raise UserInputError("--resume and --overwrite contradict each other: choose one")
    lock = None
    if info.is_main:
        from ..outputs import check_output, claim_dir

        if overwrite:  # what --overwrite deletes must not hold the model or the data this run reads
            inputs = [cfg.model, *cfg.train_paths, *(src.path for src in cfg.eval_sources())]
            check_output(run_dir, inputs, directory=True, flag="output_dir")
        claim_dir(run_dir, "train", adopt=_legacy_run if resume else None)
        lock = RunLock(run_dir)
    try:
        if info.is_main:
            if overwrite:
                _wipe_run(run_dir)
            ckpt.clean_partial(run_dir)
            from ..outputs import clean_stale

            for name in clean_stale(run_dir):  # what a kill during a write of final/, config.yaml, ... left
                log.warning("%s: removed %s, left by an interrupted write", run_dir, name)
        barrier(info)
        if not resume and ckpt.latest_checkpoint(run_dir) is not None:
            raise UserInputError(f"{run_dir} already holds checkpoints: resume with --resume {run_dir}, "
                                 "train it anew with --overwrite, or choose another output_dir")
        finished = [m for m in FINISHED_MARKS if (run_dir / m).exists()]
        if not resume and finished:
            raise UserInputError(f"{run_dir} holds a finished run ({', '.join(finished)}): resume with --resume "
                                 f"{run_dir}, train it anew with --overwrite, or choose another output_dir")
        checkpoint = ckpt.read_newest_whole(run_dir) if resume else None
        if resume and checkpoint is None:
            raise UserInputError(f"--resume {run_dir}: no whole checkpoint under {run_dir / ckpt.CHECKPOINT_DIR} "
                                 "(a run stopped before its first checkpoint has nothing to resume): run the "
                                 "same command without --resume to start it again")
        changes = _check_resume(cfg, run_dir, checkpoint, force, info.world_size) if checkpoint is not None else {}
        if info.is_main:
            save_config(cfg, run_dir / "config.yaml")
        barrier(info)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    return lock, checkpoint, changes


def resume_from(checkpoint: ckpt.Checkpoint, c, cfg, changes: dict):
    """Restore optimizer, scheduler and RNG state; drop metrics logged after the checkpoint; apply
    and record forced config changes. Returns the run's :class:`TrainState`."""
    state = ckpt.apply_training_state(checkpoint, c.model, c.optimizer, c.scheduler)
    c.metrics.truncate_after(state.step)
    log.info("resumed from %s (step %d, epoch %d)", checkpoint.path, state.step, state.epoch)
    if changes:  # forced: applied from this step on, and recorded
        if "lr" in changes:  # the scheduler scales its saved base lr: replace it, not only the record,
            # and the lr the optimizer holds for the next step (the scheduler set it from the old one)
            sched = c.scheduler
            sched.base_lrs = [cfg.lr] * len(c.optimizer.param_groups)
            for group, base, factor in zip(c.optimizer.param_groups, sched.base_lrs, sched.lr_lambdas):
                group["lr"] = base * factor(sched.last_epoch)
            sched._last_lr = [group["lr"] for group in c.optimizer.param_groups]
        c.metrics.write({"kind": "resume", "step": state.step, "changed": changes})
        log.warning("resumed with changed %s (--force)", ", ".join(changes))
    return state
