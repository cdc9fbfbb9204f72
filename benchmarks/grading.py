"""Grading throughput on the full CHAMP import (free-form grader), with 1 and 2 workers.

    python benchmarks/grading.py [--workers 1 2] [--limit N]

Prints responses graded per second for each worker count, how many were correct, and the
longest single call (measured in the 1-worker run, per response, including the symbolic worker).
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

from tracesft.data.champ import champ_records
from tracesft.grading import free_form_reward_fn, sandbox


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--limit", type=int, default=None, help="grade only the first N conversations")
    args = ap.parse_args()
    records = champ_records()[: args.limit]
    responses = [r["messages"][1]["content"] for r in records]
    truths = [r["messages"][0]["info"]["reference_answer"] for r in records]

    def timed(i):
        t0 = time.perf_counter()
        r = free_form_reward_fn(responses[i], truths[i])
        return r["reward"], time.perf_counter() - t0

    rows = []
    for w in args.workers:
        sandbox.shutdown()
        sandbox.prestart(w)
        time.sleep(3)  # let the workers import sympy before timing
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=w) as pool:
            results = list(pool.map(timed, range(len(responses))))
        elapsed = time.perf_counter() - t0
        longest = max(t for _, t in results)
        slowest = max(range(len(results)), key=lambda i: results[i][1])
        rows.append((w, len(results), elapsed, sum(r for r, _ in results), longest, slowest))

    print(f"CHAMP import: {len(responses)} responses, free-form grader, timeout 2 s")
    print(f"{'workers':>7} | {'seconds':>8} | {'resp/s':>8} | {'correct':>7} | {'longest call':>12}")
    for w, n, el, correct, longest, _ in rows:
        print(f"{w:>7} | {el:>8.1f} | {n / el:>8.1f} | {int(correct):>7} | {longest:>10.2f} s")
    print(f"slowest response (1st row): {records[rows[0][5]]['problem_id']} / {records[rows[0][5]]['model']}")


if __name__ == "__main__":
    main()
