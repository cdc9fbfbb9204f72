"""Grading cost of source trees side by side, in one harness run (alternating rounds, a fresh process
per case): either ``grading.py --throughput-case 2 N`` (N CHAMP responses graded as ``tracesft
filter`` grades them, through 2 grader workers) or, with ``--filter FILE``, the whole ``tracesft filter
FILE --template question_only --workers 2`` command as each tree's CLI runs it.

    git archive REV src | tar x -C /tmp/old        # a baseline's src, without a worktree
    python benchmarks/grading_old_vs_new.py --old /tmp/old/src --limit 3000
    tracesft data champ --out champ.jsonl
    python benchmarks/grading_old_vs_new.py --filter champ.jsonl --old before=/tmp/a/src --old base=/tmp/b/src
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import harness  # noqa: E402


def filter_case(path: str) -> dict:
    """One ``tracesft filter`` of ``path`` with the tracesft on PYTHONPATH, timed from the command's start."""
    from tracesft.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "kept.jsonl"
        t0 = time.perf_counter()
        rc = main(["filter", path, "--out", str(out), "--template", "question_only", "--workers", "2", "--quiet"])
        seconds = time.perf_counter() - t0
        kept = sum(1 for _ in out.open(encoding="utf-8"))
        report = json.loads(out.with_name("kept.report.json").read_text(encoding="utf-8"))
    return {"seconds": seconds, "rc": rc, "kept": kept, "n": report["n_before"],
            "timed_out": report["rejected"].get("timed_out", 0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", action="append", default=[], metavar="[NAME=]SRC",
                    help="a baseline's src directory (repeat for several; NAME defaults to old, old2, ...)")
    ap.add_argument("--limit", type=int, default=3000, help="CHAMP responses graded per run (throughput mode)")
    ap.add_argument("--filter", metavar="FILE", help="time the whole `tracesft filter FILE` command instead")
    ap.add_argument("--filter-case", metavar="FILE", help=argparse.SUPPRESS)
    harness.add_arguments(ap, rounds=2)
    args = ap.parse_args()
    if args.filter_case:
        harness.emit(filter_case(args.filter_case))
        return
    if not args.old:
        ap.error("--old is required: a baseline's src directory")
    trees = []
    for i, spec in enumerate(args.old):
        name, _, src = spec.rpartition("=")
        trees.append((name or ("old" if i == 0 else f"old{i + 1}"), src))
    trees.append(("new", str(Path(__file__).resolve().parents[1] / "src")))
    if args.filter:
        cmd = [__file__, "--filter-case", str(Path(args.filter).resolve())]
    else:
        cmd = [str(Path(__file__).with_name("grading.py")), "--throughput-case", "2", str(args.limit)]
    cases = [harness.Case(name, cmd, env={"PYTHONPATH": src}) for name, src in trees]
    result = harness.run(cases, rounds=args.rounds, params={"trees": dict(trees), "filter": args.filter,
                                                            "limit": None if args.filter else args.limit})
    figure = "seconds"
    print(f"\n{'tree':>8} | {'median seconds':>14} | " + ("kept" if args.filter else "correct"))
    for c in cases:
        extra = harness.median(result, c.name, "kept" if args.filter else "correct")
        print(f"{c.name:>8} | {harness.median(result, c.name, figure):>14.1f} | {extra:.0f}")
    harness.finish("grading_old_vs_new", result, args)


if __name__ == "__main__":
    main()
