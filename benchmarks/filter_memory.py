"""Peak memory of `tracesft filter` on a large JSONL file (streaming: constant memory).

    python benchmarks/filter_memory.py [--gib 2] [--baseline OLD/src] [--rounds 1]
    python benchmarks/filter_memory.py --quick       # a smoke run: a 0.05 GiB file

Writes a JSONL file of about --gib GiB (records with a 16 KiB prompt and a short R1-Zero response,
half of them wrong), runs `tracesft filter --workers 2` on it in a fresh process
(benchmarks/harness.py) and prints the file size, the records kept, the seconds (process start to
exit) and the peak resident memory of the filter process and its grader workers (the largest of
them). With --baseline, the same for tracesft from another source tree, alternating (e.g. the code
before streaming). The result goes to benchmarks/results/filter_memory-DATE.json.
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
import tempfile
from pathlib import Path

import harness


def write_data(path: Path, gib: float) -> int:
    filler = ("The quick brown fox jumps over the lazy dog while counting to ten. " * 250)[:16384]
    target, n = int(gib * 2**30), 0
    with path.open("w", encoding="utf-8") as f:
        while f.tell() < target:
            n += 1
            answer = 4 if n % 2 else 5
            f.write(json.dumps({"prompt": f"{n}: {filler} What is 2+2?", "response": f"2+2 </think> <answer> "
                                f"{answer} </answer>", "ground_truth": "4"}) + "\n")
    return n


def run_case(data: str, out: str) -> dict:
    """`tracesft filter` as its command line runs it (``python -m tracesft``), whichever tracesft is importable."""
    sys.argv = ["tracesft", "filter", data, "--out", out, "--quiet", "--workers", "2"]
    try:
        runpy.run_module("tracesft", run_name="__main__")
    except SystemExit as e:
        if e.code not in (0, None):
            raise
    with open(out, "rb") as f:
        return {"kept": sum(1 for _ in f)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gib", type=float, default=2.0)
    ap.add_argument("--baseline", metavar="SRC", help="another tracesft source tree (its src/), run the same way")
    ap.add_argument("--quick", action="store_true", help="a smoke run: a 0.05 GiB file")
    harness.add_arguments(ap, rounds=1)
    ap.add_argument("--case", nargs=2, metavar=("DATA", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        harness.emit(run_case(*args.case))
        return
    if args.quick:
        args.gib = 0.05
    with tempfile.TemporaryDirectory(prefix="tracesft-filter-mem-") as work:
        data = Path(work) / "big.jsonl"
        n = write_data(data, args.gib)
        size = data.stat().st_size
        print(f"{data}: {size / 2**30:.2f} GiB, {n} records", flush=True)
        cases = [harness.Case("tracesft", [__file__, "--case", str(data), str(Path(work) / "kept.jsonl")])]
        if args.baseline:
            cases.append(harness.Case("baseline", [__file__, "--case", str(data), str(Path(work) / "kept-b.jsonl")],
                                      env={"PYTHONPATH": args.baseline}))
        params = {k: v for k, v in vars(args).items() if k not in ("case", "results", "no_save")}
        result = harness.run(cases, rounds=args.rounds, params={**params, "bytes": size, "records": n})
    print(f"\n{'':<10} {'records':>8} {'kept':>8} {'seconds':>8} {'peak RSS':>9}   (median of {args.rounds})")
    for c in cases:
        def m(figure, name=c.name):
            return harness.median(result, name, figure)

        print(f"{c.name:<10} {n:>8} {m('kept'):>8.0f} {m('wall_s'):>8.1f} {m('peak_rss') / 2**30:>7.2f}Gi")
    harness.finish("filter_memory", result, args)


if __name__ == "__main__":
    main()
