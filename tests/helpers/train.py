"""A tiny training set-up on disk (data, template, model, tokenizer) and what the train tests do with it."""

import json
import os
import shutil
import signal
from pathlib import Path

from safetensors.torch import load_file

from tracesft.demo.models import tiny_qwen2
from tracesft.demo.task import DEMO_TEMPLATE, make_dataset
from tracesft.demo.tokenizer import train_bpe_tokenizer
from tracesft.train import TrainConfig
from tracesft.train import loop as loop_module


def build_setup_dir(root: Path) -> Path:
    """Train/eval JSONL, a template and a tiny model + tokenizer saved under root."""
    records = make_dataset(48, seed=3, wrong_share=0.0, max_digits=2)
    with (root / "train.jsonl").open("w") as f:
        for r in records:
            f.write(json.dumps({"prompt": r["prompt"], "response": r["response"], "ground_truth": r["ground_truth"]})
                    + "\n")
    with (root / "eval.jsonl").open("w") as f:
        for r in make_dataset(4, seed=9, wrong_share=0.0, max_digits=2):
            f.write(json.dumps({"prompt": r["prompt"], "ground_truth": r["ground_truth"]}) + "\n")
    (root / "template.txt").write_text(DEMO_TEMPLATE)
    tok = train_bpe_tokenizer([DEMO_TEMPLATE + r["prompt"] + r["response"] for r in records], vocab_size=300)
    model = tiny_qwen2(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, seed=0)
    model.save_pretrained(root / "model")
    tok.save_pretrained(root / "model")
    return root


def make_cfg(root: Path, out: Path, **kw) -> TrainConfig:
    """A validated config for a short run on build_setup_dir's files, writing to out."""
    values = dict(model=str(root / "model"), train_data=str(root / "train.jsonl"), eval_data=str(root / "eval.jsonl"),
                  template=str(root / "template.txt"), max_length=96, micro_batch_size=4,
                  gradient_accumulation_steps=2, lr=3e-3, lr_schedule="cosine", warmup_steps=1, max_steps=6,
                  eval_n=4, eval_batch_size=4, eval_max_new_tokens=8, output_dir=str(out), progress=False,
                  plots=False, seed=1, eval_before=False,  # a baseline evaluation only where a test asks
                  overlength="truncate")  # 36 of the 48 traces exceed max_length=96: kept, cut, as the tests expect
    values.update(kw)
    return TrainConfig(**values).validate()


def sigterm_during_step(monkeypatch, n: int):
    """Send SIGTERM to this process during the n-th optimizer step; returns the real train_step."""
    real, calls = loop_module.train_step, {"n": 0}

    def step_then_signal(*a, **kw):
        calls["n"] += 1
        if calls["n"] == n:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(*a, **kw)

    monkeypatch.setattr(loop_module, "train_step", step_then_signal)
    return real


def final_weights(run_dir: Path) -> dict:
    """The final model's tensors of a finished run directory."""
    return load_file(str(run_dir / "final" / "model.safetensors"))


def unfinish(src: Path, dst: Path, drop_steps=()) -> Path:
    """A copy of a finished run as a kill before its end leaves it: no final/, no summary.json, and
    without the checkpoints of ``drop_steps``."""
    shutil.copytree(src, dst)
    shutil.rmtree(dst / "final")
    (dst / "summary.json").unlink()
    for step in drop_steps:
        shutil.rmtree(dst / "checkpoints" / f"step-{step:08d}")
    return dst


def tiny_model_dir(path: Path) -> Path:
    """A tiny Qwen2 model and a BPE tokenizer trained on one R1-Zero line, saved as a HF directory."""
    from tracesft.demo.models import tiny_qwen2
    from tracesft.demo.tokenizer import train_bpe_tokenizer

    tok = train_bpe_tokenizer(["1 + 2 = 3 </think> <answer> 3 </answer>"] * 5, vocab_size=280)
    tiny_qwen2(vocab_size=len(tok)).save_pretrained(path)
    tok.save_pretrained(path)
    return path
