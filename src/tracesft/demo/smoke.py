"""A short smoke of the SFT primitives on a tiny random model (runs in seconds on a CPU)."""

from __future__ import annotations

import time


def run_smoke(steps: int = 8) -> int:
    import torch

    from .. import get_response_log_probs, sft_microbatch_train_step, token_normalize_constant
    from .models import tiny_qwen2

    class _Chars:
        """A character tokenizer for the smoke (ids 3.. for bytes; pad/eos 0)."""

        pad_token_id = eos_token_id = 0

        def __call__(self, texts, add_special_tokens=True):
            return {"input_ids": [[3 + (b % 90) for b in t.encode()] for t in texts]}

    from .. import tokenize_prompt_and_output

    t0 = time.perf_counter()
    torch.manual_seed(0)
    prompts = [f"{a}+{b}=<think>" for a, b in [(12, 7), (3, 44), (25, 25), (8, 1)]]
    outputs = [f"{a + b}</think><answer>{a + b}</answer>" for a, b in [(12, 7), (3, 44), (25, 25), (8, 1)]]
    batch = tokenize_prompt_and_output(prompts, outputs, _Chars())
    model = tiny_qwen2(vocab_size=96)
    ref = get_response_log_probs(model, batch["input_ids"], batch["labels"], True, fused=False)
    fused = get_response_log_probs(model, batch["input_ids"], batch["labels"], True, chunk_size=7)
    err = (ref["log_probs"] - fused["log_probs"]).abs().max().item()
    print(f"fused vs full-logits log-probs: max |diff| = {err:.2e}")
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    const = token_normalize_constant(batch["response_mask"])
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        for half in (slice(0, 2), slice(2, 4)):
            out = get_response_log_probs(model, batch["input_ids"][half], batch["labels"][half],
                                         response_mask=batch["response_mask"][half])
            loss, _ = sft_microbatch_train_step(out["log_probs"], batch["response_mask"][half], 2, const)
        opt.step()
        losses.append(loss.item() * 2)
    print(f"SFT loss per response token: {losses[0]:.3f} -> {losses[-1]:.3f} in {steps} steps")
    print(f"smoke passed in {time.perf_counter() - t0:.1f} s" if losses[-1] < losses[0] and err < 1e-4
          else "smoke FAILED")
    return 0 if losses[-1] < losses[0] and err < 1e-4 else 1
