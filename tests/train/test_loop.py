import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from tracesft.demo.models import tiny_qwen2
from tracesft.demo.task import DEMO_TEMPLATE, make_dataset
from tracesft.demo.tokenizer import train_bpe_tokenizer
from tracesft.train import ConfigError, TrainConfig, TrainingError, load_config, train
from tracesft.train import loop as loop_module
from tracesft.train.batching import build_train_set, collate, epoch_plan
from tracesft.train.distributed import LogProbModule
from tracesft.train.normalization import NORMALIZATIONS
from tracesft.train.step import train_step


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


@pytest.fixture(scope="module")
def setup_dir(tmp_path_factory):
    return build_setup_dir(tmp_path_factory.mktemp("train"))


def make_cfg(root: Path, out: Path, **kw) -> TrainConfig:
    values = dict(model=str(root / "model"), train_data=str(root / "train.jsonl"), eval_data=str(root / "eval.jsonl"),
                  template=str(root / "template.txt"), max_length=96, micro_batch_size=4,
                  gradient_accumulation_steps=2, lr=3e-3, lr_schedule="cosine", warmup_steps=1, max_steps=6,
                  eval_n=4, eval_batch_size=4, eval_max_new_tokens=8, output_dir=str(out), progress=False,
                  plots=False, seed=1)
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
    return load_file(str(run_dir / "final" / "model.safetensors"))


# --- config --------------------------------------------------------------------------------------

def test_config_yaml_overrides_and_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"model": "m", "train_data": "d.jsonl", "lr": 0.001, "max_steps": 5}))
    cfg = load_config(str(path), ["micro_batch_size=8", "loss_normalization=sample", "max_steps=null"])
    assert (cfg.lr, cfg.micro_batch_size, cfg.loss_normalization, cfg.max_steps) == (0.001, 8, "sample", None)
    with pytest.raises(ConfigError, match=r"unknown config key 'learning_rate'.*valid keys: model"):
        load_config(str(path), ["learning_rate=1"])
    with pytest.raises(ConfigError, match="did you mean micro_batch_size"):
        load_config(str(path), ["micro_batchsize=1"])
    with pytest.raises(ConfigError, match="loss_normalization: 'mean' is not one of sum, token, sample"):
        load_config(str(path), ["loss_normalization=mean"])
    with pytest.raises(ConfigError, match="micro_batch_size: expected int, got 'four'"):
        load_config(str(path), ["micro_batch_size=four"])
    with pytest.raises(ConfigError, match="micro_batch_size: must be >= 1"):
        load_config(str(path), ["micro_batch_size=0"])
    with pytest.raises(ConfigError, match="dtype: 'fp8' is not one of float32, bfloat16"):
        load_config(str(path), ["dtype=fp8"])
    with pytest.raises(ConfigError, match="key=value"):
        load_config(str(path), ["lr"])
    path.write_text("model: m\nbogus: 1\ntrain_data: d\n")
    with pytest.raises(ConfigError, match="unknown config key 'bogus'"):
        load_config(str(path))
    with pytest.raises(ConfigError, match="train_data: required"):
        load_config(None, ["model=m"])


def test_cli_config_error_is_one_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: m\ntrain_data: d\nlr_schedule: exponential\n")
    proc = subprocess.run([sys.executable, "-m", "tracesft", "train", "--config", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["error: lr_schedule: 'exponential' is not one of constant, linear, "
                                                "cosine"]


# --- loss normalisations ---------------------------------------------------------------------------

def _grads_for_split(root, micro, normalization, order=None):
    from tracesft.evaluate import load_model_and_tokenizer

    model, tok = load_model_and_tokenizer(str(root / "model"))
    records = [json.loads(line) for line in (root / "train.jsonl").read_text().splitlines()][:6]
    ts = build_train_set([DEMO_TEMPLATE.replace("{question}", r["prompt"]) for r in records],
                         [r["response"] for r in records], tok, 96)
    idx = order or list(range(6))
    mbs = [collate([ts[i] for i in idx[s:s + micro]], tok.pad_token_id) for s in range(0, 6, micro)]
    stats = train_step(LogProbModule(model), mbs, NORMALIZATIONS[normalization], normalize_constant=3.0)
    return {n: p.grad.clone() for n, p in model.named_parameters()}, stats, model, tok, records


@pytest.mark.parametrize("normalization", ["token", "sample", "sum"])
def test_normalizations_are_split_invariant_where_promised(setup_dir, normalization):
    g6, s6, *_ = _grads_for_split(setup_dir, 6, normalization)
    g2, s2, *_ = _grads_for_split(setup_dir, 2, normalization)
    g_uneven, _, *_ = _grads_for_split(setup_dir, 4, normalization)  # micro-batches of 4 and 2
    assert s6["loss"] == pytest.approx(s2["loss"], rel=1e-5)
    for name in g6:
        torch.testing.assert_close(g2[name], g6[name], rtol=1e-4, atol=1e-7)
        if normalization != "sum":  # token and sample stay exact for unequal micro-batches too
            torch.testing.assert_close(g_uneven[name], g6[name], rtol=1e-4, atol=1e-7)


def test_normalization_values_match_definitions(setup_dir):
    from tracesft import get_response_log_probs, tokenize_prompt_and_output

    _, stats_token, model, tok, records = _grads_for_split(setup_dir, 3, "token")
    _, stats_sample, *_ = _grads_for_split(setup_dir, 3, "sample")
    _, stats_sum, *_ = _grads_for_split(setup_dir, 3, "sum")
    batch = tokenize_prompt_and_output([DEMO_TEMPLATE.replace("{question}", r["prompt"]) for r in records],
                                       [r["response"] for r in records], tok, 96)
    with torch.no_grad():
        lp = get_response_log_probs(model, batch["input_ids"], batch["labels"], fused=False)["log_probs"]
    m = batch["response_mask"]
    nll = -(lp * m).sum(-1)
    assert stats_token["loss"] == pytest.approx((nll.sum() / m.sum()).item(), rel=1e-5)
    assert stats_sample["loss"] == pytest.approx((nll / m.sum(-1)).mean().item(), rel=1e-5)
    assert stats_sum["loss"] == pytest.approx((nll / 3.0).mean().item(), rel=1e-5)


def test_epoch_plan_deterministic_and_complete():
    lengths = [5, 9, 3, 7, 7, 2, 8, 1, 4, 6, 10]
    plan = epoch_plan(lengths, 2, 2, seed=0, epoch=0)
    assert plan == epoch_plan(lengths, 2, 2, seed=0, epoch=0)
    assert plan != epoch_plan(lengths, 2, 2, seed=0, epoch=1)
    flat = sorted(i for step in plan for mb in step for i in mb)
    assert flat == list(range(11))
    assert all(len(step) <= 2 and all(len(mb) <= 2 for mb in step) for step in plan)


# --- the loop --------------------------------------------------------------------------------------

def test_training_run_loss_falls_and_outputs(setup_dir, tmp_path):
    out = tmp_path / "run"
    summary = train(make_cfg(setup_dir, out, max_steps=12, lr=1e-2, eval_kl=True, eval_before=True, plots=True,
                             checkpoint_every=4, keep_last=2))
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if r["kind"] == "train"]
    assert [r["step"] for r in train_rows] == list(range(1, 13))
    assert train_rows[-1]["loss"] < 0.7 * train_rows[0]["loss"]
    for key in ("loss", "grad_norm", "lr", "response_tokens", "tokens_per_second", "padding_fraction", "entropy"):
        assert key in train_rows[0]
    evals = [r for r in rows if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [0, 12]
    assert evals[-1]["kl_k3"] >= 0 and "accuracy" in evals[-1]
    assert summary["steps"] == 12 and summary["eval_n_examples"] == 4
    assert yaml.safe_load((out / "config.yaml").read_text())["max_steps"] == 12
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000008", "step-00000012"]
    assert (out / "generations" / "step-00000012.jsonl").is_file()
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(out / "final")  # loadable by transformers
    for name in ("loss.png", "eval.png", "length_entropy.png"):
        assert (out / name).stat().st_size > 1000


def test_sigterm_saves_and_resume_is_bit_identical(setup_dir, tmp_path, monkeypatch, capsys):
    ref = tmp_path / "ref"
    train(make_cfg(setup_dir, ref, eval_n=1))
    expected = final_weights(ref)

    out = tmp_path / "int"
    real = sigterm_during_step(monkeypatch, 3)
    result = train(make_cfg(setup_dir, out, eval_n=1))
    assert result["interrupted"] == "SIGTERM" and result["step"] == 3
    printed = capsys.readouterr().out
    assert f"resume with: tracesft train --resume {out}" in printed
    assert (out / "checkpoints" / "step-00000003").is_dir()
    monkeypatch.setattr(loop_module, "train_step", real)
    train(make_cfg(setup_dir, out, eval_n=1), resume=True)
    got = final_weights(out)
    assert got.keys() == expected.keys()
    for k in expected:
        assert torch.equal(got[k], expected[k]), k
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()
             if json.loads(line)["kind"] == "train"]
    assert steps == [1, 2, 3, 4, 5, 6]


PAUSE_IN_SAVE_DRIVER = """
import sys, time
from tracesft.train import checkpoint

publish = checkpoint._publish

def slow_publish(tmp, final):
    if final.name == "step-00000004":
        print("checkpoint 4 written, pausing before its rename", flush=True)
        time.sleep(60)
    publish(tmp, final)

checkpoint._publish = slow_publish
from tracesft.cli import main
sys.exit(main(["train", "--config", sys.argv[1]]))
"""


def test_sigkill_during_save_leaves_previous_checkpoint_whole(setup_dir, tmp_path):
    ref = tmp_path / "ref"
    train(make_cfg(setup_dir, ref, eval_n=1))
    out = tmp_path / "killed"
    cfg_path = tmp_path / "cfg.yaml"
    cfg = make_cfg(setup_dir, out, eval_n=1, checkpoint_every=2)
    cfg_path.write_text(yaml.safe_dump(cfg.to_dict()))
    # A driver that pauses after checkpoint 4 is written and synced, before it gets its name.
    driver = tmp_path / "pause_in_save.py"
    driver.write_text(PAUSE_IN_SAVE_DRIVER)
    proc = subprocess.Popen([sys.executable, str(driver), str(cfg_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        if "pausing" in line or time.monotonic() > deadline:
            break
    proc.kill()  # SIGKILL in the middle of writing checkpoint 4
    proc.wait()
    ckpts = out / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir() if not p.name.startswith(".")) == ["step-00000002"]
    assert any(p.name.startswith(".tmp-step-00000004") for p in ckpts.iterdir())
    train(make_cfg(setup_dir, out, eval_n=1, checkpoint_every=2), resume=True)
    assert not any(p.name.startswith(".tmp") for p in ckpts.iterdir())
    expected, got = final_weights(ref), final_weights(out)
    for k in expected:
        assert torch.equal(got[k], expected[k]), k


def test_nan_loss_stops_with_step_and_keeps_checkpoint(setup_dir, tmp_path, monkeypatch):
    real = loop_module.train_step
    calls = {"n": 0}

    def nan_at_three(*a, **kw):
        calls["n"] += 1
        stats = real(*a, **kw)
        if calls["n"] == 3:
            stats["loss"] = float("nan")
        return stats

    monkeypatch.setattr(loop_module, "train_step", nan_at_three)
    out = tmp_path / "nan"
    with pytest.raises(TrainingError, match=r"non-finite loss \(nan\) at step 3.*step-00000002"):
        train(make_cfg(setup_dir, out, checkpoint_every=2))
    assert (out / "checkpoints" / "step-00000002").is_dir()


def test_refuses_to_overwrite_run_and_resume_needs_checkpoint(setup_dir, tmp_path):
    out = tmp_path / "r"
    with pytest.raises(ValueError, match="no such run directory"):
        train(make_cfg(setup_dir, out), resume=True)
    out.mkdir()
    with pytest.raises(ValueError, match="no whole checkpoint .*run the same command without --resume"):
        train(make_cfg(setup_dir, out), resume=True)
    train(make_cfg(setup_dir, out, max_steps=2, eval_data=None))
    with pytest.raises(ValueError, match="already holds checkpoints"):
        train(make_cfg(setup_dir, out, max_steps=2, eval_data=None))


def test_plot_cli(setup_dir, tmp_path, capsys):
    from tracesft.cli import main

    out = tmp_path / "p"
    train(make_cfg(setup_dir, out, max_steps=2))
    assert main(["plot", str(out)]) == 0
    assert (out / "loss.png").stat().st_size > 1000
    assert main(["plot", str(tmp_path / "nothing")]) == 2


def test_demo_fast(tmp_path, capsys):
    from tracesft.demo.run import run_demo

    run_dir = run_demo(str(tmp_path / "demo"), fast=True)
    summary = json.loads((run_dir / "summary.json").read_text())
    for key in ("accuracy_before", "accuracy_after", "format_rate_after", "n_eval", "seconds"):
        assert key in summary
    assert summary["n_eval"] == 40
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == str(run_dir.resolve())
    assert (run_dir / "train" / "loss.png").is_file()


def test_log_backend_missing_names_the_extra(setup_dir, tmp_path):
    try:
        import torch.utils.tensorboard  # noqa: F401

        pytest.skip("tensorboard is installed here")
    except ImportError:
        pass
    from tracesft.errors import MissingExtraError

    with pytest.raises(MissingExtraError, match=r"pip install 'tracesft\[tensorboard\]'"):
        train(make_cfg(setup_dir, tmp_path / "tb", log="tensorboard", max_steps=1))


def test_tokenizer_field_is_used(setup_dir, tmp_path):
    with pytest.raises(ValueError, match=r"tokenizer .*nope"):
        train(make_cfg(setup_dir, tmp_path / "t", tokenizer=str(tmp_path / "nope"), max_steps=1))
    summary = train(make_cfg(setup_dir, tmp_path / "t2", tokenizer=str(setup_dir / "model"), max_steps=1,
                             eval_data=None))
    assert summary["steps"] == 1


# --- builders: schedule, optimizer ------------------------------------------------------------------

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


def test_optimizer_groups_skip_decay_on_biases_and_norms(setup_dir):
    from tracesft.train.optim import build_optimizer

    model = tiny_qwen2(vocab_size=64, hidden_size=32, num_hidden_layers=1)
    opt = build_optimizer(model, "adamw", lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}
    assert all("norm" in names[id(p)] or names[id(p)].endswith("bias") for p in no_decay["params"])
    assert any("norm" in names[id(p)] for p in no_decay["params"])
    assert all(p.dim() == 2 for p in decay["params"])


def test_config_choices_come_from_registries():
    from tracesft.evaluate import EVALUATORS
    from tracesft.grading import REWARDS
    from tracesft.train.config import CHOICES
    from tracesft.train.normalization import NORMALIZATIONS
    from tracesft.train.optim import OPTIMIZERS

    assert CHOICES["reward"] == tuple(REWARDS) and CHOICES["loss_normalization"] == tuple(NORMALIZATIONS)
    assert CHOICES["optimizer"] == tuple(OPTIMIZERS) and CHOICES["eval_backend"] == tuple(EVALUATORS)
    with pytest.raises(ConfigError, match="eval_backend: 'tgi' is not one of hf, vllm"):
        load_config(None, ["model=m", "train_data=d", "eval_backend=tgi"])


def test_sgd_optimizer_trains(setup_dir, tmp_path):
    summary = train(make_cfg(setup_dir, tmp_path / "sgd", optimizer="sgd", lr=0.05, max_steps=8, eval_data=None))
    rows = [json.loads(line) for line in (tmp_path / "sgd" / "metrics.jsonl").read_text().splitlines()]
    assert summary["steps"] == 8 and rows[-1]["loss"] < rows[0]["loss"]


def test_stateless_sgd_checkpoint_resumes(setup_dir, tmp_path):
    """SGD without momentum has no optimizer tensors (torch's full-state loader needs one)."""
    common = dict(optimizer="sgd", adam_beta1=0.0, lr=0.05, lr_schedule="constant", warmup_steps=0, eval_data=None)
    train(make_cfg(setup_dir, tmp_path / "ref", max_steps=4, **common))
    train(make_cfg(setup_dir, tmp_path / "cut", max_steps=2, **common))
    train(make_cfg(setup_dir, tmp_path / "cut", max_steps=4, **common), resume=True, force=True)
    expected, got = final_weights(tmp_path / "ref"), final_weights(tmp_path / "cut")
    assert all(torch.equal(expected[k], got[k]) for k in expected)


# --- data: tokenized once, collated like tokenize_prompt_and_output --------------------------------------

def test_collate_matches_tokenize_prompt_and_output(setup_dir):
    from tracesft import tokenize_prompt_and_output
    from tracesft.evaluate import load_model_and_tokenizer

    _, tok = load_model_and_tokenizer(str(setup_dir / "model"))
    records = [json.loads(line) for line in (setup_dir / "train.jsonl").read_text().splitlines()][:5]
    prompts = [DEMO_TEMPLATE.replace("{question}", r["prompt"]) for r in records]
    responses = [r["response"] for r in records]
    for max_length in (96, 60):  # 60 truncates some responses
        ts = build_train_set(prompts, responses, tok, max_length)
        got = collate([ts[i] for i in range(len(ts))], tok.pad_token_id)
        want = tokenize_prompt_and_output(prompts, responses, tok, max_length)
        for key in ("input_ids", "labels", "response_mask"):
            assert torch.equal(got[key], want[key]), key
        assert got["n_tokens"] == sum(ts.lengths)
        assert got["n_padding"] == int((~torch.ones_like(want["labels"], dtype=torch.bool)).sum()) + \
            sum(max(ts.lengths) - n for n in ts.lengths)


def test_train_data_resumes_mid_epoch_and_splits_ranks(setup_dir):
    from tracesft.train.batching import TrainData, TrainSet

    ts = TrainSet([[1, 2, 3][: 2 + i % 2] for i in range(10)], [1] * 10, 0, 0)
    one = TrainData(ts, micro_batch_size=2, accumulation=2, seed=3)
    steps = list(one.epoch(0))
    assert sorted(len(s) for s in steps) == [1, 2, 2]
    assert [s[0]["input_ids"].tolist() for s in one.epoch(0, start=1)] == [s[0]["input_ids"].tolist()
                                                                           for s in steps[1:]]
    ranks = [TrainData(ts, micro_batch_size=2, accumulation=1, world_size=2, rank=r, seed=3) for r in (0, 1)]
    # The same global steps; the short one is dropped under 2 ranks (each needs its micro-batch).
    assert ranks[0].plan(0) == [s for s in one.plan(0) if len(s) == 2] and len(ranks[0].plan(0)) == 2
    for data in ranks:
        assert [len(s) for s in data.epoch(0)] == [1, 1]


def test_bf16_mixed_tracks_fp32_and_bf16_pure_loses_small_updates(setup_dir, tmp_path):
    init = load_file(str(setup_dir / "model" / "model.safetensors"))
    result = {}
    for precision in ("fp32", "bf16-mixed", "bf16-pure"):
        out = tmp_path / precision
        summary = train(make_cfg(setup_dir, out, precision=precision, lr=2e-5, max_steps=12, lr_schedule="constant",
                                 warmup_steps=0, eval_data=None, gradient_accumulation_steps=1))
        final = final_weights(out)
        moved = sum(float((final[k].float() - init[k].float()).abs().sum()) for k in init)
        changed = sum(int((final[k] != init[k].to(final[k].dtype)).sum()) for k in init) / \
            sum(v.numel() for v in init.values())
        result[precision] = (summary["final_loss"], moved, changed, next(iter(final.values())).dtype)
    fp32, mixed, pure = result["fp32"], result["bf16-mixed"], result["bf16-pure"]
    assert mixed[0] == pytest.approx(fp32[0], rel=0.02)  # loss within 2% of fp32
    assert mixed[3] == torch.float32 and mixed[1] == pytest.approx(fp32[1], rel=0.05) and mixed[2] > 0.99
    assert pure[3] == torch.bfloat16 and pure[2] < 0.6 and pure[1] < 0.7 * fp32[1]  # most updates rounded away


def test_precision_config():
    cfg = load_config(None, ["model=m", "train_data=d", "dtype=bfloat16"])
    assert cfg.precision == "bf16-pure"  # what dtype: bfloat16 always meant
    assert load_config(None, ["model=m", "train_data=d", "precision=bf16-pure"]).dtype == "bfloat16"
    with pytest.raises(ConfigError, match="bf16-mixed keeps float32 master weights"):
        load_config(None, ["model=m", "train_data=d", "precision=bf16-mixed", "dtype=bfloat16"])
