"""Grading throughput of two source trees side by side: ``grading.py --throughput-case 2 N`` (N CHAMP
responses graded as ``tracesft filter`` grades them, through 2 grader workers) with each tree's src,
alternating rounds, through the one harness.

    git worktree add /tmp/wt-old REV
    python benchmarks/grading_old_vs_new.py --old /tmp/wt-old/src --limit 3000
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import harness  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", required=True, help="the baseline's src directory (e.g. a git worktree's)")
    ap.add_argument("--limit", type=int, default=3000, help="CHAMP responses graded per run")
    harness.add_arguments(ap, rounds=2)
    args = ap.parse_args()
    new = str(Path(__file__).resolve().parents[1] / "src")
    cmd = [str(Path(__file__).with_name("grading.py")), "--throughput-case", "2", str(args.limit)]
    cases = [harness.Case("old", cmd, env={"PYTHONPATH": args.old}), harness.Case("new", cmd, env={"PYTHONPATH": new})]
    harness.finish("grading_old_vs_new", harness.run(cases, rounds=args.rounds), args)


if __name__ == "__main__":
    main()
