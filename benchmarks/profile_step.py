"""Where one tracesft optimizer step spends its time, on the throughput benchmark's model and data.

    python benchmarks/profile_step.py [--model qwen-vocab|smollm2-135m-instruct] [--micro-batch 16]
                                      [--accumulation 2] [--steps 3] [--fused 1 0] [--rows 12]
    python benchmarks/profile_step.py --quick     # a smoke run: qwen-vocab, 2 x 2, 1 step

Profiles the product's own step: the parts come from ``tracesft.train.builders.build_components``
(as ``tracesft train`` builds them) and each step is the training loop's ``_optimizer_step``
(``train_step``'s forward and backward over the micro-batches, clipping, AdamW, the schedule). The
phases are read with hooks, not by re-running anything: forward hooks on the log-prob module and
on the decoder (``model.base_model``), a gradient hook on the decoder's output hidden states (when
it fires, the head's backward is done and the decoder's begins), the optimizer's step hooks, and a
timer around ``clip_grad_norm_``. "head forward" is the module's forward minus the decoder's (the
fused chunked head, or the full logits with --fused 0); "head backward" runs from the end of the
forward to the hidden states' gradient (the loss's few elementwise ops included); "decoder
backward" from there to the micro-batch's end (the entropy bookkeeping included).

Prints (1) the phases over ``--steps`` steps after a warm-up step (medians), and (2)
torch.profiler's operators by self CPU time for one more step. Each --fused variant runs in a
fresh process (benchmarks/harness.py); the result goes to benchmarks/results/profile_step-DATE.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import harness
from workloads import MODELS, prepare, train_config

PHASES = ("decoder forward", "head forward", "head backward", "decoder backward", "clip grad norm",
          "optimizer (AdamW)", "other (schedule, zero_grad, metrics)")


def profile(workdir: Path, steps: int, fused: bool, rows: int) -> dict:
    import torch

    from tracesft.train import distributed as dist_
    from tracesft.train import loop
    from tracesft.train.builders import build_components
    from tracesft.train.state import TrainState

    out = Path(tempfile.mkdtemp(dir=workdir))
    cfg = train_config(workdir, out, max_steps=steps + 2, fused_logprobs=fused)
    info = dist_.setup_distributed(cfg.device)
    torch.manual_seed(cfg.seed)
    c = build_components(cfg, info, None)
    state, reduce_sum = TrainState(), partial(dist_.all_reduce_sum, info=info)
    batches = iter(c.data.epoch(0))

    marks: list[tuple[str, float]] = []  # (event, time) in the order they happen within a step

    def mark(event):
        return lambda *a, **k: marks.append((event, time.perf_counter()))

    def on_decoder_output(_module, _args, output):
        marks.append(("decoder end", time.perf_counter()))
        hidden = output[0] if isinstance(output, tuple) else output.last_hidden_state
        if hidden.requires_grad:
            hidden.register_hook(lambda g: marks.append(("hidden grad", time.perf_counter())))

    decoder = c.model.base_model
    c.module.register_forward_pre_hook(mark("module start"))
    c.module.register_forward_hook(mark("module end"))
    decoder.register_forward_pre_hook(mark("decoder start"))
    decoder.register_forward_hook(on_decoder_output)
    c.optimizer.register_step_pre_hook(mark("optimizer start"))
    c.optimizer.register_step_post_hook(mark("optimizer end"))
    clip = torch.nn.utils.clip_grad_norm_

    def timed_clip(*a, **k):
        marks.append(("clip start", time.perf_counter()))
        try:
            return clip(*a, **k)
        finally:
            marks.append(("clip end", time.perf_counter()))

    torch.nn.utils.clip_grad_norm_ = timed_clip  # the loop looks it up at call time

    def one_step() -> tuple[dict, dict]:
        marks.clear()
        t0 = time.perf_counter()
        row = loop._optimizer_step(cfg, c, state, next(batches), reduce_sum, info.world_size)
        marks.append(("step end", time.perf_counter()))
        return _phases(marks, t0), row

    one_step()  # warm-up
    recorded, rows_ = [], []
    for _ in range(steps):
        phases, row = one_step()
        recorded.append(phases)
        rows_.append(row)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        one_step()
    medians = {k: statistics.median(p[k] for p in recorded) for k in PHASES}
    step_s = statistics.median(sum(p.values()) for p in recorded)
    tokens = statistics.median(r["tokens"] for r in rows_)
    return {"fused": fused, "threads": torch.get_num_threads(), "step_s": step_s, "tokens_per_step": tokens,
            "tokens_per_s": tokens / step_s, **{f"phase {k}": v for k, v in medians.items()},
            "steps": recorded, "loop_rows": rows_,
            "profile": prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)}


def _phases(marks: list[tuple[str, float]], t0: float) -> dict:
    """Seconds per phase from one step's marks (every micro-batch: module start, decoder start/end,
    module end, hidden grad; then clip and optimizer)."""
    t = dict.fromkeys(PHASES, 0.0)
    last = {}
    for event, when in marks:
        if event == "module start" and "hidden grad" in last:  # the previous micro-batch's backward ends here
            t["decoder backward"] += when - last.pop("hidden grad")
        elif event == "decoder end":
            t["decoder forward"] += when - last["decoder start"]
        elif event == "module end":
            t["head forward"] += (when - last["module start"]) - (last["decoder end"] - last["decoder start"])
        elif event == "hidden grad":
            t["head backward"] += when - last["module end"]
        elif event == "clip start" and "hidden grad" in last:  # after the last micro-batch
            t["decoder backward"] += when - last.pop("hidden grad")
        elif event == "clip end":
            t["clip grad norm"] += when - last["clip start"]
        elif event == "optimizer end":
            t["optimizer (AdamW)"] += when - last["optimizer start"]
        last[event] = when
    total = marks[-1][1] - t0
    t["other (schedule, zero_grad, metrics)"] = total - sum(t.values())
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen-vocab", choices=MODELS)
    ap.add_argument("--micro-batch", type=int, default=16)
    ap.add_argument("--accumulation", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    ap.add_argument("--fused", type=int, nargs="+", default=[1], choices=[0, 1],
                    help="1: the fused log-prob head (the default of training), 0: full logits; both: two cases")
    ap.add_argument("--rows", type=int, default=12, help="operators shown from torch.profiler")
    ap.add_argument("--quick", action="store_true", help="a smoke run: qwen-vocab, micro-batch 2 x 2, 1 step")
    harness.add_arguments(ap, rounds=1)
    ap.add_argument("--case", nargs=2, metavar=("WORKDIR", "FUSED"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        harness.emit(profile(Path(args.case[0]), args.steps, bool(int(args.case[1])), args.rows))
        return
    if args.quick:
        args.model, args.micro_batch, args.accumulation, args.steps, args.rows = "qwen-vocab", 2, 2, 1, 8
    work = Path(tempfile.mkdtemp(prefix="tracesft-prof-"))
    pairs = max(64, (args.steps + 2) * args.micro_batch * args.accumulation * 2)
    prepare(work, pairs, args.model, args.micro_batch, args.accumulation)
    common = ["--steps", str(args.steps), "--rows", str(args.rows)]
    cases = [harness.Case("fused" if f else "plain", [__file__, "--case", str(work), str(f), *common])
             for f in args.fused]
    params = {k: v for k, v in vars(args).items() if k not in ("case", "results", "no_save")}
    result = harness.run(cases, rounds=args.rounds, params={**params, "pairs": pairs}, verbose=False)
    for case in cases:
        run = result["cases"][case.name]["runs"][-1]
        step = harness.median(result, case.name, "step_s")
        print(f"\n{args.model}: micro-batch {args.micro_batch} x {args.accumulation}, {case.name} head, float32, "
              f"CPU, {run['threads']} threads; median of {args.steps} steps (after a warm-up), "
              f"{harness.median(result, case.name, 'tokens_per_step'):.0f} tokens per step")
        print(f"{'phase':<38} {'seconds':>8} {'share':>6}")
        for k in PHASES:
            v = harness.median(result, case.name, f"phase {k}")
            print(f"{k:<38} {v:>8.3f} {100 * v / step:>5.1f}%")
        print(f"{'step':<38} {step:>8.3f}  = {harness.median(result, case.name, 'tokens_per_s'):.0f} tokens/s")
        print(run["profile"])
    harness.finish("profile_step", result, args)


if __name__ == "__main__":
    main()
