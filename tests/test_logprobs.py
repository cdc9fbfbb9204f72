import math
import warnings

import pytest
import torch

from tracesft import compute_entropy, get_response_log_probs
from tracesft.demo.models import tiny_qwen2
from tracesft.fused_logprobs import auto_chunk_size, fused_linear_log_probs, vocab_chunk_size
from tracesft.logprobs import log_probs_from_logits


def test_entropy_matches_definition():
    logits = torch.randn(3, 4, 17, dtype=torch.float64)
    p = torch.softmax(logits, -1)
    expected = -(p * p.log()).sum(-1)
    torch.testing.assert_close(compute_entropy(logits), expected)
    assert compute_entropy(logits).shape == (3, 4)


def test_entropy_uniform_onehot_extremes():
    assert compute_entropy(torch.zeros(10)).item() == pytest.approx(math.log(10), rel=1e-6)
    big = torch.tensor([[1e4, -1e4, 0.0], [1e4, 1e4, -1e4]])
    h = compute_entropy(big)
    assert torch.isfinite(h).all()
    assert h[0].item() == pytest.approx(0.0, abs=1e-6)
    assert h[1].item() == pytest.approx(math.log(2), rel=1e-5)


def test_entropy_with_neg_inf_entries_finite_value_and_grad():
    logits = torch.tensor([[0.0, float("-inf"), 1.0], [float("-inf"), 2.0, float("-inf")]], requires_grad=True)
    h = compute_entropy(logits)
    p = torch.softmax(torch.tensor([0.0, 1.0]), 0)
    assert h[0].item() == pytest.approx(-(p * p.log()).sum().item(), rel=1e-6)
    assert h[1].item() == 0.0
    h.sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_entropy_half_precision_accumulates_in_float32():
    logits = torch.randn(4, 1000) * 5
    h16 = compute_entropy(logits.to(torch.bfloat16))
    assert h16.dtype == torch.float32
    torch.testing.assert_close(h16, compute_entropy(logits.to(torch.bfloat16).float()))
    with pytest.raises(ValueError, match="vocab"):
        compute_entropy(torch.zeros(3, 0))


def _batch(vocab, b=3, t=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (b, t + 1), generator=g)
    mask = torch.zeros(b, t, dtype=torch.bool)
    mask[0, 3:] = True
    mask[1, 1:5] = True
    mask[2, 6:8] = True
    return ids[:, :-1], ids[:, 1:], mask


def test_reference_path_matches_manual_log_softmax():
    model = tiny_qwen2(vocab_size=50)
    ids, labels, _ = _batch(50)
    out = get_response_log_probs(model, ids, labels, return_token_entropy=True, fused=False)
    logits = model(ids).logits
    manual = torch.log_softmax(logits, -1).gather(-1, labels[..., None]).squeeze(-1)
    torch.testing.assert_close(out["log_probs"], manual)
    torch.testing.assert_close(out["token_entropy"], compute_entropy(logits))
    assert out["log_probs"].shape == ids.shape
    out["log_probs"].sum().backward()
    assert model.model.layers[0].self_attn.q_proj.weight.grad.abs().sum() > 0


def test_input_shape_errors():
    model = tiny_qwen2(vocab_size=20)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        get_response_log_probs(model, torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="response_mask"):
        get_response_log_probs(model, torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long),
                               response_mask=torch.ones(3, 2, dtype=torch.bool))


def _grads(model):
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def _run(model, ids, labels, fused, mask=None, chunk_size=None, entropy_weight=0.0):
    model.zero_grad(set_to_none=True)
    out = get_response_log_probs(model, ids, labels, True, response_mask=mask, fused=fused, chunk_size=chunk_size)
    g = torch.Generator().manual_seed(7)
    w = torch.randn(ids.shape, generator=g)
    loss = (out["log_probs"] * w).sum() + entropy_weight * (out["token_entropy"] * w).sum()
    loss.backward()
    return out, _grads(model)


def _assert_grads_close(ga, gb, rtol=1e-4):
    assert ga.keys() == gb.keys()
    for name in ga:
        scale = gb[name].abs().max().clamp(min=1e-6)
        err = (ga[name] - gb[name]).abs().max() / scale
        assert err < rtol, f"{name}: relative gradient error {err:.2e}"


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("chunk_size", [None, 1, 5, 1000])
def test_fused_matches_reference(tied, chunk_size):
    model = tiny_qwen2(vocab_size=97, tie_word_embeddings=tied, seed=3)
    ids, labels, _ = _batch(97)
    ref, g_ref = _run(model, ids, labels, fused=False)
    fused, g_fused = _run(model, ids, labels, fused=True, chunk_size=chunk_size)
    torch.testing.assert_close(fused["log_probs"], ref["log_probs"], rtol=0, atol=1e-5)
    torch.testing.assert_close(fused["token_entropy"], ref["token_entropy"], rtol=0, atol=1e-5)
    _assert_grads_close(g_fused, g_ref)
    assert "lm_head.weight" in g_fused or tied


def test_fused_entropy_gradient_matches_reference():
    model = tiny_qwen2(vocab_size=61, tie_word_embeddings=False, seed=4)
    ids, labels, _ = _batch(61)
    _, g_ref = _run(model, ids, labels, fused=False, entropy_weight=0.7)
    _, g_fused = _run(model, ids, labels, fused=True, chunk_size=4, entropy_weight=0.7)
    _assert_grads_close(g_fused, g_ref)


def test_fused_response_mask_zero_outside_and_same_grads():
    model = tiny_qwen2(vocab_size=53, seed=5)
    ids, labels, mask = _batch(53)
    ref, _ = _run(model, ids, labels, fused=False)
    masked_ref, g_masked_ref = _run(model, ids, labels, fused=False, mask=mask)
    fused, g_fused = _run(model, ids, labels, fused=True, mask=mask, chunk_size=3)
    for key in ("log_probs", "token_entropy"):
        assert (fused[key][~mask] == 0).all()
        assert (masked_ref[key][~mask] == 0).all()
        torch.testing.assert_close(fused[key][mask], ref[key][mask], rtol=0, atol=1e-5)
    _assert_grads_close(g_fused, g_masked_ref)


def test_fused_under_no_grad():
    model = tiny_qwen2(vocab_size=40)
    ids, labels, _ = _batch(40)
    with torch.no_grad():
        ref = get_response_log_probs(model, ids, labels, True, fused=False)
        fused = get_response_log_probs(model, ids, labels, True, chunk_size=2)
    assert not fused["log_probs"].requires_grad
    torch.testing.assert_close(fused["log_probs"], ref["log_probs"], rtol=0, atol=1e-5)
    torch.testing.assert_close(fused["token_entropy"], ref["token_entropy"], rtol=0, atol=1e-5)


def test_fused_bf16_within_documented_tolerance():
    """bf16 weights: both paths round logits differently; agree within 0.05 nats (documented)."""
    model = tiny_qwen2(vocab_size=64, hidden_size=64, seed=6).to(torch.bfloat16)
    ids, labels, _ = _batch(64)
    ref, g_ref = _run(model, ids, labels, fused=False)
    fused, g_fused = _run(model, ids, labels, fused=True, chunk_size=7)
    assert fused["log_probs"].dtype == torch.float32
    torch.testing.assert_close(fused["log_probs"], ref["log_probs"], rtol=0, atol=5e-2)
    torch.testing.assert_close(fused["token_entropy"], ref["token_entropy"], rtol=0, atol=5e-2)
    _assert_grads_close(g_fused, g_ref, rtol=5e-2)


@pytest.mark.parametrize("vocab_chunk", [None, 1, 6, 31])  # the backward's vocabulary slices: default, 1 row, uneven
def test_fused_linear_with_bias_and_direct_reference(vocab_chunk):
    g = torch.Generator().manual_seed(0)
    h = torch.randn(23, 8, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(31, 8, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(31, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 31, (23,), generator=g)
    gw1, gw2 = torch.randn(23, generator=g, dtype=torch.float64), torch.randn(23, generator=g, dtype=torch.float64)

    lp, ent = fused_linear_log_probs(h, w, y, b, return_entropy=True, chunk_size=4, vocab_chunk=vocab_chunk)
    (lp.double() @ gw1 + ent.double() @ gw2).backward()
    fused_grads = [t.grad.clone() for t in (h, w, b)]
    for t in (h, w, b):
        t.grad = None
    logits = h @ w.t() + b
    lp_ref = log_probs_from_logits(logits[None], y[None])[0]
    ent_ref = compute_entropy(logits)
    (lp_ref @ gw1 + ent_ref @ gw2).backward()
    torch.testing.assert_close(lp.double(), lp_ref, rtol=0, atol=1e-5)
    torch.testing.assert_close(ent.double(), ent_ref, rtol=0, atol=1e-5)
    for got, t in zip(fused_grads, (h, w, b)):
        torch.testing.assert_close(got, t.grad, rtol=1e-4, atol=1e-6)


def test_fused_gradcheck_small():
    g = torch.Generator().manual_seed(1)
    h = torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(7, 3, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 7, (5,), generator=g)

    def f(h, w):
        lp, ent = fused_linear_log_probs(h, w, y, return_entropy=True, chunk_size=2, vocab_chunk=3)
        return lp.double(), ent.double()

    # The head computes in float32, so compare against finite differences loosely.
    assert torch.autograd.gradcheck(f, (h, w), eps=1e-3, atol=1e-3, rtol=1e-2)


def test_auto_chunk_size_respects_budget():
    c = auto_chunk_size(151_936, budget_bytes=256 * 2**20)
    assert c >= 1
    assert 2 * 4 * 151_936 * c <= 256 * 2**20 < 2 * 4 * 151_936 * (c + 1)
    assert auto_chunk_size(10, budget_bytes=10) == 1
    assert auto_chunk_size(151_936, n_tokens=2048) == 410  # chunks of at most 441 evened out: five of 410
    cols = vocab_chunk_size(2048, 151_936, budget_bytes=256 * 2**20)
    assert 2 * 4 * 2048 * cols <= 256 * 2**20 and cols >= 256
    assert vocab_chunk_size(1, 151_936) == 151_936 and vocab_chunk_size(10**7, 151_936) == 256


class _Softcapped(torch.nn.Module):
    pass


def test_fallback_warns_once_for_softcapping_and_matches_reference():
    from tracesft import logprobs

    logprobs._warned.clear()
    model = tiny_qwen2(vocab_size=30)
    model.config.final_logit_softcapping = 30.0  # a transform the fused head does not implement
    ids, labels, _ = _batch(30)
    with pytest.warns(RuntimeWarning, match="final_logit_softcapping"):
        out = get_response_log_probs(model, ids, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_response_log_probs(model, ids, labels)  # second call: no new warning
    ref = get_response_log_probs(model, ids, labels, fused=False)
    torch.testing.assert_close(out["log_probs"], ref["log_probs"])


def test_fallback_for_model_without_output_embedding():
    from tracesft import logprobs

    logprobs._warned.clear()

    class Plain(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(12, 12)

        def forward(self, input_ids, **kw):
            return type("Out", (), {"logits": self.emb(input_ids)})()

    model = Plain()
    ids, labels, _ = _batch(12)
    with pytest.warns(RuntimeWarning, match="output embedding"):
        out = get_response_log_probs(model, ids, labels)
    manual = torch.log_softmax(model.emb(ids), -1).gather(-1, labels[..., None]).squeeze(-1)
    torch.testing.assert_close(out["log_probs"], manual)


@pytest.mark.parametrize("fused", [True, False])
def test_with_grad_keyword(fused):
    model = tiny_qwen2(vocab_size=64)
    ids = torch.randint(0, 64, (2, 6))
    labels = torch.randint(0, 64, (2, 6))
    default = get_response_log_probs(model, ids, labels, fused=fused)["log_probs"]
    assert default.requires_grad  # None: follows the grad mode, as before the keyword existed
    off = get_response_log_probs(model, ids, labels, True, with_grad=False, fused=fused)
    assert not off["log_probs"].requires_grad and not off["token_entropy"].requires_grad
    torch.testing.assert_close(off["log_probs"], default.detach())
    with torch.no_grad():
        assert not get_response_log_probs(model, ids, labels, fused=fused)["log_probs"].requires_grad
        assert get_response_log_probs(model, ids, labels, with_grad=True, fused=fused)["log_probs"].requires_grad


@pytest.mark.parametrize("upstream", ["multiple", "other", "entropy"])
def test_grad_hint_gradients_formed_in_forward_or_recomputed(monkeypatch, upstream):
    """With ``grad_hint`` the forward forms the gradients; backward uses them when its incoming gradient
    is c * hint and recomputes otherwise (another gradient, or one reaching the entropy): the result
    equals full logits' in every case, and the path taken is the expected one."""
    from tracesft import fused_logprobs

    scales = []
    real = fused_logprobs._hint_scale
    monkeypatch.setattr(fused_logprobs, "_hint_scale", lambda g, h: scales.append(real(g, h)) or scales[-1])
    g = torch.Generator().manual_seed(2)
    h = torch.randn(23, 8, generator=g, requires_grad=True)
    w = torch.randn(31, 8, generator=g, requires_grad=True)
    b = torch.randn(31, generator=g, requires_grad=True)
    y = torch.randint(0, 31, (23,), generator=g)
    hint = torch.rand(23, generator=g)
    g_lp = -3 * hint if upstream != "other" else torch.randn(23, generator=g)
    g_ent = torch.randn(23, generator=g) if upstream == "entropy" else torch.zeros(23)

    lp, ent = fused_linear_log_probs(h, w, y, b, return_entropy=True, chunk_size=4, grad_hint=hint)
    (lp @ g_lp + (ent @ g_ent if upstream == "entropy" else 0)).backward()
    fused_grads = [t.grad.clone() for t in (h, w, b)]
    for t in (h, w, b):
        t.grad = None
    logits = h @ w.t() + b
    (log_probs_from_logits(logits[None], y[None])[0] @ g_lp + compute_entropy(logits) @ g_ent).backward()
    for got, t in zip(fused_grads, (h, w, b)):
        torch.testing.assert_close(got, t.grad, rtol=1e-4, atol=1e-5)
    expected = {"multiple": [pytest.approx(-3.0)], "other": [None], "entropy": []}[upstream]
    assert scales == expected
