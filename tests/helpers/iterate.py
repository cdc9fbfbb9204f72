"""A tiny expert-iteration set-up on disk: a seed model that answers 3 to every question, questions
whose answer is 3 (solvable) or 4 (not), a template, and the iterate config that runs on them."""

from __future__ import annotations

import json
import random
from pathlib import Path

import yaml

TEMPLATE = "User: {question}\nAssistant: <think>"
FILLERS = ["a", "b", "c", "ab", "ba", "cab"]


def _write(path: Path, rows) -> None:
    with path.open("w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def build_iterate_dir(root: Path, seed_steps: int = 40, **model) -> Path:
    """root/model (tiny Qwen2 + BPE tokenizer), root/seed (fine-tuned to answer ' X </think> <answer> 3
    </answer>' with a random filler X), questions.jsonl (8: answers 3, except 4 for questions 0 and 4),
    eval.jsonl (4), template.txt, seed.jsonl. ``model``: tiny_qwen2 keywords (heads, ...)."""
    from tracesft.demo.models import tiny_qwen2
    from tracesft.demo.tokenizer import train_bpe_tokenizer
    from tracesft.train import TrainConfig, train

    rng = random.Random(0)
    seed_rows = [{"prompt": f"What is {i} plus 1?", "response": f" {rng.choice(FILLERS)} </think> <answer> 3 </answer>",
                  "ground_truth": "3"} for i in range(32)]
    _write(root / "seed.jsonl", seed_rows)
    _write(root / "questions.jsonl", [{"prompt": f"What is {i} plus 2?", "ground_truth": "4" if i % 4 == 0 else "3"}
                                      for i in range(8)])
    _write(root / "eval.jsonl", [{"prompt": f"What is {i} plus 5?", "ground_truth": "3"} for i in range(4)])
    (root / "template.txt").write_text(TEMPLATE)
    tok = train_bpe_tokenizer([TEMPLATE.replace("{question}", r["prompt"]) + r["response"] for r in seed_rows],
                              vocab_size=300)
    tiny = tiny_qwen2(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, seed=0, **model)
    tiny.save_pretrained(root / "model")
    tok.save_pretrained(root / "model")
    train(TrainConfig(model=str(root / "model"), train_data=str(root / "seed.jsonl"),
                      template=str(root / "template.txt"), reward="r1_zero", max_length=48, micro_batch_size=8,
                      lr=2e-2, lr_schedule="constant", max_steps=seed_steps, output_dir=str(root / "seed"),
                      progress=False, plots=False, threads=1).validate())
    return root


def iterate_values(root: Path, **iterate) -> dict:
    """The iterate config (as a mapping) for build_iterate_dir's files: 2 rounds, K=2, M=2, 4 steps a round."""
    return {"model": str(root / "seed" / "final"), "train_data": str(root / "questions.jsonl"),
            "eval_data": str(root / "eval.jsonl"), "template": str(root / "template.txt"), "reward": "r1_zero",
            "max_length": 48, "micro_batch_size": 2, "lr": 3e-3, "max_steps": 4, "eval_max_new_tokens": 12,
            "eval_batch_size": 8, "progress": False, "plots": False, "seed": 1, "threads": 1,
            "iterate": {"rounds": 2, "samples_per_prompt": 2, "keep_per_prompt": 2, "chunk_size": 4, **iterate}}


def write_iterate_config(root: Path, path: Path, **iterate) -> Path:
    path.write_text(yaml.safe_dump(iterate_values(root, **iterate)))
    return path
