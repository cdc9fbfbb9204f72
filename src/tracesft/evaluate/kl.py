"""KL(policy || reference) on evaluation responses: how far training moved the model."""

from __future__ import annotations

import torch

from ..logprobs import get_response_log_probs
from ..losses import kl_penalty
from ..tokenization import tokenize_prompt_and_output

__all__ = ["mean_kl"]


@torch.no_grad()
def mean_kl(policy, ref_model, tokenizer, records: list[dict], *, max_length: int, batch_size: int) -> float | None:
    """Mean k3 estimate of KL(policy || ref_model) over the response tokens of ``records``.

    ``records`` are evaluation records (``prompt``, ``response``); those with an empty response are
    skipped; None when no token is left. The policy's train/eval mode is restored.
    """
    usable = [r for r in records if r["response"]]
    if not usable:
        return None
    was_training = policy.training
    policy.eval()
    device = next(policy.parameters()).device
    total, count = 0.0, 0
    try:
        for s in range(0, len(usable), batch_size):
            chunk = usable[s:s + batch_size]
            batch = tokenize_prompt_and_output([r["prompt"] for r in chunk], [r["response"] for r in chunk],
                                               tokenizer, max_length)
            ids, labels, mask = (batch[k].to(device) for k in ("input_ids", "labels", "response_mask"))
            lp = get_response_log_probs(policy, ids, labels, response_mask=mask)["log_probs"]
            ref = get_response_log_probs(ref_model, ids, labels, response_mask=mask)["log_probs"]
            n = int(mask.sum())
            total += float(kl_penalty(lp, ref, "k3", mask)) * n
            count += n
    finally:
        policy.train(was_training)
    return total / count if count else None
