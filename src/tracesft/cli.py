"""The ``tracesft`` command line: one subcommand per user task; argument parsing and error printing."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

log = logging.getLogger("tracesft")


def _cmd_filter(args) -> int:
    from .data import filter_correct, read_examples, to_r1_zero_response, write_jsonl
    from .grading import free_form_reward_fn, r1_zero_reward_fn

    reward_name = args.reward or ("r1_zero" if args.template == "r1_zero" else "free_form")
    reward_fn = {"r1_zero": r1_zero_reward_fn, "free_form": free_form_reward_fn}[reward_name]
    examples, skipped = read_examples(args.input, skip_invalid=args.skip_invalid)
    kept, report = filter_correct(examples, reward_fn, workers=args.workers, progress=not args.quiet)
    records = []
    for ex in kept:
        response = ex.response
        if args.to_r1_zero:
            response = to_r1_zero_response(ex.response, ex.meta.get("extracted_answer", ""))
        meta = {k: v for k, v in ex.meta.items() if k not in ("prompt", "response", "ground_truth")}
        records.append({"prompt": ex.prompt, "response": response, "ground_truth": ex.ground_truth, **meta})
    out = Path(args.out)
    write_jsonl(out, records)
    summary = report.to_dict()
    summary.update({"input": str(args.input), "output": str(out), "reward": reward_name,
                    "skipped_invalid_lines": [{"line": s.line, "reason": s.reason} for s in skipped]})
    report_path = out.with_name(out.stem + ".report.json")
    report_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for line in report.lines():
        print(line)
    if skipped:
        print(f"  skipped {len(skipped)} invalid input line(s) (see {report_path})")
    print(f"wrote {len(records)} examples to {out}; report: {report_path}")
    return 0


def _cmd_data_champ(args) -> int:
    from collections import Counter

    from .data import write_jsonl
    from .data.champ import champ_records

    stats: Counter = Counter()
    records = champ_records(stats)
    n = write_jsonl(args.out, records)
    print(f"wrote {n} CHAMP conversations to {args.out}")
    for model, count in sorted(Counter(r["model"] for r in records).items()):
        print(f"  {model:<16} {count}")
    for k, v in sorted(stats.items()):
        if k != "imported":
            print(f"  not imported: {v} ({k.removeprefix('skipped_')})")
    return 0


def _cmd_demo(args) -> int:
    from .demo.smoke import run_smoke

    return run_smoke()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tracesft", description="SFT of causal LMs on reasoning traces.")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    f = sub.add_parser("filter", help="keep the traces whose final answer is correct")
    f.add_argument("input", help="JSONL file of examples (chat, prompt/response or question/answer)")
    f.add_argument("--out", required=True, help="JSONL file for the kept examples")
    f.add_argument("--template", default="r1_zero", choices=["r1_zero", "question_only"],
                   help="format of the responses: r1_zero (tags) or question_only (free-form)")
    f.add_argument("--reward", choices=["r1_zero", "free_form"], help="grader (default: from --template)")
    f.add_argument("--to-r1-zero", action="store_true",
                   help="write kept responses as '<solution> </think> <answer> <answer> </answer>'")
    f.add_argument("--workers", type=int, default=None, help="grading processes (default: CPU count)")
    f.add_argument("--skip-invalid", action="store_true", help="skip bad input lines instead of stopping")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=_cmd_filter)

    d = sub.add_parser("data", help="import data sets")
    dsub = d.add_subparsers(dest="source", required=True)
    c = dsub.add_parser("champ", help="CHAMP competition problems with model solutions (extra 'champ')")
    c.add_argument("--out", required=True, help="JSONL file to write (chat format)")
    c.set_defaults(func=_cmd_data_champ)

    m = sub.add_parser("demo", help="the whole pipeline on a synthetic task, on CPU, in minutes")
    m.set_defaults(func=_cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    from .errors import DataError

    try:
        return int(args.func(args) or 0)
    except (DataError, ValueError, FileNotFoundError, ImportError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
