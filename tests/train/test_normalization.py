"""Loss normalisations (sum, token, sample) through one train_step: the values they define, and
invariance to how a batch is split into micro-batches where that is promised."""

import json

import pytest
import torch

from tracesft.demo.task import DEMO_TEMPLATE
from tracesft.train.batching import build_train_set, collate
from tracesft.train.distributed import LogProbModule
from tracesft.train.normalization import NORMALIZATIONS
from tracesft.train.step import train_step


def _grads_for_split(root, micro, normalization, order=None):
    from tracesft.evaluate import load_model_and_tokenizer

    model, tok = load_model_and_tokenizer(str(root / "model"))
    records = [json.loads(line) for line in (root / "train.jsonl").read_text().splitlines()][:6]
    ts = build_train_set([DEMO_TEMPLATE.replace("{question}", r["prompt"]) for r in records],
                         [r["response"] for r in records], tok, 96)
    idx = order or list(range(6))
    mbs = [collate([ts[i] for i in idx[s:s + micro]], tok.pad_token_id) for s in range(0, 6, micro)]
    stats = train_step(LogProbModule(model), mbs, NORMALIZATIONS[normalization], normalize_constant=3.0)
    return {n: p.grad.clone() for n, p in model.named_parameters()}, stats, model, tok, records


@pytest.mark.parametrize("normalization", ["token", "sample", "sum"])
def test_normalizations_are_split_invariant_where_promised(setup_dir, normalization):
    g6, s6, *_ = _grads_for_split(setup_dir, 6, normalization)
    g2, s2, *_ = _grads_for_split(setup_dir, 2, normalization)
    g_uneven, _, *_ = _grads_for_split(setup_dir, 4, normalization)  # micro-batches of 4 and 2
    assert s6["loss"] == pytest.approx(s2["loss"], rel=1e-5)
    for name in g6:
        torch.testing.assert_close(g2[name], g6[name], rtol=1e-4, atol=1e-7)
        if normalization != "sum":  # token and sample stay exact for unequal micro-batches too
            torch.testing.assert_close(g_uneven[name], g6[name], rtol=1e-4, atol=1e-7)


def test_normalization_values_match_definitions(setup_dir):
    from tracesft import get_response_log_probs, tokenize_prompt_and_output

    _, stats_token, model, tok, records = _grads_for_split(setup_dir, 3, "token")
    _, stats_sample, *_ = _grads_for_split(setup_dir, 3, "sample")
    _, stats_sum, *_ = _grads_for_split(setup_dir, 3, "sum")
    batch = tokenize_prompt_and_output([DEMO_TEMPLATE.replace("{question}", r["prompt"]) for r in records],
                                       [r["response"] for r in records], tok, 96)
    with torch.no_grad():
        lp = get_response_log_probs(model, batch["input_ids"], batch["labels"], fused=False)["log_probs"]
    m = batch["response_mask"]
    nll = -(lp * m).sum(-1)
    assert stats_token["loss"] == pytest.approx((nll.sum() / m.sum()).item(), rel=1e-5)
    assert stats_sample["loss"] == pytest.approx((nll / m.sum(-1)).mean().item(), rel=1e-5)
    assert stats_sum["loss"] == pytest.approx((nll / 3.0).mean().item(), rel=1e-5)


def test_train_step_uses_head_gradients_formed_in_forward(setup_dir, monkeypatch):
    """train_step passes each micro-batch's loss weights to the fused head, whose backward then uses
    the gradients formed in the forward (per-example weights of ``sample`` included)."""
    from tracesft import fused_logprobs

    scales = []
    real = fused_logprobs._hint_scale
    monkeypatch.setattr(fused_logprobs, "_hint_scale", lambda g, h: scales.append(real(g, h)) or scales[-1])
    _grads_for_split(setup_dir, 3, "sample")
    assert len(scales) == 2 and None not in scales
