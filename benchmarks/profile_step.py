"""Where one tracesft optimizer step spends its time (torch.profiler), on the throughput benchmark's
model and data: hidden 128, 4 layers, Qwen2.5 vocabulary, micro-batch 16 x 2, float32, CPU.

    python benchmarks/profile_step.py [--fused 1|0]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fused", type=int, default=1)
    ap.add_argument("--rows", type=int, default=12)
    args = ap.parse_args()
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from train_throughput import prepare

    from tracesft.data import apply_template, load_template  # noqa: F401
    from tracesft.evaluate import load_model_and_tokenizer
    from tracesft.train.batching import TrainData, build_train_set
    from tracesft.train.distributed import LogProbModule
    from tracesft.train.normalization import token_weights
    from tracesft.train.step import train_step

    work = Path(tempfile.mkdtemp(prefix="tracesft-prof-"))
    prepare(work, 64)
    model, tok = load_model_and_tokenizer(str(work / "model"))
    rows = [json.loads(line) for line in (work / "data.jsonl").read_text().splitlines()]
    ts = build_train_set([r["prompt"] for r in rows], [r["completion"] for r in rows], tok, 1024)
    steps = iter(TrainData(ts, micro_batch_size=16, accumulation=2, pad_id=tok.pad_token_id).epoch(0))
    module = LogProbModule(model, fused=bool(args.fused))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step(mbs):
        train_step(module, mbs, token_weights)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    step(next(steps))  # warm-up
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        step(next(steps))
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
