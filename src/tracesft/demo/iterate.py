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
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..data import write_jsonl
from ..outputs import write_text_atomic
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


# Measured on 2 shared CPU cores: see docs/iterate.md.
ITERATE = IterateDemoSize(n_seed=1000, seed_steps=500, n_questions=2500, n_eval=200, rounds=3, samples_per_prompt=4,
                          keep_per_prompt=1, round_steps=150, temperature=0.5)
ITERATE_FAST = IterateDemoSize(n_seed=32, seed_steps=100, n_questions=4, n_eval=4, rounds=2, samples_per_prompt=2,
                               keep_per_prompt=1, round_steps=2, hidden=64, layers=1, micro_batch_size=8,
                               seed_lr=1e-2, max_new_tokens=72, repeated_problems=4, threads=1)


def run_demo_iterate(out: str | None = None, seed: int = 0, fast: bool = False, real: bool = False,
                     eval_backend: str = "hf", size: IterateDemoSize | None = None) -> Path:
    """Run the demo; returns its directory (``summary.json``: ``accuracy_per_round`` and the table)."""
    if real:
        from ..errors import UserInputError

        raise UserInputError("demo --iterate --real is not built yet: run tracesft demo --iterate (the tiny model)")
    from ..iterate.config import load_iterate_config
    from ..iterate.loop import run_iterate
    from ..train import train
    from .run import DemoSize, _write_model, new_demo_dir, stopped

    size = size or (ITERATE_FAST if fast else ITERATE)
    t0 = time.perf_counter()
    run_dir = new_demo_dir(out, "demo-iterate")
    records = make_dataset(size.n_seed + size.n_questions + size.n_eval, seed=seed, wrong_share=0.0, max_digits=2,
                           word_problems=False)
    seed_rows = records[:size.n_seed]
    question_rows = records[size.n_seed:size.n_seed + size.n_questions]
    eval_rows = records[size.n_seed + size.n_questions:]
    if size.repeated_problems:
        question_rows = eval_rows = records[:size.repeated_problems]
        seed_rows = [question_rows[i % size.repeated_problems] for i in range(size.n_seed)]
    write_jsonl(run_dir / "seed.jsonl", [{k: r[k] for k in ("prompt", "response", "ground_truth")} for r in seed_rows])
    write_jsonl(run_dir / "questions.jsonl", [{"prompt": r["prompt"], "ground_truth": r["ground_truth"]}
                                              for r in question_rows])
    write_jsonl(run_dir / "eval.jsonl", [{"prompt": r["prompt"], "ground_truth": r["ground_truth"]}
                                         for r in eval_rows])
    write_text_atomic(run_dir / "template.txt", DEMO_TEMPLATE)
    print(f"[1/3] {size.n_seed} seed traces, {size.n_questions} questions with answers only, {size.n_eval} held out")
    model_size = DemoSize(n_train=size.n_seed, n_eval=size.n_eval, epochs=1, hidden=size.hidden, layers=size.layers,
                          micro_batch_size=size.micro_batch_size, lr=size.seed_lr)
    model_dir = _write_model(run_dir, model_size, seed, records[:2000], label="[2/3] ")
    common = {"template": str(run_dir / "template.txt"), "reward": "r1_zero", "max_length": 128,
              "micro_batch_size": size.micro_batch_size, "loss_normalization": "token", "lr_schedule": "cosine",
              "min_lr_ratio": 0.05, "seed": seed, "checkpoint_every": 0, "keep_last": 1, "progress": True,
              "threads": size.threads, "eval_backend": eval_backend}
    if not (run_dir / "seed" / "summary.json").is_file():
        from ..train import TrainConfig

        seed_cfg = TrainConfig(model=str(model_dir), train_data=str(run_dir / "seed.jsonl"),
                               output_dir=str(run_dir / "seed"), lr=size.seed_lr, warmup_steps=min(30, size.seed_steps),
                               max_steps=size.seed_steps, plots=False, **common).validate()
        print(f"      fine-tuning the seed model: {size.seed_steps} steps of {size.micro_batch_size} on the seed "
              "traces")
        if stopped(train(seed_cfg), run_dir):
            return run_dir
    config = {"model": str(run_dir / "seed" / "final"), "train_data": str(run_dir / "questions.jsonl"),
              "eval_data": str(run_dir / "eval.jsonl"), "eval_n": size.n_eval, "eval_batch_size": 100,
              "eval_max_new_tokens": size.max_new_tokens, "lr": size.round_lr,
              "warmup_steps": min(10, size.round_steps // 2),
              "max_steps": size.round_steps, "plots": not fast, **common,
              "iterate": {"rounds": size.rounds, "samples_per_prompt": size.samples_per_prompt,
                          "temperature": size.temperature, "keep_per_prompt": size.keep_per_prompt,
                          "prefer": "shortest", "init": "previous", "chunk_size": 500}}
    config_path = run_dir / "iterate-config.yaml"
    write_text_atomic(config_path, yaml.safe_dump(config, sort_keys=False))
    print(f"[3/3] tracesft iterate --config {config_path} --out {run_dir / 'iterate'}")
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
              "wall_seconds": time.perf_counter() - t0, "fast": fast}
    write_text_atomic(run_dir / "summary.json", json.dumps(result, indent=2) + "\n")
    print(f"held-out accuracy {acc[0]:.1%} (seed model) -> {acc[-1]:.1%} after {size.rounds} rounds "
          f"({result['gain_points']:+.1f} points), {result['wall_seconds']:.0f} s of wall time; plot "
          f"{run_dir / 'iterate' / 'iterate.png'}")
    print(run_dir.resolve())
    return run_dir
