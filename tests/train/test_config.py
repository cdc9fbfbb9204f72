"""The training config: YAML and --set overrides, validation messages, choices read from the registries."""

import pytest
import yaml

from tracesft.train import ConfigError, load_config


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


def test_config_choices_come_from_registries():
    from tracesft.evaluate import EVALUATORS
    from tracesft.grading import REWARDS
    from tracesft.train.config import CHOICES
    from tracesft.train.normalization import NORMALIZATIONS
    from tracesft.train.optim import OPTIMIZERS

    assert CHOICES["reward"] == ("auto", *REWARDS) and CHOICES["loss_normalization"] == tuple(NORMALIZATIONS)
    assert CHOICES["optimizer"] == tuple(OPTIMIZERS) and CHOICES["eval_backend"] == tuple(EVALUATORS)
    with pytest.raises(ConfigError, match="eval_backend: 'tgi' is not one of hf, vllm"):
        load_config(None, ["model=m", "train_data=d", "eval_backend=tgi"])
