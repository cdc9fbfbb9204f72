"""Where one tracesft optimizer step spends its time, on the throughput benchmark's model and data.

    python benchmarks/profile_step.py [--model qwen-vocab|smollm2-135m-instruct] [--micro-batch 16]
                                      [--accumulation 2] [--steps 3] [--fused 1|0] [--rows 12]

Prints (1) the step split into phases, timed with perf_counter over ``--steps`` steps after a
warm-up: decoder forward, output head forward + backward (the fused chunked log-prob head, timed
on its own over the same hidden states), decoder backward, gradient clipping, optimizer; and (2)
torch.profiler's operators by self CPU time for one step.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen-vocab", choices=["qwen-vocab", "smollm2-135m-instruct"])
    ap.add_argument("--micro-batch", type=int, default=16)
    ap.add_argument("--accumulation", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--fused", type=int, default=1)
    ap.add_argument("--rows", type=int, default=12)
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from train_throughput import prepare

    from tracesft.evaluate import load_model_and_tokenizer
    from tracesft.fused_logprobs import _base_decoder, fused_linear_log_probs
    from tracesft.train.batching import TrainData, build_train_set
    from tracesft.train.distributed import LogProbModule

    work = Path(tempfile.mkdtemp(prefix="tracesft-prof-"))
    prepare(work, 64 * args.micro_batch, args.model, args.micro_batch, args.accumulation)
    model, tok = load_model_and_tokenizer(str(work / "model"))
    model.train()
    rows = [json.loads(line) for line in (work / "data.jsonl").read_text().splitlines()]
    ts = build_train_set([r["prompt"] for r in rows], [r["completion"] for r in rows], tok, 1024)
    steps = iter(TrainData(ts, micro_batch_size=args.micro_batch, accumulation=args.accumulation,
                           pad_id=tok.pad_token_id).epoch(0))
    module = LogProbModule(model, fused=bool(args.fused))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    decoder, head = _base_decoder(model), model.get_output_embeddings()
    phases: dict[str, list[float]] = {k: [] for k in ("forward (decoder + head)", "backward (decoder + head)",
                                                      "clip grad norm", "optimizer (AdamW)")}
    head_times, tokens = [], []

    def step(mbs, record: bool):
        t = {k: 0.0 for k in phases}
        for mb in mbs:
            t0 = time.perf_counter()
            out = module(mb["input_ids"], mb["labels"], mb["response_mask"])
            loss = -(out["log_probs"] * mb["response_mask"]).sum() / mb["response_mask"].sum()
            t1 = time.perf_counter()
            loss.backward()
            t["forward (decoder + head)"] += t1 - t0
            t["backward (decoder + head)"] += time.perf_counter() - t1
        t0 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        t1 = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        t["clip grad norm"], t["optimizer (AdamW)"] = t1 - t0, time.perf_counter() - t1
        if record:
            for k, v in t.items():
                phases[k].append(v)
            tokens.append(sum(mb["n_tokens"] for mb in mbs))
            # the output head alone (forward + backward) on this step's hidden states
            h_total = 0.0
            for mb in mbs:
                with torch.no_grad():
                    hidden = decoder(input_ids=mb["input_ids"], use_cache=False).last_hidden_state
                sel = hidden[mb["response_mask"]].detach().requires_grad_(True)
                t0 = time.perf_counter()
                lp, _ = fused_linear_log_probs(sel, head.weight, mb["labels"][mb["response_mask"]], head.bias)
                lp.sum().backward()
                h_total += time.perf_counter() - t0
            head.weight.grad = None
            head_times.append(h_total)

    step(next(steps), record=False)  # warm-up
    for _ in range(args.steps):
        step(next(steps), record=True)
    total = sum(statistics.median(v) for v in phases.values())
    print(f"{args.model}: micro-batch {args.micro_batch} x {args.accumulation}, fused head {bool(args.fused)}, "
          f"float32, CPU, {torch.get_num_threads()} threads; median of {args.steps} steps, "
          f"{statistics.median(tokens):.0f} tokens per step")
    print(f"{'phase':<28} {'seconds':>8} {'share':>6}")
    for k, v in phases.items():
        print(f"{k:<28} {statistics.median(v):>8.3f} {100 * statistics.median(v) / total:>5.1f}%")
    h = statistics.median(head_times)
    print(f"{'  of which output head':<28} {h:>8.3f} {100 * h / total:>5.1f}%  (fwd + bwd, timed apart)")
    print(f"{'step':<28} {total:>8.3f}  = {statistics.median(tokens) / total:.0f} tokens/s")

    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        step(next(steps), record=False)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
