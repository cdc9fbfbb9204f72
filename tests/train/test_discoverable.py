"""A config you can discover: --print-config (every key, default and description, loadable again),
"did you mean", the annotated examples load, eval_before by default; the threads key."""

from pathlib import Path

import pytest
import torch

from tracesft.cli import main
from tracesft.errors import ConfigError
from tracesft.train.config import TrainConfig, load_config
from tracesft.train.reference import field_docs

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


def test_print_config_shows_every_key_with_its_description_and_loads_again(tmp_path, capsys):
    assert main(["train", "--print-config", "--set", "lr=3e-4"]) == 0
    text = capsys.readouterr().out
    docs = field_docs(TrainConfig)
    for _, name, _, help_text in docs:
        line = next(x for x in text.splitlines() if x.startswith(f"{name}: "))
        assert f"# {help_text.replace('``', '')[:30]}" in line, line
    saved = tmp_path / "printed.yaml"
    saved.write_text(text)
    cfg = load_config(str(saved), ["model=m", "train_data=d.jsonl"])
    assert cfg.lr == 3e-4 and cfg.eval_before is True and cfg.template == "auto"
    assert cfg.to_dict() == load_config(None, ["model=m", "train_data=d.jsonl", "lr=3e-4"]).to_dict()


def test_print_config_of_a_file_resolves_it(capsys):
    assert main(["train", "--print-config", "--config", str(EXAMPLES[0])]) == 0
    printed = capsys.readouterr().out
    assert f"output_dir: {load_config(str(EXAMPLES[0])).output_dir}  #" in printed


def test_unknown_key_gets_did_you_mean(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown config key 'learning_rate' \(did you mean lr\?\)"):
        load_config(None, ["learning_rate=1"])
    path = tmp_path / "c.yaml"
    path.write_text("model: m\ntrain_data: d\nmicro_batch_sise: 2\n")
    with pytest.raises(ConfigError, match=r"'micro_batch_sise' \(did you mean micro_batch_size"):
        load_config(str(path))
    with pytest.raises(ConfigError, match=r"unknown config key 'eval_befor' \(did you mean eval_before"):
        load_config(None, ["eval_befor=true"])


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_configs_load(path):
    cfg = load_config(str(path))  # validated: choices, ranges, required keys
    assert cfg.model and cfg.train_data and cfg.has_eval


def test_examples_cover_the_main_jobs():
    assert {p.name for p in EXAMPLES} >= {"sft_r1_zero.yaml", "math_free_form.yaml", "chat_smollm2.yaml",
                                          "lora.yaml", "sweep.yaml"}


def test_defaults_evaluate_a_baseline():
    assert TrainConfig().eval_before is True


def test_threads_applied_to_torch_and_tokenizers(monkeypatch):
    from tracesft.train.threads import apply_threads, available_cores, default_threads

    before = torch.get_num_threads()
    monkeypatch.delenv("RAYON_NUM_THREADS", raising=False)
    try:
        assert apply_threads(1) == 1 and torch.get_num_threads() == 1
        import os

        assert os.environ["RAYON_NUM_THREADS"] == "1"
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        assert apply_threads(None) == available_cores() == default_threads()
        assert default_threads(local_world_size=available_cores() + 5) == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the caller's setting wins in one process, not under torchrun
        assert apply_threads(None) == 3 == torch.get_num_threads()
        assert default_threads(local_world_size=2) == max(1, available_cores() // 2)
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ConfigError, match="threads: must be >= 1"):
        load_config(None, ["model=m", "train_data=d", "threads=0"])
