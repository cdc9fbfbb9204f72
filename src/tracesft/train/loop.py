"""The training loop: build the parts, then for each step: micro-batches, forward, loss, backward,
clip, step, log, evaluate, checkpoint. The parts are built in ``builders``; one step's passes are
``step.train_step``; where the run is lives in a ``TrainState``."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from functools import partial
from pathlib import Path

import torch

from ..errors import MissingExtraError, TrainingError
from ..models.heads import without_tied
from ..models.lora import adapter_state, base_name, merged_state_dict, save_final
from ..models.unwrap import is_adapted
from ..outputs import write_json_atomic
from . import checkpoint as ckpt
from . import distributed as dist_
from .best import BestTracker, write_best
from .builders import Components, build_components
from .config import TrainConfig
from .evaluation import evaluate_during_training
from .normalization import NORMALIZATIONS
from .run_dir import prepare_run_dir, resume_from
from .signals import StopFlag
from .state import TrainState
from .step import is_oom, train_step

__all__ = ["train", "TrainingError"]

log = logging.getLogger(__name__)


def train(cfg: TrainConfig, resume: bool = False, force: bool = False, overwrite: bool = False) -> dict:
    """Run SFT as configured; returns the final summary (also written to RUN_DIR/summary.json).

    ``resume`` continues from the newest whole checkpoint in ``cfg.output_dir``; a config change
    that would alter the run's trajectory is refused unless ``force`` (see :mod:`.run_dir`).
    ``cfg.output_dir`` must be missing, empty or a run of its own; one that holds checkpoints or a
    finished run is trained over only with ``resume`` or ``overwrite`` (which deletes the old run).

    Under torchrun (WORLD_SIZE > 1) every rank runs this; ``micro_batch_size`` and
    ``gradient_accumulation_steps`` are per rank, so the global batch is their product times the
    number of ranks. Only rank 0 writes and evaluates.
    """
    from .threads import apply_threads

    apply_threads(cfg.threads, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    check_distributed_config(cfg, int(os.environ.get("WORLD_SIZE", "1")))  # on every rank, before any collective
    info = dist_.setup_distributed(cfg.device)
    try:
        return _run(cfg, resume, force, info, overwrite)
    finally:
        dist_.teardown_distributed(info)


def check_distributed_config(cfg: TrainConfig, world_size: int) -> None:
    """What would fail on rank 0 alone mid-run, said before the ranks start (one line, on every rank,
    rather than rank 0's error and the other ranks' broken collectives)."""
    if world_size > 1 and cfg.eval_backend == "vllm" and cfg.has_eval:
        from ..evaluate.vllm import vllm_unavailable_reason

        reason = vllm_unavailable_reason()
        if reason is not None:
            raise MissingExtraError("the vLLM backend", "vllm", hint=reason)


def _run(cfg: TrainConfig, resume: bool, force: bool, info: dist_.DistInfo, overwrite: bool = False) -> dict:
    t_wall = time.perf_counter()
    lock, checkpoint, changes = prepare_run_dir(cfg, resume, info, force, overwrite)
    try:
        torch.manual_seed(cfg.seed)
        c = build_components(cfg, info, checkpoint)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    state = resume_from(checkpoint, c, cfg, changes) if checkpoint is not None else TrainState()
    if checkpoint is None:
        c.metrics.reset()
    reduce_sum = partial(dist_.all_reduce_sum, info=info)
    best = BestTracker.for_config(cfg, _eval_rows(c) if checkpoint is not None and info.is_main else (),
                                  run_dir=cfg.output_dir)
    evaluate = partial(_evaluate, cfg, c, info, best, reduce_sum) if cfg.has_eval else None
    t_start, eval_rows, last_row, interrupted, early_stop = time.perf_counter(), [], {}, None, None
    try:
        if evaluate and cfg.eval_before and state.step == 0:
            eval_rows.append(evaluate(0)[0])
        import sys

        from tqdm.auto import tqdm

        show = cfg.progress and info.is_main
        on_terminal = sys.stderr.isatty()  # a bar on a terminal; in a log file, a plain line every tenth of the run
        bar = tqdm(total=c.total_steps, initial=state.step, disable=not (show and on_terminal), desc="train",
                   unit="step")
        every = max(1, c.total_steps // 10)
        with StopFlag() as stop:  # through the final evaluation too
            while state.step < c.total_steps and interrupted is None and early_stop is None:
                for batches in c.data.epoch(state.epoch, start=state.step_in_epoch):
                    last_row = _optimizer_step(cfg, c, state, batches, reduce_sum, info.world_size)
                    c.metrics.write(last_row)
                    bar.update(1)
                    bar.set_postfix(loss=f"{last_row['loss']:.4f}", lr=f"{last_row['lr']:.2e}",
                                    tok_s=f"{last_row['tokens_per_second']:.0f}")
                    if show and not on_terminal and (state.step % every == 0 or state.step == c.total_steps):
                        log.info("step %d/%d: loss %.4f, lr %.2e, %.0f tokens/s", state.step, c.total_steps,
                                 last_row["loss"], last_row["lr"], last_row["tokens_per_second"])
                    if evaluate and cfg.eval_every and state.step % cfg.eval_every == 0 \
                            and state.step < c.total_steps:
                        row, stop_now = evaluate(state.step)
                        eval_rows.append(row)
                        if stop_now:
                            early_stop = state.step
                            break
                    if reduce_sum([1.0 if stop.signal is not None else 0.0])[0] > 0:  # every rank stops together
                        interrupted = stop.signal or "SIGTERM"
                        break
                    if cfg.checkpoint_every and state.step % cfg.checkpoint_every == 0:
                        _save(cfg, c, state, info, "periodic")
                    if state.step >= c.total_steps:
                        break
                else:
                    state.next_epoch()
            bar.close()
            if interrupted is None and evaluate and early_stop is None:
                eval_rows.append(evaluate(state.step)[0])
                interrupted = stop.signal
        if interrupted is not None:
            path = _save(cfg, c, state, info, f"interrupted by {interrupted}")
            if info.is_main:
                print(f"stopped by {interrupted} at step {state.step}; checkpoint {path}\n"
                      f"resume with: tracesft train --resume {cfg.output_dir}", flush=True)
            return {"interrupted": interrupted, "step": state.step, "run_dir": str(cfg.output_dir)}
        if early_stop is not None and info.is_main:
            print(best.stop_line(early_stop), flush=True)
        summary = _finish(cfg, c, state, info, eval_rows, last_row, time.perf_counter() - t_start, best, early_stop,
                          t_wall)
        return summary
    finally:
        c.metrics.close()
        if c.evaluator is not None:
            c.evaluator.close()
        if lock is not None:
            lock.release()


def _eval_rows(c: Components) -> list[dict]:
    """The eval rows of metrics.jsonl (after a resume dropped those past the checkpoint)."""
    path = c.metrics.path
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r.get("kind") == "eval"]


def _evaluate(cfg: TrainConfig, c: Components, info: dist_.DistInfo, best: BestTracker, reduce_sum,
              step: int) -> tuple[dict | None, bool]:
    """Evaluate at ``step``; keep the model as best/ when it improves keep_best's metric (every
    rank takes part in gathering the weights); returns the row and whether to stop early."""
    row = evaluate_during_training(cfg, c, info, step)
    improved = best.observe(row) if info.is_main else False
    improved, stop_now = (v > 0 for v in reduce_sum([float(improved), float(best.should_stop and step > 0)]))
    if improved and best.keep:
        model_state, _ = _model_state(c, final=True)
        if info.is_main:
            write_best(Path(cfg.output_dir), c.model, model_state, c.tokenizer, best.record())
            log.info("best/: %s %.4g at step %d", best.key, best.value, step)
        dist_.barrier(info)
    return row, stop_now


def _optimizer_step(cfg: TrainConfig, c: Components, state: TrainState, batches: list, reduce_sum,
                    world_size: int) -> dict:
    """Forward/backward over this rank's micro-batches, clip, step; returns the step's metrics row."""
    t0 = time.perf_counter()
    try:
        stats = train_step(c.module, batches, NORMALIZATIONS[cfg.loss_normalization],
                           normalize_constant=cfg.normalize_constant, reduce_sum=reduce_sum, world_size=world_size,
                           autocast_dtype=torch.bfloat16 if cfg.precision == "bf16-mixed" else None)
    except RuntimeError as e:
        if is_oom(e):
            raise TrainingError(f"out of memory at step {state.step + 1}: lower micro_batch_size (now "
                                f"{cfg.micro_batch_size}) or max_length (now {cfg.max_length}), or set "
                                "gradient_checkpointing=true") from None
        raise
    if not math.isfinite(stats["loss"]):
        good = ckpt.last_finite_checkpoint(cfg.output_dir)  # newer ones may hold the weights that gave this loss
        raise TrainingError(f"non-finite loss ({stats['loss']}) at step {state.step + 1}; the optimizer step was not "
                            f"taken; last checkpoint with finite weights: {good or 'none'}"
                            + (" (resume from it after lowering lr: remove the checkpoints after it)" if good else ""))
    max_norm = cfg.max_grad_norm if cfg.max_grad_norm > 0 else float("inf")
    grad_norm = torch.nn.utils.clip_grad_norm_(c.model.parameters(), max_norm)
    if hasattr(grad_norm, "full_tensor"):  # DTensor under FSDP2
        grad_norm = grad_norm.full_tensor()
    lr = c.optimizer.param_groups[0]["lr"]
    c.optimizer.step()
    c.scheduler.step()
    c.optimizer.zero_grad(set_to_none=True)
    epoch = state.epoch
    state.advance()
    seconds = time.perf_counter() - t0
    n_pos = stats["padded_tokens"] + stats["total_tokens"]
    return {"kind": "train", "step": state.step, "epoch": epoch, "loss": stats["loss"], "grad_norm": float(grad_norm),
            "lr": lr, "response_tokens": stats["response_tokens"], "tokens": stats["total_tokens"],
            "tokens_per_second": stats["total_tokens"] / seconds,
            "padding_fraction": stats["padded_tokens"] / max(1, n_pos), "entropy": stats["entropy"], "seconds": seconds}


def _model_state(c: Components, final: bool = False) -> tuple[dict, dict]:
    """What a checkpoint (or, ``final``, the final model) holds: the full model with tied copies left
    out, as transformers saves it (a LoRA run: its adapter; its final model: merged), and the
    optimizer state. Collective under FSDP."""
    model_state, optim_state = dist_.full_state_dicts(c.model, c.optimizer)
    if is_adapted(c.model):
        if not final:
            return adapter_state(c.model, model_state), optim_state
        return without_tied(merged_state_dict(c.model, model_state), {base_name(k) for k in c.tied}), optim_state
    return without_tied(model_state, c.tied), optim_state


def _save(cfg: TrainConfig, c: Components, state: TrainState, info: dist_.DistInfo, reason: str) -> Path | None:
    model_state, optim_state = _model_state(c)
    path = None
    if info.is_main:
        extra = {"reason": reason, "world_size": info.world_size}
        if is_adapted(c.model):  # the base the adapter is trained on: a resume checks it is the same
            if getattr(c, "base_fingerprint", None) is None:
                c.base_fingerprint = ckpt.base_fingerprint(c.model)
            extra["base_fingerprint"] = c.base_fingerprint
        path = ckpt.save_checkpoint(cfg.output_dir, state, c.model, c.tokenizer, model_state, optim_state, c.scheduler,
                                    extra, cfg.keep_last, config=cfg.to_dict())
    dist_.barrier(info)
    return path


def _save_final(c: Components, model_state: dict, final: Path) -> None:
    """``final/`` whole or absent: written beside it, synced, renamed (a kill leaves the old one or none)."""
    from safetensors import SafetensorError

    from ..outputs import atomic_dir

    try:
        with atomic_dir(final) as tmp:
            save_final(c.model, model_state, tmp)  # LoRA: the merged model, and final/adapter
            c.tokenizer.save_pretrained(tmp)
    except (OSError, SafetensorError) as e:  # a full disk, a read-only directory
        import shutil

        free = shutil.disk_usage(final.parent).free
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        why = f"no space left on device ({free} bytes free)" if free < (1 << 20) else first
        raise TrainingError(f"cannot write {final}: {why}; the checkpoints under {final.parent / ckpt.CHECKPOINT_DIR}"
                            " are whole: fix that and resume with --resume") from None


def _finish(cfg: TrainConfig, c: Components, state: TrainState, info: dist_.DistInfo, eval_rows: list,
            last_row: dict, seconds: float, best: BestTracker | None = None, early_stop: int | None = None,
            t_wall: float | None = None) -> dict:
    """Save the last checkpoint (unless a periodic save just wrote this step) and the final model,
    write summary.json and the plots. ``seconds``: the loop (steps and evaluations); ``wall_seconds``
    in the summary: the whole run from ``t_wall`` (loading the model and data, saving included)."""
    if not (Path(cfg.output_dir) / ckpt.CHECKPOINT_DIR / f"step-{state.step:08d}").is_dir():
        _save(cfg, c, state, info, "final")
    model_state, _ = _model_state(c, final=True)
    run_dir = Path(cfg.output_dir)
    summary = {"steps": state.step, "epochs_started": state.epoch + (state.step_in_epoch > 0), "seconds": seconds,
               "final_loss": last_row.get("loss"), "final_model": str(run_dir / "final"),
               "world_size": info.world_size, **c.report}
    if not info.is_main:
        return summary
    _save_final(c, model_state, run_dir / "final")
    if eval_rows:
        summary.update({f"eval_{k}": v for k, v in eval_rows[-1].items() if k not in ("kind", "step")})
        if cfg.eval_before:
            summary["eval_accuracy_before"] = eval_rows[0]["accuracy"]
    if best is not None and best.key is not None:
        kept = best.keep and (run_dir / "best").is_dir()
        summary["best"] = {**best.record(), "path": str(run_dir / "best") if kept else None}
    if early_stop is not None:
        summary["early_stopped"] = {"step": early_stop, "metric": best.key, "patience": best.patience,
                                    "evaluations_without_improvement": best.since}
    if t_wall is not None:
        summary["wall_seconds"] = time.perf_counter() - t_wall
    write_json_atomic(run_dir / "summary.json", summary)
    if cfg.plots:
        from ..plots import plot_run

        plot_run(run_dir)
    from ..evaluate.report import write_report_quietly

    write_report_quietly(run_dir)  # a by-product: a failure is one warning line, not the run's failure
    return summary
