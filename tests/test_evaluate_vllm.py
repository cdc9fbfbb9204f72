"""vLLM backend: runs only where a CUDA GPU and vLLM are present; skips with the reason elsewhere."""

import pytest

from tracesft.evaluate.vllm import log_generations_vllm, vllm_unavailable_reason

reason = vllm_unavailable_reason()


def test_unavailable_reason_is_clear_without_gpu():
    import torch

    if not torch.cuda.is_available():
        assert "CUDA GPU" in reason
        with pytest.raises(RuntimeError, match="CUDA GPU"):
            log_generations_vllm(None, ["p"], ["1"], None, max_new_tokens=1)


@pytest.mark.skipif(reason is not None, reason=reason or "")
def test_vllm_generation_matches_record_contract(tmp_path):
    from tracesft.demo.models import tiny_qwen2
    from tracesft.demo.tokenizer import train_bpe_tokenizer
    from tracesft.evaluate.vllm import init_vllm, load_policy_into_vllm_instance
    from tracesft.grading import r1_zero_reward_fn

    tok = train_bpe_tokenizer(["1 + 2 = 3 </think> <answer> 3 </answer>"] * 10, vocab_size=300)
    model = tiny_qwen2(vocab_size=len(tok), hidden_size=64, num_attention_heads=4)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    llm = init_vllm(str(tmp_path), gpu_memory_utilization=0.3)
    load_policy_into_vllm_instance(model.cuda(), llm)
    out = log_generations_vllm(llm, ["1 + 2 ="] * 3, ["3"] * 3, r1_zero_reward_fn, max_new_tokens=8)
    assert len(out["records"]) == 3 and out["summary"]["n_examples"] == 3
    assert len({r["response"] for r in out["records"]}) == 1  # greedy: identical prompts, identical outputs
