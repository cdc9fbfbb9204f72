"""The iterate config: TrainConfig's keys plus an iterate: section; bad values in one line."""

import json

import pytest
import yaml

from tracesft.errors import ConfigError, UserInputError
from tracesft.iterate.config import config_from_mapping, load_iterate_config

BASE = {"model": "m", "train_data": "q.jsonl", "eval_data": "e.jsonl"}


def test_one_schema_train_keys_and_iterate_section(tmp_path):
    path = tmp_path / "it.yaml"
    path.write_text(yaml.safe_dump({**BASE, "lr": 0.01, "iterate": {"rounds": 2, "samples_per_prompt": 8}}))
    cfg = load_iterate_config(str(path), ["iterate.keep_per_prompt=3", "epochs=2"])
    assert (cfg.train.lr, cfg.train.epochs, cfg.train.output_dir) == (0.01, 2, "runs/iterate")
    assert (cfg.iterate.rounds, cfg.iterate.samples_per_prompt, cfg.iterate.keep_per_prompt) == (2, 8, 3)
    assert cfg.sample_max_new_tokens == cfg.train.eval_max_new_tokens
    assert cfg.to_dict()["iterate"]["rounds"] == 2 and cfg.to_dict()["lr"] == 0.01


@pytest.mark.parametrize("section, match", [
    ({"samples_per_prompt": 0}, r"samples_per_prompt \(K\): must be >= 1, got 0"),
    ({"keep_per_prompt": 0}, r"keep_per_prompt \(M\): must be >= 1, got 0"),
    ({"temperature": 0}, "temperature: must be > 0"),
    ({"prefer": "longest"}, "prefer: 'longest' is not one of shortest, random"),
    ({"init": "scratch"}, "init: 'scratch' is not one of base, previous"),
    ({"mix_original": 1.5}, r"mix_original: must be in \[0, 1\]"),
    ({"hint_template": "{question}"}, "hint_template"),
    ({"sampels_per_prompt": 2}, "unknown key iterate.sampels_per_prompt.*did you mean samples_per_prompt"),
    ({"rounds": "many"}, "iterate.rounds: expected int"),
])
def test_bad_iterate_values_are_one_line(section, match):
    with pytest.raises(ConfigError, match=match):
        config_from_mapping({**BASE, "iterate": section})


def test_train_keys_are_checked_by_train_config():
    with pytest.raises(ConfigError, match="unknown config key 'learning_rate'.*did you mean lr"):
        config_from_mapping({**BASE, "learning_rate": 1})


def test_questions_without_ground_truth_one_line_with_counts(tmp_path):
    from tracesft.iterate.loop import _load_questions

    q = tmp_path / "q.jsonl"
    q.write_text("".join(json.dumps(r) + "\n" for r in [{"prompt": "a", "ground_truth": "1"}, {"prompt": "b"},
                                                         {"prompt": "c"}]))
    cfg = config_from_mapping({**BASE, "train_data": str(q)})
    with pytest.raises(UserInputError, match=r"2 of 3 questions have no ground truth \(first: .*q.jsonl:2\)"):
        _load_questions(cfg.train)
