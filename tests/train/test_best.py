"""keep_best writes the best evaluated model as best/; early_stop_patience ends the run cleanly;
both carry over a resume (the tracker is rebuilt from metrics.jsonl)."""

import json

import pytest
from helpers.train import make_cfg
from safetensors.torch import load_file

from tracesft.errors import ConfigError
from tracesft.evaluate.evaluator import HFEvaluator
from tracesft.train import train

_REAL_EVALUATE = HFEvaluator.evaluate


def _scripted_accuracy(monkeypatch, values):
    """Real evaluations whose accuracy is replaced by ``values`` in turn (what the tracker watches)."""
    real, it = _REAL_EVALUATE, iter(values)

    def evaluate(self, policy, prompts, truths):
        result = real(self, policy, prompts, truths)
        result["summary"]["accuracy"] = next(it)
        return result

    monkeypatch.setattr(HFEvaluator, "evaluate", evaluate)


def test_keep_best_and_early_stop_then_resume(setup_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    kw = dict(max_steps=8, eval_every=1, checkpoint_every=1, keep_last=20, keep_best="accuracy")
    _scripted_accuracy(monkeypatch, [0.1, 0.3, 0.2, 0.3, 0.25])  # best at step 2; 3 evals without improvement
    summary = train(make_cfg(setup_dir, out, early_stop_patience=3, **kw))
    assert "early stop at step 5: accuracy did not improve in 3 evaluations (best 0.3 at step 2)" \
        in capsys.readouterr().out
    assert summary["steps"] == 5 and summary["early_stopped"]["step"] == 5
    assert summary["best"] == {"metric": "accuracy", "value": 0.3, "step": 2, "path": str(out / "best")}
    assert json.loads((out / "best" / "best.json").read_text()) == {"metric": "accuracy", "value": 0.3, "step": 2}
    best = load_file(str(out / "best" / "model.safetensors"))
    at_2 = load_file(str(out / "checkpoints" / "step-00000002" / "model.safetensors"))
    at_5 = load_file(str(out / "checkpoints" / "step-00000005" / "model.safetensors"))
    assert all(best[k].equal(at_2[k]) for k in at_2) and not all(best[k].equal(at_5[k]) for k in at_5)
    assert (out / "final").is_dir() and not [p for p in out.iterdir() if p.name.startswith(".best")]
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(out / "best")  # a whole model directory

    # Resume with more patience: the tracker remembers 0.3 (0.28 is no improvement), 0.4 at step 7 is.
    _scripted_accuracy(monkeypatch, [0.28, 0.4, 0.1])
    summary = train(make_cfg(setup_dir, out, early_stop_patience=5, **kw), resume=True)
    assert summary["steps"] == 8 and "early_stopped" not in summary
    assert summary["best"]["step"] == 7 and summary["best"]["value"] == 0.4
    assert json.loads((out / "best" / "best.json").read_text())["step"] == 7


def test_keep_best_config_errors(setup_dir, tmp_path):
    with pytest.raises(ConfigError, match="keep_best: 'pass@4' is not one of accuracy, avg@1, maj@1, pass@1"):
        make_cfg(setup_dir, tmp_path, keep_best="pass@4")
    with pytest.raises(ConfigError, match="eval_samples: 4 samples at eval_temperature 0"):
        make_cfg(setup_dir, tmp_path, eval_samples=4)
    with pytest.raises(ConfigError, match="eval_pass_k: 8 is not in"):
        make_cfg(setup_dir, tmp_path, eval_samples=4, eval_temperature=0.7, eval_pass_k=[1, 8])
    with pytest.raises(ConfigError, match="does not evaluate"):
        make_cfg(setup_dir, tmp_path, eval_data=None, early_stop_patience=2)
    cfg = make_cfg(setup_dir, tmp_path, eval_samples=4, eval_temperature=0.7, keep_best="maj@K")
    assert cfg.best_metric_key() == "maj@4" and cfg.pass_k == (1, 4)


def test_keep_best_turned_on_at_resume_writes_best_at_the_next_evaluation(setup_dir, tmp_path, monkeypatch):
    out = tmp_path / "run"
    kw = dict(max_steps=4, eval_every=1, checkpoint_every=1, keep_last=20)
    _scripted_accuracy(monkeypatch, [0.1, 0.5, 0.2])
    train(make_cfg(setup_dir, out, max_steps=2, **{k: v for k, v in kw.items() if k != "max_steps"}))
    assert not (out / "best").exists()
    # 0.5 at step 2 is in metrics.jsonl, but no best/ holds it: the next evaluation (0.3) is written
    _scripted_accuracy(monkeypatch, [0.3, 0.2])
    summary = train(make_cfg(setup_dir, out, keep_best="accuracy", **kw), resume=True, force=True)
    assert json.loads((out / "best" / "best.json").read_text()) == {"metric": "accuracy", "value": 0.3, "step": 3}
    assert summary["best"] == {"metric": "accuracy", "value": 0.3, "step": 3, "path": str(out / "best")}
