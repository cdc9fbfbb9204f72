"""Peak memory of `tracesft filter` on a large JSONL file (streaming: constant memory).

    python benchmarks/filter_memory.py [--gib 2] [--baseline OLD/src]

Writes a JSONL file of about --gib GiB (records with a 16 KiB prompt and a short R1-Zero response,
half of them wrong), runs `tracesft filter` on it in a fresh process and prints the file size, the
records, the seconds and the peak resident memory of the filter process and its grader workers
(the largest of them). With --baseline, the same for tracesft from another source tree, in the
same run (e.g. the code before streaming).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


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


def run(src: str | None, data: Path, out: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=src) if src else None
    t0 = time.perf_counter()
    code = ("import resource, subprocess, sys, json; p = subprocess.run(sys.argv[1:]); "
            "print('RSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode)")
    proc = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "tracesft", "filter", str(data),
                           "--out", str(out), "--quiet", "--workers", "2"],
                          capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    line = [x for x in proc.stdout.splitlines() if x.startswith("RSS ")]
    if not line or line[-1].split()[2] != "0":
        sys.exit(f"filter failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return {"seconds": seconds, "peak_rss": int(line[-1].split()[1]) * 1024,
            "kept": sum(1 for _ in out.open("rb"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gib", type=float, default=2.0)
    ap.add_argument("--baseline", metavar="SRC", help="another tracesft source tree (its src/), run the same way")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tracesft-filter-mem-"))
    data = work / "big.jsonl"
    n = write_data(data, args.gib)
    size = data.stat().st_size
    print(f"{data}: {size / 2**30:.2f} GiB, {n} records", flush=True)
    rows = [("tracesft", run(None, data, work / "kept.jsonl"))]
    if args.baseline:
        rows.append(("baseline", run(args.baseline, data, work / "kept-baseline.jsonl")))
    print(f"{'':<10} {'records':>8} {'kept':>8} {'seconds':>8} {'peak RSS':>9}")
    for name, r in rows:
        print(f"{name:<10} {n:>8} {r['kept']:>8} {r['seconds']:>8.0f} {r['peak_rss'] / 2**30:>7.2f}Gi")
    for p in work.iterdir():
        p.unlink()
    work.rmdir()



if __name__ == "__main__":
    main()
