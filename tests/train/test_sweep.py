"""tracesft sweep: cells, skip and resume, the table and plot; subset/test_size in training.
(The demo's sweep: tests/demo/test_demo.py.)"""

import json
import subprocess
import sys

import pytest
import torch
import yaml
from helpers.train import final_weights, make_cfg

from tracesft.errors import ConfigError, UserInputError
from tracesft.train import load_config, train
from tracesft.train.sweep import parse_sizes, run_sweep, sweep_table


def sweep_config(setup_dir, tmp_path, **kw) -> str:
    cfg = make_cfg(setup_dir, tmp_path / "unused", eval_data=None, test_size=8, max_steps=None, epochs=1,
                   micro_batch_size=4, gradient_accumulation_steps=1, eval_max_new_tokens=4, **kw)
    values = {k: v for k, v in cfg.to_dict().items() if k != "output_dir"}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


def test_config_subset_and_test_size(tmp_path):
    cfg = load_config(None, ["model=m", "train_data=d", "subset=full", "test_size=0.1"])
    assert cfg.subset is None and cfg.test_size == 0.1 and cfg.has_eval
    assert load_config(None, ["model=m", "train_data=d", "subset=128"]).subset == 128
    with pytest.raises(ConfigError, match="test_size and eval_data"):
        load_config(None, ["model=m", "train_data=d", "test_size=5", "eval_data=e.jsonl"])
    with pytest.raises(ConfigError, match="subset: expected int, got 'half'"):
        load_config(None, ["model=m", "train_data=d", "subset=half"])


def test_training_on_a_subset_with_a_held_out_split(setup_dir, tmp_path):
    out = tmp_path / "run"
    summary = train(make_cfg(setup_dir, out, eval_data=None, test_size=8, subset=20, max_steps=None, epochs=1,
                             gradient_accumulation_steps=1))
    assert (summary["n_train_file"], summary["n_held_out"], summary["subset"]) == (48, 8, 20)
    assert summary["n_train_examples"] == 20 and summary["steps"] == 5  # 20 examples / micro-batch 4
    assert summary["eval_n_examples"] == 4  # eval_n=4 of the 8 held out
    truths = [json.loads(line)["ground_truth"] for line in (setup_dir / "train.jsonl").read_text().splitlines()]
    gens = [json.loads(line) for line in (out / "generations" / f"step-{5:08d}.jsonl").read_text().splitlines()]
    assert all(g["ground_truth"] in truths for g in gens)


def test_parse_sizes():
    assert parse_sizes("256,128,full") == [128, 256, None]
    for bad in ("128,abc", "0", "64,64", ""):
        with pytest.raises(UserInputError, match="--sizes"):
            parse_sizes(bad)


def test_sweep_cells_table_plot_skip_and_config_guard(setup_dir, tmp_path):
    config = sweep_config(setup_dir, tmp_path)
    out = tmp_path / "sweep"
    rows = run_sweep(config, [], [16, 32], "both", str(out))
    assert [(r["size"], r["filter"]) for r in rows] == [(16, "off"), (32, "off"), (16, "on"), (32, "on")]
    assert [r["examples"] for r in rows] == [16, 32, 16, 32] and [r["steps"] for r in rows[:2]] == [4, 8]
    assert all(0 <= r["accuracy"] <= 1 for r in rows)
    assert json.loads((out / "sweep.json").read_text()) == rows
    assert (out / "accuracy_vs_size.png").stat().st_size > 1000
    assert "accuracy" in sweep_table(rows).splitlines()[0] and len(sweep_table(rows).splitlines()) == 5
    stamp = (out / "unfiltered-16" / "summary.json").stat().st_mtime_ns
    assert run_sweep(config, [], [16, 32], "both", str(out)) == rows  # finished cells are skipped
    assert (out / "unfiltered-16" / "summary.json").stat().st_mtime_ns == stamp
    with pytest.raises(UserInputError, match=r"unfiltered-16 was trained with lr=0.003, this sweep has lr=0.1"):
        run_sweep(config, ["lr=0.1"], [16], "off", str(out))
    with pytest.raises(ConfigError, match="needs an evaluation set"):
        run_sweep(config, ["test_size=0"], [16], "off", str(tmp_path / "noeval"))


KILL_DRIVER = """
import sys, time
from tracesft.train import checkpoint

publish = checkpoint._publish

def pause_in_second_cell(tmp, final):
    publish(tmp, final)
    if final.parent.parent.name == "unfiltered-32" and final.name == "step-00000004":
        print("cell 2 checkpoint 4 published, pausing", flush=True)
        time.sleep(60)

checkpoint._publish = pause_in_second_cell
from tracesft.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_killed_sweep_resumes_its_interrupted_cell(setup_dir, tmp_path):
    config = sweep_config(setup_dir, tmp_path, checkpoint_every=2, keep_last=5)
    out = tmp_path / "killed"
    driver = tmp_path / "driver.py"
    driver.write_text(KILL_DRIVER)
    args = ["sweep", "--config", config, "--sizes", "16,32", "--filter", "off", "--out", str(out)]
    proc = subprocess.Popen([sys.executable, str(driver), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if "pausing" in line:
            break
    proc.kill()  # SIGKILL in the middle of cell unfiltered-32, after its checkpoint 4
    proc.wait()
    assert (out / "unfiltered-16" / "summary.json").is_file()
    assert not (out / "unfiltered-32" / "summary.json").exists()
    stamp = (out / "unfiltered-16" / "summary.json").stat().st_mtime_ns

    done = subprocess.run([sys.executable, "-m", "tracesft", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resumed from" in done.stderr and "step-00000004" in done.stderr
    assert (out / "unfiltered-16" / "summary.json").stat().st_mtime_ns == stamp
    steps = [json.loads(line)["step"] for line in (out / "unfiltered-32" / "metrics.jsonl").read_text().splitlines()
             if json.loads(line)["kind"] == "train"]
    assert steps == list(range(1, 9))
    # The resumed cell ends bit-identical to the same cell run without interruption.
    ref = tmp_path / "ref"
    run_sweep(config, [], [32], "off", str(ref))
    expected, got = final_weights(ref / "unfiltered-32"), final_weights(out / "unfiltered-32")
    assert all(torch.equal(got[k], expected[k]) for k in expected)
    assert "unfiltered" in done.stdout and "wrote" in done.stdout

