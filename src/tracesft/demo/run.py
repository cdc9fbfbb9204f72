"""``tracesft demo``: the whole pipeline on a synthetic task, on a CPU, in minutes.

1. a noisy teacher writes worked traces for addition/subtraction word problems (25% wrong answers);
2. ``filter_correct`` grades them and drops the wrong ones (shown);
3. a byte-level BPE tokenizer is trained on the task text and a tiny Qwen2-architecture model is
   initialised at random, both saved as a Hugging Face directory;
4. ``tracesft.train`` (the same machinery as ``tracesft train``) evaluates the model before training,
   trains it, evaluates after, writes plots; a before/after table is printed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..data import Example, filter_correct, write_jsonl
from ..outputs import write_json_atomic, write_text_atomic
from .task import DEMO_TEMPLATE, make_dataset


@dataclass(frozen=True)
class DemoSize:
    n_train: int
    n_eval: int
    epochs: int
    hidden: int
    layers: int
    micro_batch_size: int
    lr: float
    max_digits: int = 3
    warmup_steps: int = 20
    word_problems: bool = True
    eval_every: int = 0


# Measured on 2 CPU cores (see CHANGELOG.md): FULL reached 98% held-out accuracy in about 3 minutes.
# Questions are "What is 47 plus 85?" with 1-2 digit operands; the word-problem phrasings
# (word_problems=True) need more steps than the 5-minute budget allows for a model this small.
# Attention heads of 32 dimensions: vLLM's CPU attention supports no smaller head (`--eval-backend vllm`).
HEAD_SIZE = 32
FULL = DemoSize(n_train=8000, n_eval=50, epochs=8, hidden=128, layers=3, micro_batch_size=48, lr=2e-3,
                max_digits=2, warmup_steps=30, word_problems=False, eval_every=250)
FAST = DemoSize(n_train=600, n_eval=10, epochs=1, hidden=64, layers=2, micro_batch_size=32, lr=2e-3,
                max_digits=2, warmup_steps=5, word_problems=False)
# Each evaluation draws EVAL_SAMPLES responses per held-out problem at EVAL_TEMPERATURE: n_eval x 4
# responses (as many as the greedy evaluation of 4 x n_eval problems it replaced), reported as avg@4,
# pass@1, pass@4, maj@4 and the failure modes.
DEMO_MAX_LENGTH = 128
EVAL_SAMPLES = 4
EVAL_TEMPERATURE = 0.6


def run_demo(out: str | None = None, fast: bool = False, no_filter: bool = False, seed: int = 0,
             size: DemoSize | None = None, eval_backend: str = "hf", packing: bool = False) -> Path:
    """Run the demo; returns the run directory (whose summary.json holds the before/after numbers).

    ``packing``: train with ``packing: true``, micro-batches of ``micro_batch_size`` times the mean
    example length in tokens (so that a step sees about as many examples as without packing).

    ``eval_backend``: where the evaluations generate (``hf``, or ``vllm``: an engine refreshed from
    the policy at each evaluation). A run stopped by SIGINT/SIGTERM prints where it stopped and
    writes no summary (its checkpoint resumes with ``tracesft train --resume``).
    """
    from ..train import train

    size = size or (FAST if fast else FULL)
    t0 = time.perf_counter()
    run_dir = new_demo_dir(out, "demo")
    train_records = _write_data(run_dir, size, seed, no_filter)  # steps 1 and 2
    model_dir = _write_model(run_dir, size, seed, train_records)  # step 3
    print("[4/4] training (tracesft train machinery); evaluating before and after")
    packing_tokens = _packing_budget(run_dir, model_dir, size) if packing else None
    summary = train(_train_config(run_dir, model_dir, size, seed, eval_backend, packing_tokens))
    if stopped(summary, run_dir):
        return run_dir
    before = _first_eval(run_dir / "train")
    result = {
        "accuracy_before": summary["eval_accuracy_before"],
        "accuracy_after": summary["eval_accuracy"],
        "format_rate_after": summary["eval_format_rate"],
        "before": {k: before.get(k) for k in _TABLE_KEYS},
        "after": {k: summary.get(f"eval_{k}") for k in _TABLE_KEYS},
        "samples_per_prompt": EVAL_SAMPLES, "eval_temperature": EVAL_TEMPERATURE,
        "n_eval": summary["eval_n_examples"],
        "n_train": summary["n_train"],
        "filtered": not no_filter,
        "train_steps": summary["steps"],
        "final_loss": summary["final_loss"],
        "wall_seconds": time.perf_counter() - t0,
        "fast": fast,
        "packing": packing,
        "max_tokens_per_micro_batch": packing_tokens,
    }
    write_json_atomic(run_dir / "summary.json", result)
    _print_result(run_dir, result)
    return run_dir


def new_demo_dir(out: str | None, prefix: str) -> Path:
    """The demo's run directory (default runs/PREFIX-TIMESTAMP); one that holds a run is refused."""
    run_dir = Path(out or f"runs/{prefix}-{time.strftime('%Y%m%d-%H%M%S')}")
    if (run_dir / "train").exists():
        from ..errors import UserInputError

        raise UserInputError(f"--out {run_dir}: already holds a demo run; choose another --out (or remove it)")
    from ..outputs import claim_dir

    return claim_dir(run_dir, "demo")


def stopped(summary: dict, run_dir: Path) -> bool:
    """Whether training was stopped by a signal (then says where the run is; it writes no summary)."""
    if "interrupted" not in summary:
        return False
    print(f"stopped by {summary['interrupted']} at step {summary['step']}; the run is in {run_dir / 'train'}")
    return True


def _write_data(run_dir: Path, size: DemoSize, seed: int, no_filter: bool) -> list[dict]:
    """1. traces from a noisy teacher and a held-out set; 2. grade, filter, write train.jsonl."""
    train_records = make_dataset(size.n_train, seed=seed, max_digits=size.max_digits,
                                 word_problems=size.word_problems)
    eval_records = make_dataset(size.n_eval, seed=seed + 10_000, wrong_share=0.0, max_digits=size.max_digits,
                                word_problems=size.word_problems)
    write_jsonl(run_dir / "teacher_traces.jsonl", train_records)
    write_jsonl(run_dir / "eval.jsonl", [{"prompt": r["prompt"], "ground_truth": r["ground_truth"]}
                                         for r in eval_records])
    write_text_atomic(run_dir / "template.txt", DEMO_TEMPLATE)
    n_wrong = sum(not r["teacher_correct"] for r in train_records)
    print(f"[1/4] teacher wrote {len(train_records)} traces ({n_wrong} with a wrong final answer)")

    examples = [Example(r["prompt"], r["response"], r["ground_truth"], {"source": f"teacher:{i + 1}"})
                for i, r in enumerate(train_records)]
    kept, report = filter_correct(examples, progress=False)
    for line in report.lines():
        print(f"[2/4] {line}")
    for s in report.samples.get("wrong_answer", [])[:2]:
        print(f"      e.g. dropped {s['source']}: answered {s['answer']}, truth {s['ground_truth']}")
    caught = report.n_before - report.n_after
    used = examples if no_filter else kept
    write_jsonl(run_dir / "train.jsonl", [{"prompt": e.prompt, "response": e.response,
                                           "ground_truth": e.ground_truth} for e in used])
    if no_filter:
        print(f"      training on all {len(used)} traces (--no-filter; the grader would have dropped {caught})")
    else:
        print(f"      training on {len(used)} traces ({caught} dropped by the grader)")
    return train_records


def _write_model(run_dir: Path, size: DemoSize, seed: int, train_records: list[dict], label: str = "[3/4] ") -> Path:
    """3. a BPE tokenizer trained on the task text and a tiny random Qwen2 model, as a HF directory."""
    from .models import tiny_qwen2
    from .tokenizer import train_bpe_tokenizer

    texts = [DEMO_TEMPLATE.replace("{question}", r["prompt"]) + r["response"] for r in train_records[:2000]]
    tokenizer = train_bpe_tokenizer(texts, vocab_size=400)
    heads = max(1, size.hidden // HEAD_SIZE)
    model = tiny_qwen2(vocab_size=len(tokenizer), hidden_size=size.hidden, num_hidden_layers=size.layers,
                       num_attention_heads=heads, num_key_value_heads=max(1, heads // 2),
                       intermediate_size=4 * size.hidden, max_position_embeddings=256, seed=seed)
    model_dir = run_dir / "init_model"
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{label}tokenizer: {len(tokenizer)} tokens; model: Qwen2 architecture, {n_params / 1e6:.2f}M parameters")
    return model_dir


def _packing_budget(run_dir: Path, model_dir: Path, size: DemoSize) -> int:
    """Tokens per packed micro-batch: ``micro_batch_size`` examples of train.jsonl's mean length."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    records = [json.loads(line) for line in (run_dir / "train.jsonl").read_text().splitlines()]
    lengths = [len(tok(DEMO_TEMPLATE.replace("{question}", r["prompt"]) + r["response"])["input_ids"]) for r in records]
    return max(DEMO_MAX_LENGTH, round(size.micro_batch_size * sum(lengths) / max(1, len(lengths))))


def _train_config(run_dir: Path, model_dir: Path, size: DemoSize, seed: int, eval_backend: str = "hf",
                  packing_tokens: int | None = None):
    """4. the tracesft train config: evaluate before, during and after training (packed micro-batches of
    ``packing_tokens`` tokens when given)."""
    from ..train import TrainConfig

    packing = {"packing": True, "max_tokens_per_micro_batch": packing_tokens} if packing_tokens else {}
    return TrainConfig(
        model=str(model_dir), train_data=str(run_dir / "train.jsonl"), eval_data=str(run_dir / "eval.jsonl"),
        template=str(run_dir / "template.txt"), reward="r1_zero", max_length=DEMO_MAX_LENGTH,
        micro_batch_size=size.micro_batch_size, gradient_accumulation_steps=1, loss_normalization="token",
        lr=size.lr, weight_decay=0.0, lr_schedule="cosine", warmup_steps=size.warmup_steps, min_lr_ratio=0.05,
        epochs=size.epochs, seed=seed, eval_every=size.eval_every, eval_n=size.n_eval, eval_batch_size=100,
        eval_max_new_tokens=100, eval_before=True, eval_samples=EVAL_SAMPLES, eval_temperature=EVAL_TEMPERATURE,
        output_dir=str(run_dir / "train"), checkpoint_every=0,
        keep_last=1, progress=True, eval_backend=eval_backend, **packing,
    ).validate()


_K = EVAL_SAMPLES
_TABLE = [  # (summary key, label)
    (f"avg@{_K}", f"avg@{_K} (accuracy)"), ("pass@1", "pass@1"), (f"pass@{_K}", f"pass@{_K}"),
    (f"maj@{_K}", f"maj@{_K}"), ("format_rate", "format rate"), ("hit_max_new_tokens_rate", "hit max_new_tokens"),
    ("unclosed_think_rate", "<think> never closed"), ("no_answer_rate", "no answer"),
    ("repetition_rate", "repetition loop"),
]
_TABLE_KEYS = [k for k, _ in _TABLE]


def _print_result(run_dir: Path, result: dict) -> None:
    print()
    print(f"{'':<24}{'before':>10}{'after':>10}")
    for key, label in _TABLE:
        b, a = result["before"].get(key), result["after"].get(key)
        print(f"{label:<24}{'-' if b is None else f'{b:.1%}':>10}{'-' if a is None else f'{a:.1%}':>10}")
    print(f"({result['n_eval']} held-out problems x {_K} samples at temperature {EVAL_TEMPERATURE}, "
          f"{result['train_steps']} optimizer steps, {result['wall_seconds']:.0f} s of wall time; "
          f"plots in {run_dir / 'train'})")
    print(run_dir.resolve())


def _first_eval(train_dir: Path) -> dict:
    for line in (train_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("kind") == "eval":
            return row
    return {}


@dataclass(frozen=True)
class SweepSize:
    sizes: tuple[int, ...]
    n_eval: int
    epochs: int
    wrong_share: float  #: share of the teacher's traces that forget every carry/borrow
    hidden: int = 128
    layers: int = 3
    micro_batch_size: int = 48
    lr: float = 2e-3


# The main demo's model and optimiser settings; see docs/demo.md for what this sweep measured.
SWEEP = SweepSize(sizes=(1000, 2000, 4000), n_eval=200, epochs=6, wrong_share=0.7)
SWEEP_FAST = SweepSize(sizes=(64, 128), n_eval=16, epochs=1, wrong_share=0.7, hidden=32, layers=2,
                       micro_batch_size=16)


def run_demo_sweep(out: str | None = None, seed: int = 0, fast: bool = False, size: SweepSize | None = None) -> Path:
    """Accuracy vs training-set size, trained on all of a systematically wrong teacher's traces and on
    the correct ones only (``tracesft sweep`` on the built-in task); returns the sweep directory."""
    from ..train.sweep import run_sweep, sweep_table

    size = size or (SWEEP_FAST if fast else SWEEP)
    run_dir = Path(out or f"runs/demo-sweep-{time.strftime('%Y%m%d-%H%M%S')}")
    run_dir.mkdir(parents=True, exist_ok=True)
    n = max(size.sizes) + size.n_eval
    records = make_dataset(n, seed=seed, wrong_share=size.wrong_share, max_digits=2, word_problems=False,
                           mistake="carry")
    write_jsonl(run_dir / "teacher_traces.jsonl", records)
    write_text_atomic(run_dir / "template.txt", DEMO_TEMPLATE)
    n_wrong = sum(not r["teacher_correct"] for r in records)
    print(f"teacher wrote {n} traces; {n_wrong} forget a carry or borrow and end on a wrong answer")
    model_size = DemoSize(n_train=n, n_eval=size.n_eval, epochs=size.epochs, hidden=size.hidden, layers=size.layers,
                          micro_batch_size=size.micro_batch_size, lr=size.lr)
    model_dir = _write_model(run_dir, model_size, seed, records, label="")
    config = {"model": str(model_dir), "train_data": str(run_dir / "teacher_traces.jsonl"),
              "test_size": size.n_eval, "eval_n": size.n_eval, "template": str(run_dir / "template.txt"),
              "reward": "r1_zero", "max_length": 128, "micro_batch_size": size.micro_batch_size, "lr": size.lr,
              "lr_schedule": "cosine", "warmup_steps": 30, "min_lr_ratio": 0.05, "epochs": size.epochs,
              "seed": seed, "eval_batch_size": 100, "eval_max_new_tokens": 100, "progress": False, "plots": False}
    write_text_atomic(run_dir / "sweep.yaml", yaml.safe_dump(config, sort_keys=False))
    print(f"tracesft sweep --config {run_dir / 'sweep.yaml'} --sizes {','.join(map(str, size.sizes))} "
          f"--out {run_dir / 'sweep'}")
    rows = run_sweep(str(run_dir / "sweep.yaml"), [], list(size.sizes), "both", str(run_dir / "sweep"))
    if rows is not None:
        print(sweep_table(rows))
        print(f"plot: {run_dir / 'sweep' / 'accuracy_vs_size.png'}")
        habits = [dict(size=r["size"], filter=r["filter"], **carry_habit(Path(r["run_dir"]))) for r in rows]
        write_json_atomic(run_dir / "sweep" / "carry_habit.json", habits)
        print("held-out problems that need a carry/borrow vs not, and how often the model repeats the teacher's slip:")
        print(f"{'size':>6} {'filter':>6} {'carry right':>12} {'no-carry right':>15} {'teacher slip':>13}")
        for h in habits:
            print(f"{h['size']!s:>6} {h['filter']:>6} {h['carry_accuracy']:>12.1%} {h['no_carry_accuracy']:>15.1%} "
                  f"{h['slip_rate']:>13.1%}")
    print(run_dir.resolve())
    return run_dir


def carry_habit(cell_dir: Path) -> dict:
    """From a cell's last evaluation: accuracy on held-out problems that need a carry (borrow) and on
    those that do not, and the share of the former answered with the teacher's forgotten-carry answer."""
    import re

    from .task import Problem, trace_answer, worked_trace

    last = sorted((cell_dir / "generations").glob("step-*.jsonl"))[-1]
    counts = {"carry": [0, 0, 0], "no_carry": [0, 0, 0]}  # problems, right, teacher's slip
    for line in last.read_text(encoding="utf-8").splitlines():
        g = json.loads(line)
        a, op, b = re.search(r"What is (\d+) (plus|minus) (\d+)\?", g["prompt"]).groups()
        p = Problem("", int(a), int(b), "+" if op == "plus" else "-")
        slip = trace_answer(worked_trace(p, forget_carry=True))
        m = re.search(r"<answer>\s*(-?\d+)\s*</answer>", g["response"])
        answer = int(m.group(1)) if m else None
        c = counts["no_carry" if slip == p.answer else "carry"]
        c[0] += 1
        c[1] += answer == p.answer
        c[2] += answer == slip != p.answer
    return {"carry_problems": counts["carry"][0], "carry_accuracy": counts["carry"][1] / max(1, counts["carry"][0]),
            "no_carry_accuracy": counts["no_carry"][1] / max(1, counts["no_carry"][0]),
            "slip_rate": counts["carry"][2] / max(1, counts["carry"][0])}
