"""``tracesft demo --iterate``: expert iteration on the demo's arithmetic task, on a CPU.

1. a teacher writes a small seed set of correct worked traces; the questions of the loop come with
   their answers only, and a held-out set is kept apart;
2. the demo's tokenizer and tiny Qwen2 model are built and fine-tuned on the seed set
   (``tracesft train``): a weak seed model;
3. ``tracesft iterate`` runs from it: each round samples K responses per question, keeps the
   correct ones, fine-tunes on them and evaluates on the held-out set; the per-round table is
   printed and ``iterate.png`` plots accuracy and coverage against the round.

The run directory's ``summary.json`` holds ``accuracy_per_round`` (round 0: the seed model); its
path is the last line printed.

``--real`` runs the same on SmolLM2-135M-Instruct (imported from its PyPI package, as
``demo --real``), through its chat template and ``demo --real``'s system message, on word problems
with worked solutions in the R1 format: a seed model fine-tuned on a few of them, then rounds on
answer-only questions (:data:`REAL_ITERATE`, sized for 2 CPU cores).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..data import write_jsonl
from ..outputs import write_json_atomic, write_text_atomic
from .task import DEMO_TEMPLATE, make_dataset


@dataclass(frozen=True)
class IterateDemoSize:
    n_seed: int  #: seed traces
    seed_steps: int  #: optimizer steps of the seed model's fine-tuning
    n_questions: int  #: answer-only questions the loop samples on
    n_eval: int  #: held-out problems
    rounds: int
    samples_per_prompt: int
    keep_per_prompt: int
    round_steps: int  #: optimizer steps of each round's fine-tuning (on its kept traces)
    temperature: float = 1.0
    hidden: int = 128
    layers: int = 3
    micro_batch_size: int = 48
    seed_lr: float = 2e-3
    round_lr: float = 2e-3
    max_new_tokens: int = 100
    #: the seed set is ``n_seed`` copies of this many problems, and the loop's questions are those
    #: problems (the fast smoke run: a tiny model memorises a few traces in seconds); 0: all distinct
    repeated_problems: int = 0
    threads: int | None = None  #: CPU threads (null: the cores); 1 for a model this tiny (a second thread only spins)
    seed_warmup: int = 30
    round_warmup: int = 10
    chunk_size: int = 500  #: questions per saved chunk of samples
    max_length: int = 128
    eval_batch_size: int = 100  #: prompts per generate call (sampling: x samples_per_prompt sequences)


# Measured on 2 shared CPU cores: see docs/iterate.md.
ITERATE = IterateDemoSize(n_seed=1000, seed_steps=500, n_questions=2500, n_eval=200, rounds=3, samples_per_prompt=4,
                          keep_per_prompt=1, round_steps=150, temperature=0.5)
ITERATE_FAST = IterateDemoSize(n_seed=32, seed_steps=100, n_questions=4, n_eval=4, rounds=2, samples_per_prompt=2,
                               keep_per_prompt=1, round_steps=2, hidden=64, layers=1, micro_batch_size=8,
                               seed_lr=1e-2, max_new_tokens=72, repeated_problems=4, threads=1)


# demo --iterate --real: SmolLM2-135M-Instruct takes seconds per optimizer step and about a second per
# sampled response on 2 cores, so the sets are small and the rounds few (hidden and layers are unused:
# the model is the imported one). One CPU thread: on a shared 2-core machine a second thread spins while
# it waits for the first (measured: 8 greedy responses of 32 tokens in 6.2 s with 1 thread, 63.6 s with
# 2, load average 8.6). Measured on 2 shared CPU cores: see docs/iterate.md.
REAL_ITERATE = IterateDemoSize(n_seed=96, seed_steps=12, n_questions=48, n_eval=50, rounds=2, samples_per_prompt=4,
                               keep_per_prompt=1, round_steps=6, temperature=0.7, micro_batch_size=8, seed_lr=2e-4,
                               round_lr=1e-4, max_new_tokens=96, threads=1, seed_warmup=3, round_warmup=2,
                               chunk_size=24, max_length=256, eval_batch_size=25)
REAL_ITERATE_FAST = dataclasses.replace(REAL_ITERATE, n_seed=16, seed_steps=8, n_questions=2, n_eval=2, rounds=1,
                                        samples_per_prompt=2, round_steps=1, micro_batch_size=4, seed_lr=5e-4,
                                        repeated_problems=2)


def run_demo_iterate(out: str | None = None, seed: int = 0, fast: bool = False, real: bool = False,
                     eval_backend: str = "hf", size: IterateDemoSize | None = None) -> Path:
    """Run the demo; returns its directory (``summary.json``: ``accuracy_per_round`` and the table)."""
    if real:
        return run_demo_iterate_real(out, seed=seed, fast=fast, eval_backend=eval_backend, size=size)
    from .run import DemoSize, _write_model, new_demo_dir

    size = size or (ITERATE_FAST if fast else ITERATE)
    t0 = time.perf_counter()
    run_dir = new_demo_dir(out, "demo-iterate")
    records = make_dataset(size.n_seed + size.n_questions + size.n_eval, seed=seed, wrong_share=0.0, max_digits=2,
                           word_problems=False)
    _write_sets(run_dir, records, size)
    write_text_atomic(run_dir / "template.txt", DEMO_TEMPLATE)
    print(f"[1/3] {size.n_seed} seed traces, {size.n_questions} questions with answers only, {size.n_eval} held out")
    model_size = DemoSize(n_train=size.n_seed, n_eval=size.n_eval, epochs=1, hidden=size.hidden, layers=size.layers,
                          micro_batch_size=size.micro_batch_size, lr=size.seed_lr)
    model_dir = _write_model(run_dir, model_size, seed, records[:2000], label="[2/3] ")
    common = {"template": str(run_dir / "template.txt"), "reward": "r1_zero", "max_length": size.max_length,
              "micro_batch_size": size.micro_batch_size, "loss_normalization": "token", "lr_schedule": "cosine",
              "min_lr_ratio": 0.05, "seed": seed, "checkpoint_every": 0, "keep_last": 1, "progress": True,
              "threads": size.threads, "eval_backend": eval_backend, "eval_batch_size": size.eval_batch_size}
    return _seed_then_iterate(run_dir, model_dir, common, size, fast, t0, "[3/3] ")


def run_demo_iterate_real(out: str | None = None, seed: int = 0, fast: bool = False, eval_backend: str = "hf",
                          size: IterateDemoSize | None = None) -> Path:
    """``demo --iterate --real``: the loop on SmolLM2-135M-Instruct through its chat template, from a
    seed model fine-tuned on a few of ``demo --real``'s worked solutions (the instruct model itself
    never answers in the R1 format, so it would keep nothing)."""
    from .real import SYSTEM, import_smollm2, make_real_dataset
    from .run import new_demo_dir

    size = size or (REAL_ITERATE_FAST if fast else REAL_ITERATE)
    t0 = time.perf_counter()
    run_dir = new_demo_dir(out, "demo-iterate-real")
    model_dir = import_smollm2(run_dir)
    _write_sets(run_dir, make_real_dataset(size.n_seed + size.n_questions + size.n_eval, seed, wrong_share=0.0), size)
    print(f"[2/4] {size.n_seed} seed solutions (word problems, R1 format), {size.n_questions} questions with "
          f"answers only, {size.n_eval} held out")
    common = {"template": "chat", "system_prompt": SYSTEM, "reward": "r1_zero", "max_length": size.max_length,
              "micro_batch_size": size.micro_batch_size, "loss_normalization": "token", "lr_schedule": "cosine",
              "min_lr_ratio": 0.1, "seed": seed, "checkpoint_every": 0, "keep_last": 1, "progress": True,
              "threads": size.threads, "eval_backend": eval_backend,
              "eval_batch_size": size.eval_batch_size}
    return _seed_then_iterate(run_dir, model_dir, common, size, fast, t0, "[3/4] ", model="SmolLM2-135M-Instruct")


def _write_sets(run_dir: Path, records: list[dict], size: IterateDemoSize) -> None:
    """``records`` split into seed.jsonl (worked traces), questions.jsonl and eval.jsonl (answers
    only); with ``size.repeated_problems``, the seed set repeats the first few and those are the
    questions and the held-out set."""
    seed_rows = records[:size.n_seed]
    question_rows = records[size.n_seed:size.n_seed + size.n_questions]
    eval_rows = records[size.n_seed + size.n_questions:]
    if size.repeated_problems:
        question_rows = eval_rows = records[:size.repeated_problems]
        seed_rows = [question_rows[i % size.repeated_problems] for i in range(size.n_seed)]
    write_jsonl(run_dir / "seed.jsonl", [{k: r[k] for k in ("prompt", "response", "ground_truth")} for r in seed_rows])
    for name, part in (("questions", question_rows), ("eval", eval_rows)):
        write_jsonl(run_dir / f"{name}.jsonl", [{"prompt": r["prompt"], "ground_truth": r["ground_truth"]}
                                                for r in part])


def _seed_then_iterate(run_dir: Path, model_dir: Path, common: dict, size, fast: bool, t0: float, label: str,
                       model: str | None = None) -> Path:
    """Fine-tune the seed model on seed.jsonl (``tracesft train``), then ``tracesft iterate`` from it
    (its config written to ``iterate-config.yaml``); summary.json, the result line, the run directory."""
    from ..iterate.config import load_iterate_config
    from ..iterate.loop import run_iterate
    from ..train import TrainConfig, train
    from .run import stopped

    if not (run_dir / "seed" / "summary.json").is_file():
        seed_cfg = TrainConfig(model=str(model_dir), train_data=str(run_dir / "seed.jsonl"),
                               output_dir=str(run_dir / "seed"), lr=size.seed_lr,
                               warmup_steps=min(size.seed_warmup, size.seed_steps - 1), max_steps=size.seed_steps,
                               plots=False, **common).validate()
        print(f"      fine-tuning the seed model: {size.seed_steps} steps of {size.micro_batch_size} on the seed "
              "traces")
        if stopped(train(seed_cfg), run_dir):
            return run_dir
    config = {"model": str(run_dir / "seed" / "final"), "train_data": str(run_dir / "questions.jsonl"),
              "eval_data": str(run_dir / "eval.jsonl"), "eval_n": size.n_eval,
              "eval_max_new_tokens": size.max_new_tokens, "lr": size.round_lr,
              "warmup_steps": min(size.round_warmup, size.round_steps // 2),
              "max_steps": size.round_steps, "plots": not fast, **common,
              "iterate": {"rounds": size.rounds, "samples_per_prompt": size.samples_per_prompt,
                          "temperature": size.temperature, "keep_per_prompt": size.keep_per_prompt,
                          "prefer": "shortest", "init": "previous", "chunk_size": size.chunk_size}}
    config_path = run_dir / "iterate-config.yaml"
    write_text_atomic(config_path, yaml.safe_dump(config, sort_keys=False))
    print(f"{label}tracesft iterate --config {config_path} --out {run_dir / 'iterate'}")
    summary = run_iterate(load_iterate_config(str(config_path)), str(run_dir / "iterate"))
    if "interrupted" in summary:
        return run_dir
    rows = summary["table"]
    acc = summary["accuracy_per_round"]
    result = {"accuracy_per_round": acc, "coverage_per_round": summary["coverage_per_round"],
              "kept_per_round": summary["kept_per_round"], "seed_accuracy": acc[0], "final_accuracy": acc[-1],
              "gain_points": 100 * (acc[-1] - acc[0]),
              "rising_every_round": all(b > a for a, b in zip(acc, acc[1:])), "n_seed": size.n_seed,
              "n_questions": size.n_questions, "n_eval": size.n_eval, "rounds": size.rounds,
              "samples_per_prompt": size.samples_per_prompt, "table": rows,
              "wall_seconds": time.perf_counter() - t0, "fast": fast, **({"model": model} if model else {})}
    write_json_atomic(run_dir / "summary.json", result)
    print(f"held-out accuracy {acc[0]:.1%} (seed model) -> {acc[-1]:.1%} after {size.rounds} rounds "
          f"({result['gain_points']:+.1f} points), {result['wall_seconds']:.0f} s of wall time"
          + (f"; plot {run_dir / 'iterate' / 'iterate.png'}" if not fast else ""))
    print(run_dir.resolve())
    return run_dir
