"""The training loop end to end on a tiny model: loss falls, every output is written; a non-finite loss
stops with the step named; a run directory is never overwritten; the tokenizer and logger keys."""

import json

import pytest
import yaml
from helpers.train import make_cfg

from tracesft.train import TrainingError, train
from tracesft.train import loop as loop_module


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
    assert "generations/step-00000012.jsonl" in (out / "report.html").read_text()  # the page of tracesft report
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(out / "final")  # loadable by transformers
    for name in ("loss.png", "eval.png", "length_entropy.png"):
        assert (out / name).stat().st_size > 1000


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
