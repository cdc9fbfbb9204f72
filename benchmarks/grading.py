"""Grading on real CHAMP traces: accuracy against human labels, or throughput.

    python benchmarks/grading.py --labelled [FILE] [--show-errors N]
    python benchmarks/grading.py --probe
    python benchmarks/grading.py [--workers 1 2] [--limit N] [--rounds 1]
    python benchmarks/grading.py --quick        # a smoke run: throughput on the first 500 responses

``--labelled`` grades the labelled set (default ``benchmarks/data/champ_labelled.jsonl``: real
CHAMP solutions with their one-sentence summary turns, each labelled correct/incorrect by reading
it, plus negatives made by grading a response against another problem's answer) with tracesft's
free-form grader and with math-verify, side by side, and prints recall (correct responses
accepted) and false-accept rate (incorrect responses accepted) overall, per answer type, per
model and per kind of row. Both graders see the same text (the solution, a blank line, the summary
turn: what ``tracesft filter`` grades for a ``tracesft data champ`` record, whose response is the
solution and whose ``answer_summary`` is the summary) and the same list of acceptable answers.

Without ``--labelled``/``--probe``: throughput on the full CHAMP import (19,179 responses), 1 and 2
workers, each worker count a fresh process (benchmarks/harness.py). Every mode stores its figures
as benchmarks/results/grading_{labelled,probe,throughput}-DATE.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import harness

from tracesft.data.champ import champ_records, split_reference_answer
from tracesft.grading import free_form_reward_fn, grade_free_form, sandbox

LABELLED = Path(__file__).parent / "data" / "champ_labelled.jsonl"


def load_labelled(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    own = {r["id"]: r for r in rows if r["kind"] == "own"}
    for r in rows:
        src = own[r.get("response_of", r["id"])]
        r["text"] = src["response"].strip() + "\n\n" + src["summary"].strip()
        r["truths"] = split_reference_answer(r["ground_truth"])
    return rows


def math_verify_accepts(text: str, truths: list[str]) -> bool:
    from math_verify import parse, verify

    try:
        answer = parse(text)
        return any(verify(parse(t), answer) for t in truths)
    except Exception:  # math-verify raises on some inputs: a rejection
        return False


def tracesft_accepts(text: str, truths: list[str]) -> bool:
    return grade_free_form(text, truths).correct


def _rates(rows: list[dict], key: str) -> tuple[str, str]:
    pos = [r for r in rows if r["label"]]
    neg = [r for r in rows if not r["label"]]
    rec = f"{100 * sum(r[key] for r in pos) / len(pos):5.1f}% ({len(pos):3d})" if pos else "      -     "
    fa = f"{100 * sum(r[key] for r in neg) / len(neg):5.1f}% ({len(neg):3d})" if neg else "      -     "
    return rec, fa


def labelled(path: Path, show_errors: int) -> dict:
    rows = load_labelled(path)
    t0 = time.perf_counter()
    for r in rows:
        r["tracesft"] = tracesft_accepts(r["text"], r["truths"])
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    for r in rows:
        r["math_verify"] = math_verify_accepts(r["text"], r["truths"])
    t_mv = time.perf_counter() - t0
    groups: dict[str, list] = defaultdict(list)
    for r in rows:
        groups["all"].append(r)
        groups[f"type {r['answer_type']}"].append(r)
        groups[f"model {r['model']}"].append(r)
        groups[f"kind {r['kind']}"].append(r)
    print(f"{path.name}: {len(rows)} rows ({sum(r['label'] for r in rows)} correct, "
          f"{sum(not r['label'] for r in rows)} incorrect); recall = correct accepted, FA = incorrect accepted "
          "(rows in brackets)")
    print(f"{'':34} | {'tracesft recall':>16} | {'tracesft FA':>14} | {'math-verify recall':>18} | "
          f"{'math-verify FA':>14}")
    figures = {"rows": len(rows), "seconds_tracesft": t_ours, "seconds_math_verify": t_mv, "groups": {}}
    for name in sorted(groups, key=lambda g: (g != "all", g)):
        ours, mv = _rates(groups[name], "tracesft"), _rates(groups[name], "math_verify")
        print(f"{name:34} | {ours[0]:>16} | {ours[1]:>14} | {mv[0]:>18} | {mv[1]:>14}")
        g = groups[name]
        figures["groups"][name] = {
            "correct": sum(r["label"] for r in g), "incorrect": sum(not r["label"] for r in g),
            **{f"{key}_accepted_{'correct' if want else 'incorrect'}": sum(r[key] for r in g if r["label"] == want)
               for key in ("tracesft", "math_verify") for want in (True, False)}}
    print(f"seconds: tracesft {t_ours:.1f}, math-verify {t_mv:.1f}")
    if show_errors:
        for name, want in (("missed (correct, rejected)", True), ("false accepts", False)):
            bad = [r for r in rows if r["label"] == want and r["tracesft"] != want]
            print(f"\ntracesft {name}: {len(bad)}")
            for r in bad[:show_errors]:
                got = grade_free_form(r["text"], r["truths"]).answer
                print(f"  {r['id']} [{r['answer_type']}] truth={r['ground_truth']!r} stated={r['stated_answer']!r} "
                      f"extracted={(got or '')[:80]!r}")
    return figures


def probe() -> dict:
    """The style probe: hand-written traces in other styles (GSM8K plain text, markdown chat, R1-Zero
    tags, MATH, multiple choice, traps), each labelled; written to find classes of failure, so its
    rates are not those of a random sample of real data."""
    sys.path.insert(0, str(Path(__file__).parent / "data"))
    from style_probe import CASES

    from tracesft.grading import grade_r1_zero

    rows = []
    for c in CASES:
        grade = grade_free_form if c["grader"] == "ff" else grade_r1_zero
        rows.append((c, grade(c["response"], c["truth"])))
    pos = [(c, g) for c, g in rows if c["label"]]
    neg = [(c, g) for c, g in rows if not c["label"]]
    print(f"style probe: {len(rows)} cases; correct accepted {sum(g.correct for _, g in pos)}/{len(pos)}, "
          f"incorrect rejected {sum(not g.correct for _, g in neg)}/{len(neg)}")
    errors = []
    for c, g in rows:
        if g.correct != c["label"]:
            errors.append(c["id"])
            print(f"  {c['id']:8} label={c['label']!s:5} truth={c['truth']!r:24} extracted={g.answer!r:.60}"
                  f"  # {c['note']}")
    return {"cases": len(rows), "correct": len(pos), "correct_accepted": sum(g.correct for _, g in pos),
            "incorrect": len(neg), "incorrect_rejected": sum(not g.correct for _, g in neg), "errors": errors}


def throughput_case(workers: int, limit: int | None) -> dict:
    """One worker count, in this process: every response graded once through ``workers`` sandboxed graders."""
    records = champ_records()[:limit]
    # graded as `tracesft filter` grades them: the solution, a blank line, the summary turn
    responses = [r["messages"][1]["content"] + "\n\n" + r["answer_summary"] for r in records]
    truths = [r["messages"][0]["info"]["reference_answer"] for r in records]

    def timed(i):
        t0 = time.perf_counter()
        r = free_form_reward_fn(responses[i], truths[i])
        return r["reward"], time.perf_counter() - t0

    sandbox.prestart(workers)
    time.sleep(3)  # let the workers import sympy before timing
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(timed, range(len(responses))))
    elapsed = time.perf_counter() - t0
    slowest = max(range(len(results)), key=lambda i: results[i][1])
    sandbox.shutdown()
    return {"responses": len(results), "seconds": elapsed, "responses_per_s": len(results) / elapsed,
            "correct": sum(r for r, _ in results), "longest_call_s": results[slowest][1],
            "slowest": f"{records[slowest]['problem_id']} / {records[slowest]['model']}"}


def throughput(args) -> dict:
    cases = [harness.Case(f"workers={w}", [__file__, "--throughput-case", str(w), str(args.limit or 0)])
             for w in args.workers]
    result = harness.run(cases, rounds=args.rounds, params={"workers": args.workers, "limit": args.limit})
    print(f"\nCHAMP import: {harness.median(result, cases[0].name, 'responses'):.0f} responses, free-form grader, "
          f"timeout 2 s; median of {args.rounds} round(s)")
    print(f"{'workers':>7} | {'seconds':>8} | {'resp/s':>8} | {'correct':>7} | {'longest call':>12} | {'peak RSS':>8}")
    for w, c in zip(args.workers, cases):
        def m(figure, name=c.name):
            return harness.median(result, name, figure)

        print(f"{w:>7} | {m('seconds'):>8.1f} | {m('responses_per_s'):>8.1f} | {m('correct'):>7.0f} | "
              f"{m('longest_call_s'):>10.2f} s | {m('peak_rss') / 2**30:>6.2f}Gi")
    print(f"slowest response (1st case, 1st round): {result['cases'][cases[0].name]['runs'][0]['slowest']}")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labelled", nargs="?", const=str(LABELLED), default=None, metavar="FILE",
                    help="accuracy on a labelled set (default: %(const)s)")
    ap.add_argument("--probe", action="store_true", help="the style probe (benchmarks/data/style_probe.py)")
    ap.add_argument("--show-errors", type=int, default=0, metavar="N", help="list N of tracesft's errors of each kind")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--limit", type=int, default=None, help="grade only the first N conversations")
    ap.add_argument("--quick", action="store_true", help="a smoke run: throughput on the first 500 responses")
    harness.add_arguments(ap, rounds=1)
    ap.add_argument("--throughput-case", nargs=2, type=int, metavar=("WORKERS", "LIMIT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.throughput_case:
        workers, limit = args.throughput_case
        harness.emit(throughput_case(workers, limit or None))
        return
    params = {k: v for k, v in vars(args).items() if k not in ("throughput_case", "results", "no_save")}
    if args.probe:
        harness.finish("grading_probe", harness.record(probe(), params), args)
    elif args.labelled:
        harness.finish("grading_labelled", harness.record(labelled(Path(args.labelled), args.show_errors), params),
                       args)
    else:
        if args.quick:
            args.limit = 500
        harness.finish("grading_throughput", throughput(args), args)


if __name__ == "__main__":
    main()
