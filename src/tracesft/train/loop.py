"""The training loop: setup, then for each step: batches, forward, loss, backward, clip, step, log,
eval, checkpoint. Reads top to bottom; the pieces it calls live in small modules next to it."""

from __future__ import annotations

import json
import logging
import math
import signal
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from ..data import apply_template, filter_correct, load_examples, load_template
from ..evaluate import load_model_and_tokenizer, log_generations
from ..grading import free_form_reward_fn, r1_zero_reward_fn
from ..logprobs import get_response_log_probs
from ..losses import kl_penalty
from ..tokenization import tokenize_prompt_and_output
from . import checkpoint as ckpt
from . import distributed as dist_
from .batching import accumulate_step, build_train_set, epoch_plan
from .config import TrainConfig, save_config

__all__ = ["train", "TrainingError", "lr_lambda"]

log = logging.getLogger(__name__)
REWARDS = {"r1_zero": r1_zero_reward_fn, "free_form": free_form_reward_fn}


class TrainingError(RuntimeError):
    """A run that cannot go on (non-finite loss, out of memory); the message says what to do."""


def lr_lambda(cfg: TrainConfig, total_steps: int):
    """Multiplier of cfg.lr at a given optimizer step: linear warmup, then constant/linear/cosine decay."""

    def f(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / (cfg.warmup_steps + 1)
        if cfg.lr_schedule == "constant":
            return 1.0
        progress = min(1.0, (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps))
        if cfg.lr_schedule == "linear":
            shape = 1.0 - progress
        else:
            shape = 0.5 * (1.0 + math.cos(math.pi * progress))
        return cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * shape

    return f


class _MetricsLog:
    """metrics.jsonl (always), plus tensorboard / wandb when configured."""

    def __init__(self, run_dir: Path, backend: str, config: dict, enabled: bool = True) -> None:
        self.path = run_dir / "metrics.jsonl"
        self.enabled = enabled
        self.tb = self.wandb = None
        if backend == "tensorboard":
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as e:
                raise ValueError("log: tensorboard needs the extra: pip install 'tracesft[tensorboard]'") from e
            self.tb = SummaryWriter(str(run_dir / "tensorboard"))
        elif backend == "wandb":
            import os

            try:
                import wandb
            except ImportError as e:
                raise ValueError("log: wandb needs the extra: pip install 'tracesft[wandb]'") from e
            if not os.environ.get("WANDB_API_KEY"):
                os.environ.setdefault("WANDB_MODE", "offline")
            self.wandb = wandb.init(project="tracesft", dir=str(run_dir), config=config)

    def reset(self) -> None:
        if self.enabled:
            self.path.write_text("", encoding="utf-8")

    def truncate_after(self, step: int) -> None:
        """On resume: drop rows logged after the checkpoint (they will be logged again)."""
        if not self.enabled or not self.path.exists():
            return
        rows = [line for line in self.path.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= step]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(r + "\n" for r in rows), encoding="utf-8")
        tmp.replace(self.path)

    def write(self, row: dict) -> None:
        if not self.enabled:
            return
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        numbers = {k: v for k, v in row.items() if isinstance(v, (int, float)) and k != "step"}
        if self.tb is not None:
            for k, v in numbers.items():
                self.tb.add_scalar(f"{row.get('kind', 'train')}/{k}", v, row["step"])
        if self.wandb is not None:
            self.wandb.log({f"{row.get('kind', 'train')}/{k}": v for k, v in numbers.items()}, step=row["step"])

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
        if self.wandb is not None:
            self.wandb.finish()


class _StopFlag:
    """SIGINT/SIGTERM ask the loop to stop after the current step (installed from the main thread only)."""

    def __init__(self) -> None:
        self.signal = None
        self._old = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.signal is not None:  # a second signal: stop now
            raise KeyboardInterrupt
        self.signal = signal.Signals(signum).name
        log.warning("%s received: finishing the current step, then saving", self.signal)

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


@dataclass
class _Data:
    train_set: object
    eval_prompts: list
    eval_truths: list
    report: dict


def _prepare_data(cfg: TrainConfig, tokenizer, reward_fn, progress: bool, load_eval: bool = True) -> _Data:
    template = load_template(cfg.template)
    examples = load_examples(cfg.train_data, require_response=True)
    report = {"n_train_examples": len(examples)}
    if cfg.filter_correct:
        examples, frep = filter_correct(examples, reward_fn, progress=progress)
        report["filter"] = frep.to_dict()
        for line in frep.lines():
            log.info("filter: %s", line)
    if not examples:
        raise ValueError(f"{cfg.train_data}: no training examples left")
    train_set = build_train_set([apply_template(template, e.prompt) for e in examples],
                                [e.response for e in examples], tokenizer, cfg.max_length)
    report.update(n_truncated=train_set.n_truncated, n_dropped_too_long=train_set.n_dropped,
                  n_train=len(train_set.prompts))
    log.info("train set: %d examples, %d truncated at max_length=%d, %d dropped (prompt fills max_length)",
             len(train_set.prompts), train_set.n_truncated, cfg.max_length, train_set.n_dropped)
    if not train_set.prompts:
        raise ValueError(f"every example's prompt fills max_length={cfg.max_length}; raise max_length")
    eval_prompts, eval_truths = [], []
    if cfg.eval_data and load_eval:
        held_out = load_examples(cfg.eval_data, require_ground_truth=True)[: cfg.eval_n]
        eval_prompts = [apply_template(template, e.prompt) for e in held_out]
        eval_truths = [e.ground_truth for e in held_out]
    return _Data(train_set, eval_prompts, eval_truths, report)


def _evaluate(cfg, model, tokenizer, data: _Data, reward_fn, ref_model, run_dir: Path, step: int) -> dict:
    result = log_generations(model, tokenizer, data.eval_prompts, data.eval_truths, reward_fn,
                             max_new_tokens=cfg.eval_max_new_tokens, temperature=cfg.eval_temperature,
                             batch_size=cfg.eval_batch_size, seed=cfg.seed, progress=False)
    gen_dir = run_dir / "generations"
    gen_dir.mkdir(exist_ok=True)
    with (gen_dir / f"step-{step:08d}.jsonl").open("w", encoding="utf-8") as f:
        for r in result["records"]:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    summary = dict(result["summary"])
    if ref_model is not None:
        summary["kl_k3"] = _mean_kl(model, ref_model, tokenizer, result["records"], cfg)
    return summary


@torch.no_grad()
def _mean_kl(model, ref_model, tokenizer, records, cfg) -> float | None:
    """Mean k3 estimate of KL(policy || starting model) over the eval responses' tokens."""
    usable = [r for r in records if r["response"]]
    if not usable:
        return None
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for s in range(0, len(usable), cfg.eval_batch_size):
            chunk = usable[s:s + cfg.eval_batch_size]
            batch = tokenize_prompt_and_output([r["prompt"] for r in chunk], [r["response"] for r in chunk],
                                               tokenizer, cfg.max_length)
            device = next(model.parameters()).device
            ids, labels, mask = (batch[k].to(device) for k in ("input_ids", "labels", "response_mask"))
            lp = get_response_log_probs(model, ids, labels, response_mask=mask)["log_probs"]
            ref = get_response_log_probs(ref_model, ids, labels, response_mask=mask)["log_probs"]
            n = int(mask.sum())
            total += float(kl_penalty(lp, ref, "k3", mask)) * n
            count += n
    finally:
        model.train(was_training)
    return total / count if count else None


def _is_oom(e: BaseException) -> bool:
    oom_type = getattr(torch, "OutOfMemoryError", None)
    return (oom_type is not None and isinstance(e, oom_type)) or "out of memory" in str(e).lower()


def _local_microbatches(step_plan: list, rank: int, accumulation: int) -> list:
    """This rank's contiguous share of a global step's micro-batches."""
    return step_plan[rank * accumulation:(rank + 1) * accumulation]


def train(cfg: TrainConfig, resume: bool = False) -> dict:
    """Run SFT as configured; returns the final summary (also written to RUN_DIR/summary.json).

    Under torchrun (WORLD_SIZE > 1) every rank runs this; ``micro_batch_size`` and
    ``gradient_accumulation_steps`` are per rank, so the global batch is their product times the
    number of ranks. Only rank 0 writes and evaluates.
    """
    info = dist_.setup_distributed(cfg.device)
    try:
        return _train(cfg, resume, info)
    finally:
        dist_.teardown_distributed(info)


def _train(cfg: TrainConfig, resume: bool, info) -> dict:
    run_dir = Path(cfg.output_dir)
    main = info.is_main
    if not resume and ckpt.latest_checkpoint(run_dir) is not None:
        raise ValueError(f"{run_dir} already holds checkpoints: resume with --resume {run_dir}, "
                         "or choose another output_dir")
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        ckpt.clean_partial(run_dir)
        save_config(cfg, run_dir / "config.yaml")
    dist_.barrier(info)
    torch.manual_seed(cfg.seed)
    device = f"cuda:{info.local_rank}" if cfg.device == "cuda" and info.enabled else cfg.device
    show_progress = cfg.progress and main

    # --- setup: model, data, optimizer, schedule -------------------------------------------------
    model, tokenizer = load_model_and_tokenizer(cfg.model, device=device, dtype=cfg.dtype,
                                                trust_remote_code=cfg.trust_remote_code, tokenizer_path=cfg.tokenizer)
    if cfg.gradient_checkpointing:
        model.config.use_cache = False
        model.gradient_checkpointing_enable()
    model.train()
    latest = ckpt.latest_checkpoint(run_dir) if resume else None
    if resume and latest is None:
        raise ValueError(f"--resume {run_dir}: no whole checkpoint found under {run_dir / ckpt.CHECKPOINT_DIR}")
    if latest is not None:
        ckpt.load_checkpoint_weights(latest, model)
    tied = ckpt.tied_parameter_names(model)  # e.g. a tied lm_head: saved once, as transformers does
    module = dist_.wrap_for_training(model, cfg.parallel, info, cfg.fused_logprobs)

    def full_states():
        model_state, optim_state = dist_.full_state_dicts(model, optimizer)  # collective under FSDP
        return {k: v for k, v in model_state.items() if k not in tied}, optim_state
    reward_fn = REWARDS[cfg.reward]
    data = _prepare_data(cfg, tokenizer, reward_fn, show_progress, load_eval=main)
    ts = data.train_set
    G, W = cfg.gradient_accumulation_steps, info.world_size

    def plan_for(epoch: int) -> list:
        plan = epoch_plan(ts.lengths, cfg.micro_batch_size, G * W, cfg.seed, epoch, cfg.group_by_length)
        # Every rank needs its G micro-batches: a short last step is dropped under several processes.
        return [s for s in plan if len(s) == G * W] if W > 1 else plan

    steps_per_epoch = len(plan_for(0))
    if steps_per_epoch == 0:
        raise ValueError(f"{len(ts.prompts)} examples do not fill one global batch of "
                         f"{cfg.micro_batch_size} x {G} x {W} ranks")
    total_steps = cfg.max_steps or steps_per_epoch * cfg.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(cfg.adam_beta1, cfg.adam_beta2),
                                  weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg, total_steps))
    ref_model = None
    if cfg.eval_kl and data.eval_prompts and main:
        ref_model, _ = load_model_and_tokenizer(cfg.model, device=device, dtype=cfg.dtype,
                                                trust_remote_code=cfg.trust_remote_code)
        ref_model.eval().requires_grad_(False)

    metrics = _MetricsLog(run_dir, cfg.log if main else "none", cfg.to_dict(), enabled=main)
    step, epoch, step_in_epoch = 0, 0, 0
    if latest is not None:
        state = ckpt.load_checkpoint_training_state(latest, model, optimizer, scheduler)
        step, epoch, step_in_epoch = state["step"], state["epoch"], state["step_in_epoch"]
        metrics.truncate_after(step)
        log.info("resumed from %s (step %d, epoch %d)", latest, step, epoch)
    else:
        metrics.reset()

    def save(reason: str) -> Path | None:
        model_state, optim_state = full_states()
        path = None
        if main:
            path = ckpt.save_checkpoint(run_dir, step, model, tokenizer, model_state, optim_state, scheduler,
                                        {"epoch": epoch, "step_in_epoch": step_in_epoch, "reason": reason,
                                         "world_size": W}, cfg.keep_last)
        dist_.barrier(info)
        return path

    def evaluate() -> dict | None:
        eval_model = model
        if info.enabled and cfg.parallel == "fsdp":  # rank 0 evaluates an unsharded copy
            full, _ = full_states()
            if main:
                from transformers import AutoModelForCausalLM

                eval_model = AutoModelForCausalLM.from_config(model.config).to(device)
                eval_model.load_state_dict(full, strict=False)
        row = None
        if main:
            row = {"kind": "eval", "step": step, **_evaluate(cfg, eval_model, tokenizer, data, reward_fn,
                                                           ref_model, run_dir, step)}
            metrics.write(row)
            log.info("eval at step %d: accuracy %.3f, format rate %.3f", step, row["accuracy"], row["format_rate"])
        dist_.barrier(info)
        return row

    from tqdm.auto import tqdm

    t_start = time.perf_counter()
    eval_rows = []
    last_row: dict = {}
    interrupted = None
    has_eval = bool(cfg.eval_data)
    if cfg.eval_before and has_eval and step == 0:
        eval_rows.append(evaluate())
    bar = tqdm(total=total_steps, initial=step, disable=not show_progress, desc="train", unit="step")
    reduce_sum = partial(dist_.all_reduce_sum, info=info)
    # --- the loop ----------------------------------------------------------------------------------
    with _StopFlag() as stop:
        while step < total_steps and interrupted is None:
            plan = plan_for(epoch)
            while step_in_epoch < len(plan) and step < total_steps:
                t0 = time.perf_counter()
                try:
                    local = _local_microbatches(plan[step_in_epoch], info.rank, G)
                    stats = accumulate_step(module, tokenizer, ts, local,
                                            max_length=cfg.max_length, loss_normalization=cfg.loss_normalization,
                                            normalize_constant=cfg.normalize_constant, reduce_sum=reduce_sum,
                                            data_parallel_size=W)
                except RuntimeError as e:
                    if _is_oom(e):
                        raise TrainingError(f"out of memory at step {step + 1}: lower micro_batch_size "
                                            f"(now {cfg.micro_batch_size}) or max_length (now {cfg.max_length}), "
                                            "or set gradient_checkpointing=true") from None
                    raise
                if not math.isfinite(stats["loss"]):
                    last = ckpt.latest_checkpoint(run_dir)
                    raise TrainingError(f"non-finite loss ({stats['loss']}) at step {step + 1}; the optimizer step "
                                        f"was not taken; last good checkpoint: {last or 'none'}")
                grad_norm = torch.nn.utils.clip_grad_norm_(
                    model.parameters(), cfg.max_grad_norm if cfg.max_grad_norm > 0 else float("inf"))
                if hasattr(grad_norm, "full_tensor"):  # DTensor under FSDP2
                    grad_norm = grad_norm.full_tensor()
                lr = optimizer.param_groups[0]["lr"]
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                step_in_epoch += 1
                seconds = time.perf_counter() - t0
                n_pos = stats["padded_tokens"] + stats["total_tokens"]
                last_row = {"kind": "train", "step": step, "epoch": epoch, "loss": stats["loss"],
                            "grad_norm": float(grad_norm), "lr": lr, "response_tokens": stats["response_tokens"],
                            "tokens": stats["total_tokens"], "tokens_per_second": stats["total_tokens"] / seconds,
                            "padding_fraction": stats["padded_tokens"] / max(1, n_pos),
                            "entropy": stats["entropy"], "seconds": seconds}
                metrics.write(last_row)
                bar.update(1)
                bar.set_postfix(loss=f"{stats['loss']:.4f}", lr=f"{lr:.2e}",
                                tok_s=f"{last_row['tokens_per_second']:.0f}")
                if cfg.eval_every and step % cfg.eval_every == 0 and has_eval and step < total_steps:
                    eval_rows.append(evaluate())
                # Every rank must agree to stop at the same step.
                if reduce_sum([1.0 if stop.signal is not None else 0.0])[0] > 0:
                    interrupted = stop.signal or "SIGTERM"
                    break
                if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                    save("periodic")
            else:
                epoch += 1
                step_in_epoch = 0
    bar.close()

    if interrupted is not None:
        path = save(f"interrupted by {interrupted}")
        metrics.close()
        if main:
            print(f"stopped by {interrupted} at step {step}; checkpoint {path}\n"
                  f"resume with: tracesft train --resume {run_dir}", flush=True)
        return {"interrupted": interrupted, "step": step, "run_dir": str(run_dir)}

    # --- the end: evaluate, save the final model, plot, summarise ---------------------------------
    if has_eval:
        eval_rows.append(evaluate())
    save("final")
    final_dir = run_dir / "final"
    model_state, _ = full_states()
    metrics.close()
    summary = {"steps": step, "epochs_started": epoch + (step_in_epoch > 0), "seconds": time.perf_counter() - t_start,
               "final_loss": last_row.get("loss"), "final_model": str(final_dir), "world_size": W, **data.report}
    if not main:
        return summary
    model.save_pretrained(final_dir, state_dict=model_state, safe_serialization=True)
    tokenizer.save_pretrained(final_dir)
    if eval_rows:
        summary.update({f"eval_{k}": v for k, v in eval_rows[-1].items() if k not in ("kind", "step")})
        if cfg.eval_before:
            summary["eval_accuracy_before"] = eval_rows[0]["accuracy"]
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if cfg.plots:
        from ..plots import plot_run

        plot_run(run_dir)
    return summary
