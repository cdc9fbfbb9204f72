"""Packing: whole examples best-fit decreasing into rows whose attention stays inside each example.

Packed and unpacked micro-batches of the same examples give the same per-token log-probs, the same
loss and the same gradients for every normalisation (with gradient checkpointing too); a
perturbed example does not move its row neighbours' log-probs (and does when the packed path is
left out, so the check can fail); the plan is deterministic, complete and resumable."""

import copy
import json
import os
import subprocess
import sys

import pytest
import torch
import yaml
from helpers.train import final_weights, make_cfg, sigterm_during_step

from tracesft.demo.models import tiny_qwen2
from tracesft.errors import ConfigError
from tracesft.logprobs import get_response_log_probs
from tracesft.train import loop as loop_module
from tracesft.train import train
from tracesft.train.batching import TrainData, TrainSet, best_fit_decreasing, collate, collate_packed, packed_plan
from tracesft.train.distributed import LogProbModule
from tracesft.train.normalization import NORMALIZATIONS
from tracesft.train.packing import VARLEN_SDPA, _register_varlen, choose_packing_path, leaks
from tracesft.train.step import train_step

VOCAB = 61
SHAPES = [(9, 3), (14, 5), (5, 2), (11, 4), (7, 6), (12, 1)]  # (tokens, prompt tokens) of each example


def examples(seed=1, shapes=SHAPES):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randint(0, VOCAB, (n,), generator=g).tolist(), p) for n, p in shapes]


def model(attn="sdpa", checkpointing=False):
    m = tiny_qwen2(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, seed=0)
    if attn == "varlen":
        assert _register_varlen()
        attn = VARLEN_SDPA
    m.set_attn_implementation(attn)
    if checkpointing:
        m.config.use_cache = False
        m.gradient_checkpointing_enable()
    return m.train()


def unpacked_log_probs(m, exs):
    """Each example alone (batch of one, no padding): the reference."""
    out = []
    for ids, n_p in exs:
        mb = collate([(ids, n_p)], 0)
        lp = get_response_log_probs(m, mb["input_ids"], mb["labels"], response_mask=mb["response_mask"],
                                    with_grad=False)["log_probs"]
        out.append(lp[0])
    return out


def packed_log_probs(m, exs, fused=True, path="position_ids"):
    mb = collate_packed(exs)
    module = LogProbModule(m, fused)
    module.packing_path = path
    with torch.no_grad():
        lp = module(mb["input_ids"], mb["labels"], mb["response_mask"], position_ids=mb["position_ids"])["log_probs"]
    return [lp[0][mb["segments"][0] == k] for k in range(len(exs))]


def test_collate_packed_restarts_positions_and_keeps_labels_inside_examples():
    exs = examples()[:3]
    mb = collate_packed(exs)
    n = sum(len(ids) - 1 for ids, _ in exs)
    assert mb["input_ids"].shape == (1, n) and mb["n_padding"] == 0 and mb["n_sequences"] == 3
    at = 0
    for k, (ids, n_p) in enumerate(exs):
        one = collate([(ids, n_p)], 0)
        span = slice(at, at + len(ids) - 1)
        for key in ("input_ids", "labels", "response_mask"):
            assert torch.equal(mb[key][0, span], one[key][0]), key
        assert mb["position_ids"][0, span].tolist() == list(range(len(ids) - 1))
        assert (mb["segments"][0, span] == k).all()
        at += len(ids) - 1


def test_best_fit_decreasing():
    sizes = [7, 5, 4, 3, 3, 2, 2, 1]
    bins = best_fit_decreasing(list(enumerate(sizes)), 8)
    assert sorted(i for b in bins for i in b) == list(range(8))
    assert all(sum(sizes[i] for i in b) <= 8 for b in bins)
    # 7, 5, 4 open bins 0-2; 3 goes to the fullest it fits (bin 1, room 3), the next 3 to bin 2 (room 4),
    # 2 opens bin 3, 2 joins it, 1 fills bin 0 (room 1): 27 units in 4 bins of 8
    assert bins == [[0, 7], [1, 3], [2, 4], [5, 6]]
    with pytest.raises(ValueError):
        best_fit_decreasing([(0, 9)], 8)


def test_packed_plan_deterministic_complete_and_within_budget():
    lengths = [(i * 37) % 50 + 3 for i in range(200)]
    plan = packed_plan(lengths, 64, 2, seed=0, epoch=0)
    assert plan == packed_plan(lengths, 64, 2, seed=0, epoch=0)
    assert plan != packed_plan(lengths, 64, 2, seed=0, epoch=1) and plan != packed_plan(lengths, 64, 2, seed=1, epoch=0)
    assert sorted(i for step in plan for mb in step for i in mb) == list(range(200))
    assert all(sum(lengths[i] for i in mb) <= 64 for step in plan for mb in step)
    assert all(len(step) == 2 for step in plan[:-1])
    fill = sum(lengths) / (64 * sum(len(s) for s in plan))
    assert fill > 0.9  # best-fit decreasing fills rows


def test_train_data_packed_resumes_mid_epoch_and_splits_ranks():
    ts = TrainSet([list(range(3 + i % 7)) for i in range(40)], [1] * 40, 0, 0)
    one = TrainData(ts, micro_batch_size=1, accumulation=2, seed=3, packing=True, max_tokens=16)
    steps = list(one.epoch(0))
    assert all("position_ids" in mb for s in steps for mb in s)
    later = list(one.epoch(0, start=2))
    assert [[mb["input_ids"].tolist() for mb in s] for s in later] == \
        [[mb["input_ids"].tolist() for mb in s] for s in steps[2:]]
    ranks = [TrainData(ts, micro_batch_size=1, accumulation=1, world_size=2, rank=r, seed=3, packing=True,
                       max_tokens=16) for r in (0, 1)]
    full = [s for s in one.plan(0) if len(s) == 2]
    assert ranks[0].plan(0) == full
    got = [[mb["input_ids"].tolist() for s in d.epoch(0) for mb in s] for d in ranks]
    want = [[collate_packed([ts[i] for i in step[r]])["input_ids"].tolist() for step in full] for r in (0, 1)]
    assert got == want


@pytest.mark.parametrize("attn, fused, path", [("varlen", True, "varlen"), ("varlen", False, "varlen"),
                                               ("sdpa", True, "position_ids"), ("eager", False, "position_ids"),
                                               ("sdpa", True, "4d-mask"), ("eager", True, "4d-mask")])
def test_packed_log_probs_equal_unpacked(attn, fused, path):
    m = model(attn).eval()
    exs = examples()
    for got, want in zip(packed_log_probs(m, exs, fused, path), unpacked_log_probs(m, exs)):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("attn, path", [("varlen", "varlen"), ("sdpa", "position_ids"), ("eager", "position_ids")])
def test_perturbed_example_does_not_move_its_neighbours(attn, path):
    m = model(attn).eval()
    exs = examples()[:3]
    changed = [(list(reversed(exs[0][0])), exs[0][1])] + exs[1:]
    before, after = packed_log_probs(m, exs, path=path), packed_log_probs(m, changed, path=path)
    assert not torch.equal(before[0], after[0])
    for k in (1, 2):
        torch.testing.assert_close(before[k], after[k], rtol=0, atol=1e-6)
    # the same row without the packed path (no position_ids: one long sequence) leaks, so the check can fail
    mb, mb2 = collate_packed(exs), collate_packed(changed)
    plain = [get_response_log_probs(m, b["input_ids"], b["labels"], with_grad=False)["log_probs"][0]
             for b in (mb, mb2)]
    tail = mb["segments"][0] > 0
    assert (plain[0][tail] - plain[1][tail]).abs().max() > 1e-3
    assert leaks(m, path) == 0.0


def test_the_probe_chooses_varlen_for_sdpa_and_sees_a_leak():
    m = model("sdpa")
    assert choose_packing_path(m) == "varlen" and m.config._attn_implementation == VARLEN_SDPA
    assert choose_packing_path(model("eager")) == "position_ids"
    assert choose_packing_path(model("eager").to(torch.bfloat16)) == "position_ids"  # bf16 noise is no refusal
    assert leaks(model("sdpa"), "none") > 1e-3  # no position_ids path at all: the probe sees the leak


def test_the_probe_refuses_a_model_whose_positions_do_not_restart():
    """Attention kept apart is not enough: a model with learned absolute positions (GPT-2) that ignored
    position_ids would leak nothing under varlen, yet its packed log-probs would not be the example's
    own (with rotary positions an offset cancels); the probe compares with the example alone."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    m = GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=2, n_positions=64)).eval()
    assert choose_packing_path(m) == "varlen"  # positions restart: accepted
    forward = m.forward
    m.forward = lambda *args, position_ids=None, **kwargs: forward(*args, **kwargs)
    assert leaks(m, "varlen") == 0.0 and leaks(m, "varlen", against_alone=True) > 1e-2
    m.set_attn_implementation("sdpa")
    with pytest.raises(ConfigError, match="not kept apart.*positions that do not restart"):
        choose_packing_path(m)


def step_results(m, microbatches, normalization, path="position_ids"):
    m = copy.deepcopy(m)
    module = LogProbModule(m)
    module.packing_path = path
    stats = train_step(module, microbatches, NORMALIZATIONS[normalization])
    return stats, {n: p.grad for n, p in m.named_parameters()}


@pytest.mark.parametrize("normalization", ["sum", "token", "sample"])
@pytest.mark.parametrize("checkpointing, path", [(False, "position_ids"), (True, "position_ids"), (True, "varlen")])
def test_packed_loss_and_gradients_equal_unpacked(normalization, checkpointing, path):
    m = model("varlen" if path == "varlen" else "sdpa", checkpointing=checkpointing)
    exs = examples()
    # unpacked: three micro-batches of two (padded); packed: two rows of three examples each, sharing rows
    plain, grads = step_results(m, [collate(exs[i:i + 2], 0) for i in (0, 2, 4)], normalization)
    packed, pgrads = step_results(m, [collate_packed(exs[:3]), collate_packed(exs[3:])], normalization, path)
    assert packed["response_tokens"] == plain["response_tokens"] and packed["padded_tokens"] == 0
    assert packed["loss"] == pytest.approx(plain["loss"], rel=1e-5)
    for name, g in grads.items():
        torch.testing.assert_close(pgrads[name], g, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("normalization", ["token", "sample"])
def test_packed_rows_keep_spans_and_record_weights(normalization):
    """Chat spans (several trained turns) and per-record weights survive packing: same loss and
    gradients as the padded micro-batches of the same examples."""
    m = model("sdpa")
    spans = [[(3, 5), (7, 9)], None, [(2, 5)], None, [(6, 7)], [(1, 4), (6, 12)]]
    weights = [2.0, 1.0, 0.0, 0.5, 1.0, 3.0]
    exs = [(ids, n_p, sp, w) for (ids, n_p), sp, w in zip(examples(), spans, weights)]
    plain, grads = step_results(m, [collate(exs[i:i + 2], 0) for i in (0, 2, 4)], normalization)
    packed, pgrads = step_results(m, [collate_packed(exs[:3]), collate_packed(exs[3:])], normalization)
    assert packed["response_tokens"] == plain["response_tokens"]
    assert packed["loss"] == pytest.approx(plain["loss"], rel=1e-5)
    for name, g in grads.items():
        torch.testing.assert_close(pgrads[name], g, rtol=1e-4, atol=1e-6, msg=name)
    row = collate_packed(exs[:2])
    assert row["response_mask"][0].nonzero().flatten().tolist() == [2, 3, 6, 7] + list(range(12, 21))
    assert row["sequence_weight"] == 3.0 and row["loss_weight"][0, 0] == 2.0 and row["loss_weight"][0, -1] == 1.0


def test_sample_normalisation_weighs_each_example_by_its_own_tokens():
    """Two examples in one row, 1 and 4 response tokens: each gets weight 1/(own tokens x sequences)."""
    mb = collate_packed([([1, 2, 3], 2), ([4, 5, 6, 7, 8, 9], 2)])
    from tracesft.train.normalization import StepTotals

    w = NORMALIZATIONS["sample"](mb["response_mask"], StepTotals(tokens=5, sequences=2, microbatches=1),
                                 segments=mb["segments"])
    assert w[0].tolist() == [0, 0.5, 0, 0.125, 0.125, 0.125, 0.125]


def test_packed_run_trains_and_resumes_exactly(setup_dir, tmp_path, monkeypatch):
    # overlength drop keeps the 12 traces under max_length=96: 3 steps of 2 packed micro-batches per epoch
    kw = dict(packing=True, max_tokens_per_micro_batch=192, max_steps=8, eval_data=None, loss_normalization="sample",
              overlength="drop")
    ref = train(make_cfg(setup_dir, tmp_path / "ref", **kw))
    assert ref["packing"]["fill"] > 0.8 and ref["packing"]["max_tokens_per_micro_batch"] == 192
    assert ref["overlength"]["n_dropped"] == 36 and ref["n_train"] == 12
    rows = [json.loads(line) for line in (tmp_path / "ref" / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if r["kind"] == "train"]
    assert train_rows[-1]["loss"] < train_rows[0]["loss"] and all(r["padding_fraction"] == 0 for r in train_rows)
    assert len({r["epoch"] for r in train_rows}) >= 2  # the run crosses epoch boundaries
    real = sigterm_during_step(monkeypatch, 5)  # stop inside the second epoch (3 steps each)
    assert train(make_cfg(setup_dir, tmp_path / "int", **kw))["step"] == 5
    monkeypatch.setattr(loop_module, "train_step", real)
    train(make_cfg(setup_dir, tmp_path / "int", **kw), resume=True)
    want, got = final_weights(tmp_path / "ref"), final_weights(tmp_path / "int")
    for k in want:
        assert torch.equal(got[k], want[k]), k


@pytest.mark.slow  # two ranks: subprocesses
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is unavailable")
def test_packed_two_ranks_equal_one_process(setup_dir, tmp_path):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        common = dict(packing=True, max_tokens_per_micro_batch=160, max_steps=3, loss_normalization="sample",
                      eval_data=None, lr=5e-3, warmup_steps=0)
        train(make_cfg(setup_dir, tmp_path / "single", gradient_accumulation_steps=4, **common))
        cfg = make_cfg(setup_dir, tmp_path / "dist", gradient_accumulation_steps=2, **common)
        (tmp_path / "dist.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
        proc = subprocess.run([sys.executable, "-m", "tracesft", "train", "--nproc", "2", "--config",
                               str(tmp_path / "dist.yaml")], capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, OMP_NUM_THREADS="1"))
        assert proc.returncode == 0, proc.stderr[-3000:]
    finally:
        torch.set_num_threads(before)
    a, b = final_weights(tmp_path / "dist"), final_weights(tmp_path / "single")
    for k in b:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-5, msg=k)


def test_real_model_packed_equals_unpacked(smollm2):
    """SmolLM2-135M-Instruct (Llama architecture, sdpa): the probe picks varlen and packed log-probs
    equal unpacked ones. (A packed run on it trains and resumes bit-identically:
    tests/models/test_model_import.py::test_real_model_round_trips_and_resumes_bit_identically.)"""
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(smollm2, dtype=torch.float32).eval()
    assert choose_packing_path(m) == "varlen"
    g = torch.Generator().manual_seed(0)
    exs = [(torch.randint(0, 49152, (n,), generator=g).tolist(), 4) for n in (17, 30, 9)]
    for got, want in zip(packed_log_probs(m, exs, path="varlen"), unpacked_log_probs(m, exs)):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=2e-4)
