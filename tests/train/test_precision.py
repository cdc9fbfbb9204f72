"""Precision: bf16-mixed tracks fp32 (float32 master weights), bf16-pure loses small updates; the
config's precision/dtype keys; a GPU without bfloat16 is refused in one line."""

import pytest
import torch
from helpers.train import final_weights, make_cfg
from safetensors.torch import load_file

from tracesft.errors import ConfigError
from tracesft.train import load_config, train


def test_bf16_mixed_tracks_fp32_and_bf16_pure_loses_small_updates(setup_dir, tmp_path):
    init = load_file(str(setup_dir / "model" / "model.safetensors"))
    result = {}
    for precision in ("fp32", "bf16-mixed", "bf16-pure"):
        out = tmp_path / precision
        summary = train(make_cfg(setup_dir, out, precision=precision, lr=2e-5, max_steps=12, lr_schedule="constant",
                                 warmup_steps=0, eval_data=None, gradient_accumulation_steps=1))
        final = final_weights(out)
        moved = sum(float((final[k].float() - init[k].float()).abs().sum()) for k in init)
        changed = sum(int((final[k] != init[k].to(final[k].dtype)).sum()) for k in init) / \
            sum(v.numel() for v in init.values())
        result[precision] = (summary["final_loss"], moved, changed, next(iter(final.values())).dtype)
    fp32, mixed, pure = result["fp32"], result["bf16-mixed"], result["bf16-pure"]
    assert mixed[0] == pytest.approx(fp32[0], rel=0.02)  # loss within 2% of fp32
    assert mixed[3] == torch.float32 and mixed[1] == pytest.approx(fp32[1], rel=0.05) and mixed[2] > 0.99
    assert pure[3] == torch.bfloat16 and pure[2] < 0.6 and pure[1] < 0.7 * fp32[1]  # most updates rounded away


def test_precision_config():
    cfg = load_config(None, ["model=m", "train_data=d", "dtype=bfloat16"])
    assert cfg.precision == "bf16-pure"  # what dtype: bfloat16 always meant
    assert load_config(None, ["model=m", "train_data=d", "precision=bf16-pure"]).dtype == "bfloat16"
    with pytest.raises(ConfigError, match="bf16-mixed keeps float32 master weights"):
        load_config(None, ["model=m", "train_data=d", "precision=bf16-mixed", "dtype=bfloat16"])


def test_bf16_on_a_gpu_without_it_is_one_line(monkeypatch):
    from tracesft.train.builders import check_precision_supported

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Tesla V100")
    with pytest.raises(ConfigError, match=r"precision bf16-mixed: cuda:0 \(Tesla V100\) has no bfloat16 support"):
        check_precision_supported("bf16-mixed", "cuda:0")
    check_precision_supported("bf16-mixed", "cpu")
    check_precision_supported("fp32", "cuda:0")
