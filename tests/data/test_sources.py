"""Parquet files and datasets directories wherever a JSONL path is accepted."""

import json

import pytest
import yaml
from helpers.train import build_setup_dir, make_cfg

from tracesft.cli import main
from tracesft.data import load_examples
from tracesft.errors import DataError, UserInputError

datasets = pytest.importorskip("datasets")


@pytest.fixture(scope="module")
def setup_dir(tmp_path_factory):
    root = build_setup_dir(tmp_path_factory.mktemp("sources"))
    train_rows = [json.loads(line) for line in (root / "train.jsonl").read_text().splitlines()]
    eval_rows = [json.loads(line) for line in (root / "eval.jsonl").read_text().splitlines()]
    datasets.Dataset.from_list(train_rows).to_parquet(str(root / "train.parquet"))
    datasets.DatasetDict({"train": datasets.Dataset.from_list(train_rows),
                          "test": datasets.Dataset.from_list(eval_rows)}).save_to_disk(str(root / "dsdict"))
    datasets.Dataset.from_list([{"problem": "1+1?", "solution": "so \\boxed{2}"},
                                {"text": "no known field"}]).save_to_disk(str(root / "bad_ds"))
    return root


def test_parquet_and_saved_datasets_load_like_jsonl(setup_dir):
    jsonl = load_examples(setup_dir / "train.jsonl")
    for path, split in ((setup_dir / "train.parquet", None), (setup_dir / "dsdict", "train")):
        got = load_examples(path, split=split)
        assert [(e.prompt, e.response, e.ground_truth) for e in got] == \
            [(e.prompt, e.response, e.ground_truth) for e in jsonl]
        assert got[3].meta["source"] == f"{path}:4"
    with pytest.raises(UserInputError, match="holds the splits train, test; choose one with --split"):
        load_examples(setup_dir / "dsdict")
    with pytest.raises(DataError, match=r"bad_ds:2: unrecognised record"):
        load_examples(setup_dir / "bad_ds")
    with pytest.raises(DataError, match="cannot read as Parquet"):
        (setup_dir / "fake.parquet").write_text("not parquet")
        load_examples(setup_dir / "fake.parquet")


def test_train_and_evaluate_from_parquet_and_a_datasets_directory(setup_dir, tmp_path, capsys):
    cfg = make_cfg(setup_dir, tmp_path / "run", max_steps=2).to_dict()
    cfg.update(train_data=str(setup_dir / "train.parquet"), eval_data=str(setup_dir / "dsdict"), eval_split="test")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(cfg))
    assert main(["train", "--config", str(config)]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["n_train_examples"] == 48 and summary["eval_n_examples"] == 4
    out = tmp_path / "eval"
    assert main(["eval", "--model", str(tmp_path / "run" / "final"), "--data", str(setup_dir / "dsdict"), "--split",
                 "test", "--template", str(setup_dir / "template.txt"), "--max-new-tokens", "4", "--out",
                 str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["n_examples"] == 4
    kept = tmp_path / "kept.jsonl"
    assert main(["filter", str(setup_dir / "train.parquet"), "--out", str(kept), "--quiet"]) == 0
    assert len(kept.read_text().splitlines()) == 48  # the demo teacher's traces here are all correct
