"""Per-record weights: what a record's ``weight`` means under each loss normalisation, through train_step
on the tiny model (gradients compared), and from a JSONL field to the collated batch."""

import json

import pytest
import torch

from tracesft.demo.task import DEMO_TEMPLATE
from tracesft.train.batching import build_train_set, collate
from tracesft.train.distributed import LogProbModule
from tracesft.train.normalization import NORMALIZATIONS
from tracesft.train.step import train_step


def _step(root, rows, weights, normalization):
    """Gradients and loss of one step over ``rows`` (indices into the first records) in one micro-batch."""
    from tracesft.evaluate import load_model_and_tokenizer

    model, tok = load_model_and_tokenizer(str(root / "model"))
    records = [json.loads(line) for line in (root / "train.jsonl").read_text().splitlines()]
    ts = build_train_set([DEMO_TEMPLATE.replace("{question}", records[i]["prompt"]) for i in rows],
                         [records[i]["response"] for i in rows], tok, 96, weights=weights)
    mb = collate([ts[i] for i in range(len(ts))], tok.pad_token_id)
    stats = train_step(LogProbModule(model), [mb], NORMALIZATIONS[normalization], normalize_constant=2.0)
    return {n: p.grad.clone() for n, p in model.named_parameters()}, stats["loss"]


@pytest.mark.parametrize("normalization", ["token", "sample", "sum"])
def test_weight_two_is_the_record_twice(setup_dir, normalization):
    g_w, loss_w = _step(setup_dir, [0, 1], [2.0, 1.0], normalization)
    g_2, loss_2 = _step(setup_dir, [0, 0, 1], None, normalization)
    # token and sample: weighted means, so weight 2 == two copies exactly; sum: the record's term in the sum
    # is doubled, the divisor (normalize_constant x micro-batch size x micro-batches) is the batch's shape
    scale = 3 / 2 if normalization == "sum" else 1.0
    assert loss_w == pytest.approx(loss_2 * scale, rel=1e-5)
    for name in g_w:
        torch.testing.assert_close(g_w[name], g_2[name] * scale, rtol=1e-3, atol=1e-5)  # float32 sums


@pytest.mark.parametrize("normalization", ["token", "sample"])
def test_weight_zero_is_out_of_the_loss(setup_dir, normalization):
    g_0, loss_0 = _step(setup_dir, [0, 1], [0.0, 1.0], normalization)
    g_1, loss_1 = _step(setup_dir, [1], None, normalization)
    assert loss_0 == pytest.approx(loss_1, rel=1e-5)
    for name in g_0:
        torch.testing.assert_close(g_0[name], g_1[name], rtol=1e-4, atol=1e-7)


def test_weight_field_reaches_the_batch(tmp_path, setup_dir):
    from helpers.train import make_cfg

    from tracesft.data import load_examples
    from tracesft.evaluate import load_model_and_tokenizer
    from tracesft.train.builders import build_train_data
    from tracesft.train.distributed import DistInfo

    rows = [json.loads(line) for line in (setup_dir / "train.jsonl").read_text().splitlines()][:8]
    path = tmp_path / "w.jsonl"
    path.write_text("".join(json.dumps({**r, "weight": 0.5 * (i % 3)}) + "\n" for i, r in enumerate(rows)))
    cfg = make_cfg(setup_dir, tmp_path / "run", train_data=str(path), micro_batch_size=8, gradient_accumulation_steps=1)
    _, tok = load_model_and_tokenizer(cfg.model)
    report = {}
    data = build_train_data(cfg, load_examples(path), report, tok, DistInfo(), progress=False)
    assert sorted(data.train_set.weights) == sorted(0.5 * (i % 3) for i in range(8))
    mb, = next(iter(data.epoch(0)))
    assert sorted(mb["loss_weight"].tolist()) == sorted(0.5 * (i % 3) for i in range(8))
    assert report["weights"] == {"n_weighted": 6, "n_zero": 3, "sum": 0.5 * 3 + 1.0 * 2}
