"""What K samples per prompt cost against one, on both backends: `tracesft eval --samples K`.

    .venv-vllm/bin/python benchmarks/eval_samples.py --demo-model RUN/train/final --demo-data RUN/eval.jsonl \
        --demo-template RUN/template.txt [--smollm2 DIR] [--samples 1 8] [--prompts 32]

Each (model, backend, K) runs `tracesft eval --samples K --temperature 0.6 --top-p 0.95 --seed 0`
in a fresh process (benchmarks/harness.py; rounds alternate), so "wall" is what a user waits for
(start, model load or engine start, generation, grading) and "gen s" the generate calls alone.
The same temperature for K = 1 and K = 8, so that the ratio is the cost of the samples alone. The
figures the command prints (avg@K, pass@1, pass@K, maj@K, the failure-mode shares) are stored
with each case. Models: the trained demo model (with its eval set and template) and, with
``--smollm2 DIR`` (``tracesft model import smollm2-135m-instruct --out DIR``), SmolLM2-135M-Instruct
on the real demo's held-out problems with its chat template. Where vLLM is not installed, its
cases are left out with a note. The result goes to benchmarks/results/eval_samples-DATE.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
from pathlib import Path

import harness

FIGURES = ("avg@{k}", "pass@1", "pass@{k}", "maj@{k}", "hit_max_new_tokens_rate", "unclosed_think_rate",
           "no_answer_rate", "repetition_rate")


def run_case(model: str, data: str, template: str, system: str | None, backend: str, k: int, prompts: int,
             max_new_tokens: int) -> dict:
    from tracesft.cli import main

    out = Path(tempfile.mkdtemp(prefix="tracesft-bench-samples-")) / "eval"
    argv = ["eval", "--model", model, "--data", data, "--template", template, "--backend", backend,
            "--samples", str(k), "--temperature", "0.6", "--top-p", "0.95", "--seed", "0", "--limit", str(prompts),
            "--max-new-tokens", str(max_new_tokens), "--out", str(out)]
    if system:
        argv += ["--system", system]
    assert main(argv) == 0
    s = json.loads((out / "summary.json").read_text())
    figures = {"gen_s": s["generation_seconds"], "tokens": s["generated_tokens"], "tok_s": s["tokens_per_second"]}
    for name in FIGURES:  # stored under the generic name (avg@K, ...) so that the table reads every K alike
        if name.format(k=k) in s:
            figures[name.replace("{k}", "K")] = s[name.format(k=k)]
    return figures


def _smollm2_data(out: Path, prompts: int) -> str:
    from tracesft.demo.real import make_real_dataset

    path = out / "smollm2-eval.jsonl"
    rows = make_real_dataset(prompts, seed=1)
    path.write_text("".join(json.dumps({"prompt": r["prompt"], "ground_truth": r["ground_truth"]}) + "\n"
                            for r in rows))
    return str(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo-model", help="a trained demo model (RUN/train/final of tracesft demo)")
    ap.add_argument("--demo-data", help="its held-out set (RUN/eval.jsonl)")
    ap.add_argument("--demo-template", help="its template (RUN/template.txt)")
    ap.add_argument("--smollm2", default=None, help="an imported SmolLM2-135M-Instruct directory")
    ap.add_argument("--samples", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--smollm2-prompts", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=100)
    ap.add_argument("--smollm2-max-new-tokens", type=int, default=128)
    ap.add_argument("--backends", nargs="+", default=["hf", "vllm"], choices=["hf", "vllm"])
    ap.add_argument("--out", default="/tmp/tracesft-bench-samples")
    harness.add_arguments(ap, rounds=1)
    ap.add_argument("--case", nargs=7, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        model, data, template, system, backend, k, tokens = args.case
        harness.emit(run_case(model, data, template, system or None, backend, int(k),
                              args.prompts, int(tokens)))
        return
    if not (args.demo_model and args.demo_data and args.demo_template):
        ap.error("--demo-model, --demo-data and --demo-template are required")
    notes = []
    if "vllm" in args.backends and importlib.util.find_spec("vllm") is None:
        notes.append("vLLM is not installed in this environment (run this in .venv-vllm): HF only")
        args.backends = ["hf"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    models = {"demo (trained)": (args.demo_model, args.demo_data, args.demo_template, "", args.prompts,
                                 args.max_new_tokens)}
    if args.smollm2:
        from tracesft.demo.real import SYSTEM

        models["SmolLM2-135M-Instruct"] = (args.smollm2, _smollm2_data(out, args.smollm2_prompts), "chat", SYSTEM,
                                           args.smollm2_prompts, args.smollm2_max_new_tokens)
    cases = []
    for name, (model, data, template, system, prompts, tokens) in models.items():
        for b in args.backends:
            for k in args.samples:
                cases.append(harness.Case(f"{name} / {b} / K={k}",
                                          [__file__, "--prompts", str(prompts), "--case", model, data, template,
                                           system, b, str(k), str(tokens)]))
    params = {k: v for k, v in vars(args).items() if k not in ("case", "results", "no_save")}
    result = harness.run(cases, rounds=args.rounds, params=params)

    print(f"\n`tracesft eval --samples K --temperature 0.6 --top-p 0.95 --seed 0` on CPU; median of "
          f"{args.rounds} round(s); cost = gen s / gen s at K=1\n")
    head = (f"{'model':<24}{'backend':>8}{'K':>3}{'gen s':>8}{'cost':>6}{'wall s':>8}{'avg@K':>7}{'pass@1':>7}"
            f"{'pass@K':>7}{'maj@K':>7}{'cut':>6}{'open':>6}{'none':>6}{'loop':>6}")
    print(head)
    print("-" * len(head))
    for name in models:
        for b in args.backends:
            base = harness.median(result, f"{name} / {b} / K={args.samples[0]}", "gen_s")
            for k in args.samples:
                case = f"{name} / {b} / K={k}"
                s = result["cases"][case]["runs"][0]

                def f(key, s=s):
                    return s.get(key, float("nan"))

                gen, wall = harness.median(result, case, "gen_s"), harness.median(result, case, "wall_s")
                print(f"{name:<24}{b:>8}{k:>3}{gen:>8.1f}{gen / base:>6.1f}{wall:>8.1f}"
                      f"{f('avg@K'):>7.1%}{f('pass@1'):>7.1%}{f('pass@K'):>7.1%}{f('maj@K'):>7.1%}"
                      f"{f('hit_max_new_tokens_rate'):>6.0%}{f('unclosed_think_rate'):>6.0%}"
                      f"{f('no_answer_rate'):>6.0%}{f('repetition_rate'):>6.0%}")
    print("\ncut: hit max_new_tokens; open: <think> never closed; none: no parseable answer; loop: repetition")
    if notes:
        print("\n".join(notes))
    result["notes"] = notes
    harness.finish("eval_samples", result, args)


if __name__ == "__main__":
    main()
