"""``tracesft demo --real``: the main job on a real pretrained model, on a CPU.

1. SmolLM2-135M-Instruct is imported from its PyPI package (``tracesft model import``);
2. a noisy teacher writes worked solutions in the R1 answer format (``<think> ... </think>
   <answer> N </answer>``) for grade-school addition and subtraction word problems, a quarter of
   them ending on a wrong answer; the grader keeps the correct ones;
3. the model is evaluated greedily on held-out problems through its own chat template, with a
   system message asking for that format, then fine-tuned on the kept traces (``template: chat``:
   each response ends with the end-of-turn token) and evaluated again; ``summary.json`` holds the
   before/after figures and the run directory is printed last.

The budget is 15 minutes on 2 cores, import included: a 135M-parameter model takes seconds per
optimizer step there, so the run trains a fixed number of steps (``REAL.max_steps``) rather than
epochs.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

from ..data import Example, filter_correct, write_jsonl
from ..outputs import write_json_atomic
from .task import Problem, make_problem

SYSTEM = ("Solve the math problem. Think step by step inside <think> </think>, then give only the final "
          "number inside <answer> </answer>.")


@dataclass(frozen=True)
class RealSize:
    n_train: int = 400
    n_eval: int = 100
    max_steps: int = 40
    micro_batch_size: int = 8
    lr: float = 1e-4
    max_length: int = 256
    eval_max_new_tokens: int = 96


REAL = RealSize()
REAL_FAST = RealSize(n_train=16, n_eval=4, max_steps=2, micro_batch_size=2, eval_max_new_tokens=16)


def natural_trace(p: Problem, wrong: int = 0) -> str:
    """A short worked solution in words, column by column, then the answer (off by ``wrong``)."""
    a, b = p.a, p.b
    steps, carry = [], 0
    while a or b or carry:
        x, y = a % 10, b % 10
        if p.op == "+":
            s = x + y + carry
            steps.append(f"{x} + {y}" + (f" + {carry}" if carry else "") + f" = {s}, write {s % 10}"
                         + (", carry 1" if s >= 10 else ""))
            carry = s // 10
        else:
            s = x - y - carry
            borrow = s < 0
            steps.append(f"{x} - {y}" + (f" - {carry}" if carry else "") + (f", borrow: {s + 10}" if borrow else
                                                                            f" = {s}") + f", write {s % 10}")
            carry = 1 if borrow else 0
        a, b = a // 10, b // 10
        if not a and not b and p.op == "-":
            break
    answer = p.answer + wrong
    word = "plus" if p.op == "+" else "minus"
    return (f"<think> {p.a} {word} {p.b}. Column by column from the units: {'; '.join(steps)}. "
            f"So {p.a} {p.op} {p.b} = {answer}. </think> <answer> {answer} </answer>")


def make_real_dataset(n: int, seed: int, wrong_share: float = 0.25) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        p = make_problem(rng, max_digits=2, word_problems=True)
        wrong = rng.choice([-10, -1, 1, 10]) if rng.random() < wrong_share else 0
        rows.append({"prompt": p.question, "response": natural_trace(p, wrong), "ground_truth": str(p.answer),
                     "teacher_correct": wrong == 0})
    return rows


def import_smollm2(run_dir: Path) -> Path:
    """RUN_DIR/model: SmolLM2-135M-Instruct imported from its PyPI package (kept when already there)."""
    from ..models.gguf import import_gguf

    model_dir = run_dir / "model"
    if not model_dir.exists():
        print("[1/4] importing SmolLM2-135M-Instruct from its PyPI package")
        import_gguf("smollm2-135m-instruct", model_dir)
    return model_dir


def run_demo_real(out: str | None = None, seed: int = 0, fast: bool = False, eval_backend: str = "hf",
                  size: RealSize | None = None) -> Path:
    """Run the real-model demo; returns the run directory (summary.json holds the figures)."""
    from ..grading import r1_zero_reward_fn
    from ..train import TrainConfig, train
    from .run import _first_eval, new_demo_dir, stopped

    size = size or (REAL_FAST if fast else REAL)
    t0 = time.perf_counter()
    run_dir = new_demo_dir(out, "demo-real")
    model_dir = import_smollm2(run_dir)
    rows = make_real_dataset(size.n_train + size.n_eval, seed)
    train_rows, eval_rows = rows[: size.n_train], rows[size.n_train:]
    examples = [Example(r["prompt"], r["response"], r["ground_truth"]) for r in train_rows]
    kept, report = filter_correct(examples, r1_zero_reward_fn, progress=False)
    print(f"[2/4] teacher wrote {len(examples)} worked solutions; the grader kept {len(kept)} "
          f"({report.n_before - report.n_after} wrong answers dropped)")
    write_jsonl(run_dir / "train.jsonl", [{"prompt": e.prompt, "response": e.response,
                                           "ground_truth": e.ground_truth} for e in kept])
    write_jsonl(run_dir / "eval.jsonl", [{"prompt": r["prompt"], "ground_truth": r["ground_truth"]}
                                         for r in eval_rows])
    print(f"[3/4] evaluating on {size.n_eval} held-out problems (chat template, greedy), fine-tuning "
          f"{size.max_steps} steps of {size.micro_batch_size}, evaluating again")
    cfg = TrainConfig(
        model=str(model_dir), train_data=str(run_dir / "train.jsonl"), eval_data=str(run_dir / "eval.jsonl"),
        template="chat", system_prompt=SYSTEM, reward="r1_zero", max_length=size.max_length,
        micro_batch_size=size.micro_batch_size, loss_normalization="token", lr=size.lr, lr_schedule="cosine",
        warmup_steps=min(4, size.max_steps - 1), min_lr_ratio=0.1, max_steps=size.max_steps, seed=seed,
        eval_n=size.n_eval, eval_batch_size=50, eval_max_new_tokens=size.eval_max_new_tokens, eval_before=True,
        eval_backend=eval_backend, output_dir=str(run_dir / "train"), checkpoint_every=0, keep_last=1,
        progress=True, plots=not fast,
    ).validate()
    summary = train(cfg)
    if stopped(summary, run_dir):
        return run_dir
    first = _first_eval(run_dir / "train")
    result = {
        "model": "SmolLM2-135M-Instruct",
        "accuracy_before": first.get("accuracy"), "accuracy_after": summary["eval_accuracy"],
        "format_rate_before": first.get("format_rate"), "format_rate_after": summary["eval_format_rate"],
        "n_eval": summary["eval_n_examples"], "n_train": len(kept), "train_steps": summary["steps"],
        "final_loss": summary["final_loss"], "wall_seconds": time.perf_counter() - t0, "fast": fast,
    }
    write_json_atomic(run_dir / "summary.json", result)
    print(f"\n[4/4] {'':<18}{'before':>10}{'after':>10}")
    print(f"{'held-out accuracy':<24}{result['accuracy_before']:>10.1%}{result['accuracy_after']:>10.1%}")
    print(f"{'format rate':<24}{result['format_rate_before']:>10.1%}{result['format_rate_after']:>10.1%}")
    print(f"({result['n_eval']} held-out problems, {result['train_steps']} optimizer steps, "
          f"{result['wall_seconds']:.0f} s of wall time)")
    print(run_dir.resolve())
    return run_dir

