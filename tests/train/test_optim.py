"""Optimizer and learning-rate schedule builders."""

import json

import pytest
import torch
from helpers.train import make_cfg

from tracesft.demo.models import tiny_qwen2
from tracesft.train import train


@pytest.mark.parametrize("name, expected", [
    ("constant", [0.0, 0.5, 1.0, 1.0, 1.0, 1.0]),
    ("linear", [0.0, 0.5, 1.0, 0.775, 0.55, 0.325]),  # warmup 2, then linear from 1 to 0.1 at step 6
    ("cosine", [0.0, 0.5, 1.0, 0.8682, 0.55, 0.2318]),  # 0.1 + 0.9 * (1 + cos(pi * t / 4)) / 2
])
def test_lr_schedule_values(name, expected):
    from tracesft.train.schedule import build_scheduler

    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = build_scheduler(opt, name, warmup_steps=2, total_steps=6, min_lr_ratio=0.1)
    got = []
    for _ in range(6):
        got.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert got == pytest.approx(expected, abs=1e-4)
    assert opt.param_groups[0]["lr"] == pytest.approx(1.0 if name == "constant" else 0.1)


def test_optimizer_groups_skip_decay_on_biases_and_norms():
    from tracesft.train.optim import build_optimizer

    model = tiny_qwen2(vocab_size=64, hidden_size=32, num_hidden_layers=1)
    opt = build_optimizer(model, "adamw", lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}
    assert all("norm" in names[id(p)] or names[id(p)].endswith("bias") for p in no_decay["params"])
    assert any("norm" in names[id(p)] for p in no_decay["params"])
    assert all(p.dim() == 2 for p in decay["params"])


def test_sgd_optimizer_trains(setup_dir, tmp_path):
    summary = train(make_cfg(setup_dir, tmp_path / "sgd", optimizer="sgd", lr=0.05, max_steps=8, eval_data=None))
    rows = [json.loads(line) for line in (tmp_path / "sgd" / "metrics.jsonl").read_text().splitlines()]
    assert summary["steps"] == 8 and rows[-1]["loss"] < rows[0]["loss"]
