"""Grading on real CHAMP traces: accuracy against human labels, or throughput.

    python benchmarks/grading.py --labelled [FILE] [--show-errors N]
    python benchmarks/grading.py --probe
    python benchmarks/grading.py [--workers 1 2] [--limit N] [--rounds 1]
    python benchmarks/grading.py --quick        # a smoke run: throughput on the first 500 responses

``--labelled`` grades the labelled set (default ``benchmarks/data/champ_labelled.jsonl``: real
CHAMP solutions with their one-sentence summary turns, each labelled correct/incorrect by reading
it, plus negatives made by grading a response against another problem's answer) with tracesft's
free-form grader and with math-verify (when installed), side by side, and prints recall (correct
responses accepted) and false-accept rate (incorrect responses accepted) overall, per answer type,
per model and per kind of row; then the same on the solution alone (no summary turn), and the
extraction rule that decided each row (the grades' provenance). Both graders see the same text (the
solution, a blank line, the summary
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
        r["solution"] = src["response"].strip()
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


def _math_verify_available() -> bool:
    try:
        import math_verify  # noqa: F401
    except ImportError:
        return False
    return True


def _rates(rows: list[dict], key: str) -> tuple[str, str]:
    pos = [r for r in rows if r["label"]]
    neg = [r for r in rows if not r["label"]]
    rec = f"{100 * sum(r[key] for r in pos) / len(pos):5.1f}% ({len(pos):3d})" if pos else "      -     "
    fa = f"{100 * sum(r[key] for r in neg) / len(neg):5.1f}% ({len(neg):3d})" if neg else "      -     "
    return rec, fa


def _grade_rows(rows: list[dict], field: str, suffix: str, with_math_verify: bool) -> dict:
    """Grade ``r[field]`` of every row with tracesft (keys ``tracesft{suffix}``, the grade's rule in
    ``rule{suffix}``) and math-verify (``math_verify{suffix}``); the seconds each took."""
    t0 = time.perf_counter()
    for r in rows:
        g = grade_free_form(r[field], r["truths"])
        r["tracesft" + suffix], r["rule" + suffix] = g.correct, g.rule or "none"
    seconds = {"tracesft": time.perf_counter() - t0}
    if with_math_verify:
        t0 = time.perf_counter()
        for r in rows:
            r["math_verify" + suffix] = math_verify_accepts(r[field], r["truths"])
        seconds["math_verify"] = time.perf_counter() - t0
    return seconds


def _print_table(title: str, groups: dict, keys: tuple[str, ...]) -> dict:
    print(f"\n{title}")
    print(f"{'':34} | " + " | ".join(f"{k + ' recall':>22} | {k + ' FA':>18}" for k in keys))
    figures = {}
    for name in sorted(groups, key=lambda g: (g != "all", g)):
        g = groups[name]
        cells = [_rates(g, k) for k in keys]
        print(f"{name:34} | " + " | ".join(f"{rec:>22} | {fa:>18}" for rec, fa in cells))
        figures[name] = {"correct": sum(r["label"] for r in g), "incorrect": sum(not r["label"] for r in g),
                         **{f"{k}_accepted_{'correct' if want else 'incorrect'}":
                            sum(r[k] for r in g if r["label"] == want) for k in keys for want in (True, False)}}
    return figures


def _rule_counts(rows: list[dict], suffix: str) -> dict:
    """Per extraction rule: correct rows accepted / correct rows, incorrect rows accepted."""
    out: dict = {}
    for r in rows:
        c = out.setdefault(r["rule" + suffix], {"correct": 0, "accepted_correct": 0, "incorrect": 0,
                                                "accepted_incorrect": 0})
        c["correct" if r["label"] else "incorrect"] += 1
        c["accepted_correct" if r["label"] else "accepted_incorrect"] += r["tracesft" + suffix]
    return out


def labelled(path: Path, show_errors: int) -> dict:
    """Recall and false accepts graded with the summary turn and on the solution alone, tracesft and
    math-verify side by side, with the extraction rule that decided each row."""
    rows = load_labelled(path)
    mv = _math_verify_available()
    seconds = {"summary": _grade_rows(rows, "text", "", mv), "solution": _grade_rows(rows, "solution", "_solution", mv)}
    groups: dict[str, list] = defaultdict(list)
    for r in rows:
        for name in ("all", f"type {r['answer_type']}", f"model {r['model']}", f"kind {r['kind']}"):
            groups[name].append(r)
        if r.get("human_verified_correct"):
            groups["human-verified correct"].append(r)
    print(f"{path.name}: {len(rows)} rows ({sum(r['label'] for r in rows)} correct, "
          f"{sum(not r['label'] for r in rows)} incorrect); recall = correct accepted, FA = incorrect accepted "
          "(rows in brackets)" + ("" if mv else "; math-verify not installed"))
    keys = ("tracesft", "math_verify") if mv else ("tracesft",)
    figures = {"rows": len(rows), "seconds": seconds, "math_verify_installed": mv}
    figures["groups"] = _print_table("graded with the summary turn (solution, blank line, summary: what "
                                     "`tracesft filter` grades for a CHAMP record)", groups, keys)
    figures["groups_solution_alone"] = _print_table(
        "graded on the solution alone", {k: v for k, v in groups.items() if k in ("all", "kind own", "kind swapped",
                                                                                "human-verified correct")},
        tuple(k + "_solution" for k in keys))
    figures["by_rule"] = {"summary": _rule_counts(rows, ""), "solution": _rule_counts(rows, "_solution")}
    print("\nextraction rule that decided (with the summary turn): correct accepted/correct, incorrect accepted")
    for rule, c in sorted(figures["by_rule"]["summary"].items(), key=lambda kv: -kv[1]["correct"] - kv[1]["incorrect"]):
        print(f"  {rule:44} {c['accepted_correct']:>4}/{c['correct']:<4} {c['accepted_incorrect']:>4}/{c['incorrect']}")
    print("seconds: " + ", ".join(f"{mode} {k} {v:.1f}" for mode, d in seconds.items() for k, v in d.items()))
    if show_errors:
        _show_errors(rows, show_errors)
    return figures


def _show_errors(rows: list[dict], n: int) -> None:
    for suffix, field in (("", "text"), ("_solution", "solution")):
        for name, want in (("missed (correct, rejected)", True), ("false accepts", False)):
            bad = [r for r in rows if r["label"] == want and r["tracesft" + suffix] != want]
            print(f"\ntracesft {name}{' on the solution alone' if suffix else ''}: {len(bad)}")
            for r in bad[:n]:
                g = grade_free_form(r[field], r["truths"])
                print(f"  {r['id']} [{r['answer_type']}] truth={r['ground_truth']!r} stated={r['stated_answer']!r} "
                      f"extracted={(g.answer or '')[:80]!r} rule={g.rule} comparator={g.comparator}")


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
