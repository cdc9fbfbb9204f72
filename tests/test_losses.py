
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from tracesft import (
    kl_penalty,
    masked_mean,
    masked_normalize,
    sft_loss,
    sft_microbatch_train_step,
    token_normalize_constant,
)


def test_masked_normalize_all_and_dim():
    t = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    m = torch.tensor([[True, False, True], [False, False, True]])
    assert masked_normalize(t, m, 2.0).item() == pytest.approx((1 + 3 + 6) / 2)
    assert masked_normalize(t, m, 1.0, dim=1).tolist() == [4.0, 6.0]
    assert masked_normalize(t, m, 4.0, dim=0).tolist() == [0.25, 0.0, 2.25]


def test_masked_normalize_ignores_inf_outside_mask_and_no_nan_grad():
    t = torch.tensor([1.0, float("-inf"), float("nan")], requires_grad=True)
    m = torch.tensor([True, False, False])
    out = masked_normalize(t, m)
    out.backward()
    assert out.item() == 1.0
    assert t.grad.tolist() == [1.0, 0.0, 0.0]


def test_masked_mean_and_empty_mask():
    t = torch.tensor([[1.0, 2.0], [3.0, 5.0]], requires_grad=True)
    m = torch.tensor([[True, True], [False, False]])
    assert masked_mean(t, m).item() == 1.5
    per_row = masked_mean(t, m, dim=1)
    assert per_row.tolist() == [1.5, 0.0]  # empty row -> 0
    per_row.sum().backward()
    assert torch.isfinite(t.grad).all()
    assert t.grad.tolist() == [[0.5, 0.5], [0.0, 0.0]]
    empty = masked_mean(t, torch.zeros_like(m))
    assert empty.item() == 0.0


def test_shape_errors_name_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        masked_normalize(torch.zeros(2, 3), torch.ones(3, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="dim=2"):
        masked_mean(torch.zeros(2, 3), torch.ones(2, 3, dtype=torch.bool), dim=2)
    with pytest.raises(ValueError, match=r"\(4,\)"):
        sft_microbatch_train_step(torch.zeros(4, requires_grad=True), torch.ones(4, dtype=torch.bool), 1)
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        sft_microbatch_train_step(torch.zeros(1, 2, requires_grad=True), torch.ones(1, 2, dtype=torch.bool), 0)


def test_microbatch_step_value_and_metadata():
    lp = torch.tensor([[-1.0, -2.0, -3.0], [-4.0, -5.0, -6.0]], requires_grad=True)
    m = torch.tensor([[True, True, False], [False, True, True]])
    loss, meta = sft_microbatch_train_step(lp, m, gradient_accumulation_steps=2, normalize_constant=3.0)
    # per-sequence sums 3 and 11, /3, mean -> 14/6, /2 -> 14/12
    assert loss.item() == pytest.approx(14 / 12)
    assert not loss.requires_grad
    assert meta["unscaled_loss"].item() == pytest.approx(14 / 6)
    assert meta["num_response_tokens"].item() == 4
    assert meta["masked_ce_sum"].item() == pytest.approx(14)  # the seeds' names, beside ours
    # d loss / d lp = -mask / (3 * batch 2 * G 2)
    assert torch.allclose(lp.grad, -m.float() / 12)


def _model_and_data(batch, seq, vocab=11, seed=0):
    g = torch.Generator().manual_seed(seed)
    lin = torch.nn.Linear(5, vocab)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(vocab, 5, generator=g))
        lin.bias.copy_(torch.randn(vocab, generator=g))
    x = torch.randn(batch, seq, 5, generator=g)
    labels = torch.randint(0, vocab, (batch, seq), generator=g)
    mask = torch.rand(batch, seq, generator=g) < 0.6
    mask[:, 0] = True
    return lin, x, labels, mask


def _accumulate(lin, x, labels, mask, micro, constant_fn):
    lin.zero_grad()
    batch = x.shape[0]
    G = batch // micro
    total = 0.0
    for k in range(G):
        s = slice(k * micro, (k + 1) * micro)
        lp = torch.log_softmax(lin(x[s]), -1).gather(-1, labels[s, :, None]).squeeze(-1)
        loss, _ = sft_microbatch_train_step(lp, mask[s], G, constant_fn(mask))
        total += loss.item()
    return total, lin.weight.grad.clone(), lin.bias.grad.clone()


def test_accumulation_equals_full_batch_b6_g3():
    lin, x, labels, mask = _model_and_data(6, 4)
    loss_full, gw_full, gb_full = _accumulate(lin, x, labels, mask, 6, lambda m: 2.5)
    loss_acc, gw_acc, gb_acc = _accumulate(lin, x, labels, mask, 2, lambda m: 2.5)
    assert loss_acc == pytest.approx(loss_full, rel=1e-6)
    torch.testing.assert_close(gw_acc, gw_full, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(gb_acc, gb_full, rtol=1e-5, atol=1e-6)
    # Dividing by G twice would give a gradient 3x too small: make sure we are far from that.
    assert not torch.allclose(gw_acc, gw_full / 3, rtol=1e-2)


@settings(max_examples=25, deadline=None)
@given(micro=st.integers(1, 4), G=st.integers(1, 4), seq=st.integers(1, 6), seed=st.integers(0, 10_000))
def test_property_accumulation_any_split(micro, G, seq, seed):
    lin, x, labels, mask = _model_and_data(micro * G, seq, seed=seed)
    _, gw_full, gb_full = _accumulate(lin, x, labels, mask, micro * G, token_normalize_constant)
    _, gw_acc, gb_acc = _accumulate(lin, x, labels, mask, micro, token_normalize_constant)
    torch.testing.assert_close(gw_acc, gw_full, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(gb_acc, gb_full, rtol=1e-4, atol=1e-6)


def test_token_normalize_constant_gives_exact_token_mean():
    lin, x, labels, mask = _model_and_data(6, 5, seed=3)
    lp_full = torch.log_softmax(lin(x), -1).gather(-1, labels[..., None]).squeeze(-1)
    expected = (-lp_full[mask]).mean()
    for micro in (1, 2, 3, 6):
        total, _, _ = _accumulate(lin, x, labels, mask, micro, token_normalize_constant)
        assert total == pytest.approx(expected.item(), rel=1e-5)
    # The naive average of micro-batch token means differs when token counts differ.
    naive = sum((-lp_full[k:k + 1][mask[k:k + 1]]).mean().item() for k in range(6)) / 6
    assert naive != pytest.approx(expected.item(), rel=1e-3)
    with pytest.raises(ValueError):
        token_normalize_constant(torch.zeros(2, 3, dtype=torch.bool))


def test_sft_loss_matches_cross_entropy_and_mask_path():
    torch.manual_seed(1)
    logits = torch.randn(3, 7, 13)
    labels = torch.randint(0, 13, (3, 7))
    labels[0, 3] = -100
    labels[2, 5:] = -100
    ref = F.cross_entropy(logits[:, :-1].reshape(-1, 13), labels[:, 1:].reshape(-1), ignore_index=-100)
    assert sft_loss(logits, labels).item() == pytest.approx(ref.item(), rel=1e-6)
    # Mask-based path: shifted labels, response mask = not ignored, exact token mean.
    shifted = labels[:, 1:]
    mask = shifted != -100
    lp = torch.log_softmax(logits[:, :-1], -1).gather(-1, shifted.clamp(min=0)[..., None]).squeeze(-1)
    assert masked_mean(-lp, mask).item() == pytest.approx(ref.item(), rel=1e-6)
    all_ignored = torch.full((1, 4), -100)
    assert sft_loss(torch.randn(1, 4, 13), all_ignored).item() == 0.0
    with pytest.raises(ValueError, match=r"\(3, 7, 13\)"):
        sft_loss(logits, labels[:, :-1])


def test_kl_penalty_formulas_and_mask():
    lp = torch.tensor([-1.0, -2.0, -0.5])
    ref = torch.tensor([-1.5, -1.0, -0.5])
    r = ref - lp
    torch.testing.assert_close(kl_penalty(lp, ref, "k1"), -r)
    torch.testing.assert_close(kl_penalty(lp, ref, "k2"), 0.5 * r**2)
    k3 = kl_penalty(lp, ref, "k3")
    torch.testing.assert_close(k3, torch.exp(r) - r - 1)
    assert (k3 >= 0).all()
    mask = torch.tensor([True, False, True])
    assert kl_penalty(lp, ref, "k3", mask).item() == pytest.approx(((k3[0] + k3[2]) / 2).item())
    with pytest.raises(ValueError, match="estimator"):
        kl_penalty(lp, ref, "k4")
    with pytest.raises(ValueError, match="same shape"):
        kl_penalty(lp, ref[:2])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kl_estimators_monte_carlo(seed):
    g = torch.Generator().manual_seed(seed)
    p = torch.softmax(2 * torch.randn(6, generator=g), 0)
    q = torch.softmax(2 * torch.randn(6, generator=g), 0)
    exact = (p * (p.log() - q.log())).sum().item()
    samples = torch.multinomial(p, 400_000, replacement=True, generator=g)
    lp, lq = p.log()[samples].double(), q.log()[samples].double()
    k1 = kl_penalty(lp, lq, "k1").mean().item()
    k3 = kl_penalty(lp, lq, "k3").mean().item()
    assert k1 == pytest.approx(exact, rel=0.03, abs=0.01)
    assert k3 == pytest.approx(exact, rel=0.03, abs=0.01)
    # The wrong-sign variant exp(lp - lq) - 1 - (lp - lq) estimates something else.
    wrong = (torch.exp(lp - lq) - 1 - (lp - lq)).mean().item()
    assert abs(wrong - exact) > 5 * abs(k3 - exact)


def test_kl_penalty_seed_modes():
    from tracesft import kl_penalty

    lp = torch.tensor([[-1.0, -2.0, -0.5]])
    ref = torch.tensor([[-1.5, -1.0, -0.5]])
    mask = torch.tensor([[True, True, False]])
    r = ref - lp  # the k3 direction whose expectation under the policy is KL(policy || ref)
    assert kl_penalty(lp, ref, mode="biased").item() == pytest.approx((lp - ref).mean().item())
    assert kl_penalty(lp, ref, mode="unbiased").item() == pytest.approx((torch.exp(r) - r - 1).mean().item())
    assert kl_penalty(lp, ref, mode="unbiased", mask=mask).item() == pytest.approx(
        (torch.exp(r) - r - 1)[mask].mean().item())
    with pytest.raises(ValueError, match="mode must be one of"):
        kl_penalty(lp, ref, mode="k3")
