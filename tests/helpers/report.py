"""A small hand-written run directory for the report's tests: no training, tiny files.

metrics.jsonl (12 train steps, evals at 0, 6 and 12 with pass@k, maj@k and failure-mode rates, one
NaN loss), summary.json, and generations/step-00000012.jsonl with RECORDS (a hostile response among
them) plus an older step-00000006.jsonl that the report must not pick.
"""

from __future__ import annotations

import json
from pathlib import Path

PROMPT = ("A conversation between User and Assistant. The User asks a question.\n"
          "User: What is {a} plus {b}?\nAssistant: <think>")
HOSTILE = "</script><script>alert(1)</script><img src=x onerror=alert(2)> </think> <answer> <b>3</b> </answer>"


def _record(a, b, response, correct, length, **extra):
    return {"prompt": PROMPT.format(a=a, b=b), "response": response, "ground_truth": str(a + b),
            "response_length": length, "mean_token_entropy": 0.1,
            "reward": {"format_reward": 1.0, "answer_reward": 1.0 if correct else 0.0,
                       "reward": 1.0 if correct else 0.0}, **extra}


RECORDS = [
    _record(1, 2, " 1 plus 2 is 3. </think> <answer> 3 </answer>", True, 14),
    _record(2, 2, " 2 plus 2 is 4. </think> <answer> 4 </answer>", True, 15),
    _record(3, 4, " 3 plus 4 is 7. </think> <answer> 7 </answer>", True, 16),
    _record(5, 5, " 5 plus 5 is 10. </think> <answer> 10 </answer>", True, 18),
    _record(6, 1, " 6 plus 1 is 7. </think> <answer> 7 </answer>", True, 15),
    _record(9, 9, " 9 plus 9 is 17. </think> <answer> 17 </answer>", False, 17),
    _record(8, 3, " 8 plus 3 is" + " and so on" * 12, False, 40),              # looping and cut off
    _record(7, 7, " 7 plus 7 is 14 so the answer is", False, 40),              # cut off, not looping
    _record(4, 4, HOSTILE, False, 30),                                          # hostile markup
    _record(2, 5, " 2 plus 5 is 7. </think> <answer> 7 </answer>", True, 15),
]
N_CORRECT = sum(r["reward"]["answer_reward"] == 1.0 for r in RECORDS)  # 6
MAX_NEW_TOKENS = 40  # in config.yaml: records of 40 tokens were cut off


# `tracesft eval --samples 2`: two samples per prompt, with the fields the evaluation writes
# (prompt_index, sample_index, hit_max_new_tokens, answer: the grader's, None for none).
SAMPLED = [dict(r, prompt_index=i // 2, sample_index=i % 2, prompt=RECORDS[i // 2 * 2]["prompt"],
                hit_max_new_tokens=r["response_length"] >= MAX_NEW_TOKENS,
                answer=(r["response"].split("<answer>")[1].split("</answer>")[0].strip()
                        if "</answer>" in r["response"] else None))
           for i, r in enumerate(RECORDS)]
EVAL_SUMMARY = {"model": "m", "n_examples": 5, "n_responses": 10, "samples_per_prompt": 2, "accuracy": 0.6,
                "avg@2": 0.6, "pass@1": 0.6, "pass@2": 0.8, "maj@2": 0.6, "solve_rate_histogram": [1, 2, 2],
                "hit_max_new_tokens_rate": 0.2, "unclosed_think_rate": 0.2, "no_answer_rate": 0.2,
                "repetition_rate": 0.1,
                "length_buckets": [{"lo": 0, "hi": 10, "count": 0, "accuracy": None},
                                   {"lo": 11, "hi": 20, "count": 7, "accuracy": 0.857},
                                   {"lo": 21, "hi": 30, "count": 1, "accuracy": 0.0},
                                   {"lo": 31, "hi": 40, "count": 2, "accuracy": 0.0}],
                "length_percentiles": {"correct": {"p10": 14.5, "p50": 15.0, "p90": 17.0},
                                       "incorrect": {"p10": 19.6, "p50": 35.0, "p90": 40.0}}}


def build_run_dir(run: Path, eval_dir: bool = False) -> Path:
    """A training run's directory (or, ``eval_dir``, a ``tracesft eval --out`` directory)."""
    run.mkdir(parents=True, exist_ok=True)
    if eval_dir:
        with open(run / "generations.jsonl", "w") as f:
            for r in SAMPLED:
                f.write(json.dumps(r) + "\n")
        (run / "summary.json").write_text(json.dumps(EVAL_SUMMARY))
        return run
    rows = []
    for step in range(1, 13):
        rows.append({"kind": "train", "step": step, "epoch": 0, "loss": 2.0 / step, "grad_norm": 1.0 + step / 10,
                     "lr": 1e-3 * (1 - step / 13), "entropy": 1.5 - step / 20})
    for step, acc in ((0, 0.1), (6, 0.4), (12, 0.6)):
        rows.append({"kind": "eval", "step": step, "n_examples": 10, "accuracy": acc, "format_rate": 0.9,
                     "pass@1": acc, "pass@8": min(1.0, acc + 0.25), "avg@8": acc, "maj@8": acc + 0.05,
                     "cutoff_rate": 0.3 - acc / 3, "unclosed_think_rate": 0.2 - acc / 4, "no_answer_rate": 0.1,
                     "repetition_rate": 0.1, "mean_response_length": 30 - step, "tokens_per_second": 100.0 + step,
                     "solve_rate_histogram": [3, 7], "length_buckets": [{"lo": 0, "hi": 40, "count": 10}],
                     "length_percentiles": {"correct": {"p50": 15 - step / 6}, "incorrect": {"p50": 35.0}}})
    rows.insert(3, {"kind": "train", "step": 99, "loss": float("nan")})  # NaN must not break the page's JSON
    with open(run / "metrics.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
        f.write('{"kind": "train", "step": 13, "lo')  # a line cut by a crash
    summary = {"steps": 12, "final_loss": 2 / 12, "eval_accuracy": 0.6, "eval_pass@1": 0.6, "eval_pass@8": 0.85,
               "eval_avg@8": 0.6, "eval_maj@8": 0.65, "eval_cutoff_rate": 0.1, "eval_unclosed_think_rate": 0.05,
               "eval_no_answer_rate": 0.1, "eval_repetition_rate": 0.1, "final_model": "<b>runs/x/final</b>",
               "eval_length_percentiles": {"p50": 15, "p90": 40}}
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "config.yaml").write_text(f"eval_max_new_tokens: {MAX_NEW_TOKENS}\n")
    (run / "generations").mkdir(exist_ok=True)
    with open(run / "generations" / "step-00000012.jsonl", "w") as f:
        for r in RECORDS:
            f.write(json.dumps(r) + "\n")
    with open(run / "generations" / "step-00000006.jsonl", "w") as f:
        f.write(json.dumps(RECORDS[0]) + "\n")
    return run
