"""Data parallelism on CPU with gloo and 2 processes: the weights after a few optimizer steps equal
those of one process with twice the gradient accumulation over the same global batches."""

import os
import shutil
import subprocess
import sys

import pytest
import torch
import yaml
from helpers.train import final_weights, make_cfg
from safetensors.torch import load_file

from tracesft.train import train

pytestmark = [pytest.mark.slow,  # two ranks: subprocesses
              pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is unavailable")]


def run_two_ranks(cfg, tmp_path, name, extra=()):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "tracesft", "train", "--nproc", "2", "--config", str(path), *extra],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc


@pytest.fixture(autouse=True)
def one_thread():
    """The ranks run with one thread each; so does the single-process reference, so that the only
    difference left is how the ranks' gradients are summed."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def assert_same_weights(a, b, tol=1e-5):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=tol, msg=k)


# DDP with token normalisation is also checked by the checkpoint test below (two ranks = one process)
@pytest.mark.parametrize("parallel, normalization", [("ddp", "sum"), ("fsdp", "token")])
def test_two_ranks_equal_one_process_with_double_accumulation(setup_dir, tmp_path, parallel, normalization):
    common = dict(max_steps=3, micro_batch_size=3, loss_normalization=normalization, eval_data=None, lr=5e-3,
                  warmup_steps=0)
    single = train(make_cfg(setup_dir, tmp_path / "single", gradient_accumulation_steps=4, **common))
    dist_cfg = make_cfg(setup_dir, tmp_path / "dist", gradient_accumulation_steps=2, parallel=parallel, **common)
    run_two_ranks(dist_cfg, tmp_path, "dist")
    assert_same_weights(final_weights(tmp_path / "dist"), final_weights(tmp_path / "single"))
    assert single["steps"] == 3


def test_lora_two_ranks_equal_one_process(setup_dir, tmp_path):
    """DDP over a peft model: only the adapters' gradients are all-reduced; same result as one process."""
    pytest.importorskip("peft")
    common = dict(max_steps=2, micro_batch_size=3, eval_data=None, lr=5e-3, warmup_steps=0,
                  lora={"r": 4})
    train(make_cfg(setup_dir, tmp_path / "single", gradient_accumulation_steps=4, **common))
    run_two_ranks(make_cfg(setup_dir, tmp_path / "dist", gradient_accumulation_steps=2, **common), tmp_path, "dist")
    assert_same_weights(final_weights(tmp_path / "dist"), final_weights(tmp_path / "single"))
    key = "model.layers.0.self_attn.q_proj.weight"
    start = load_file(str(setup_dir / "model" / "model.safetensors"))
    assert not torch.equal(final_weights(tmp_path / "single")[key], start[key])  # the merged adapter moved it


def test_checkpoint_from_two_ranks_resumes_on_one(setup_dir, tmp_path):
    common = dict(max_steps=4, micro_batch_size=3, loss_normalization="token", lr=5e-3, warmup_steps=0,
                  eval_n=2, eval_max_new_tokens=4, checkpoint_every=2, keep_last=5)
    train(make_cfg(setup_dir, tmp_path / "ref", gradient_accumulation_steps=4, eval_data=None, **common))
    expected = final_weights(tmp_path / "ref")
    run_two_ranks(make_cfg(setup_dir, tmp_path / "two", gradient_accumulation_steps=2, **common), tmp_path, "two")
    assert (tmp_path / "two" / "metrics.jsonl").read_text().count('"kind": "eval"') == 1  # rank 0 only
    assert_same_weights(final_weights(tmp_path / "two"), expected)

    # drop everything after step 2, then resume from it on one process (resuming on two ranks is the
    # same code path with the world size unchanged; not run again here, for the suite's time budget)
    shutil.copytree(tmp_path / "two", tmp_path / "one")
    shutil.rmtree(tmp_path / "one" / "checkpoints" / "step-00000004")
    shutil.rmtree(tmp_path / "one" / "final")
    train(make_cfg(setup_dir, tmp_path / "one", gradient_accumulation_steps=4, eval_data=None, **common),
          resume=True)
    assert_same_weights(final_weights(tmp_path / "one"), expected)
