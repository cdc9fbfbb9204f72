"""`tracesft iterate` on the command line: bad input is one line."""

import yaml

from tracesft.cli import main


def run(args, capsys):
    code = main(args)
    return code, capsys.readouterr().err.strip()


def test_k_and_m_below_one_and_missing_config_are_one_line(tmp_path, capsys):
    path = tmp_path / "it.yaml"
    path.write_text(yaml.safe_dump({"model": "m", "train_data": "q.jsonl", "eval_data": "e.jsonl"}))
    code, err = run(["iterate", "--config", str(path), "--set", "iterate.samples_per_prompt=0"], capsys)
    assert code == 2 and err == "error: iterate.samples_per_prompt (K): must be >= 1, got 0"
    code, err = run(["iterate", "--config", str(path), "--set", "iterate.keep_per_prompt=0"], capsys)
    assert code == 2 and err == "error: iterate.keep_per_prompt (M): must be >= 1, got 0"
    code, err = run(["iterate"], capsys)
    assert code == 2 and "iterate needs --config" in err
    code, err = run(["iterate", "--resume", "--out", str(tmp_path / "none")], capsys)
    assert code == 2 and "no iterate.yaml there" in err


def test_no_eval_set_is_refused_before_anything_runs(tmp_path, capsys):
    path = tmp_path / "it.yaml"
    path.write_text(yaml.safe_dump({"model": "m", "train_data": "q.jsonl"}))
    code, err = run(["iterate", "--config", str(path), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "iterate needs an evaluation set" in err and not (tmp_path / "o").exists()
