import pytest
import torch

from tracesft import compute_entropy
from tracesft.demo.models import tiny_qwen2
from tracesft.demo.tokenizer import train_bpe_tokenizer
from tracesft.evaluate import load_model_and_tokenizer, log_generations, summarize_records

TEXTS = ["12 + 7 = 19 </think> <answer> 19 </answer>", "What is 3 + 4? <think>", "0123456789 +-= abc"] * 5
PROMPTS = ["What is 3 + 4? <think>", "12 + 7 =", "Add 5 and 6.", "9 - 2 ="]
TRUTHS = ["7", "19", "11", "7"]


def stub_reward(response, truth):
    ok = float(len(response) % 2 == 0)
    return {"format_reward": 1.0, "answer_reward": ok, "reward": ok}


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny")
    tok = train_bpe_tokenizer(TEXTS, vocab_size=300)
    model = tiny_qwen2(vocab_size=len(tok), seed=1)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_load_roundtrip_and_bad_path(saved_model, tmp_path):
    model, tok = load_model_and_tokenizer(str(saved_model))
    assert model.config.model_type == "qwen2"
    assert tok.decode(tok("12 + 7 = 19\n  x")["input_ids"]) == "12 + 7 = 19\n  x"
    with pytest.raises(ValueError, match="no config.json"):
        load_model_and_tokenizer(str(tmp_path / "missing"))


def test_records_summary_and_determinism(saved_model):
    model, tok = load_model_and_tokenizer(str(saved_model))
    model.train()
    out = log_generations(model, tok, PROMPTS, TRUTHS, stub_reward, max_new_tokens=12, batch_size=3, stop=())
    assert model.training and tok.padding_side == "right"  # restored
    records, summary = out["records"], out["summary"]
    assert len(records) == 4
    assert set(records[0]) == {"prompt_index", "sample_index", "prompt", "response", "ground_truth", "reward",
                               "response_length", "mean_token_entropy", "hit_max_new_tokens", "answer",
                               "answer_normalized", "no_answer"}
    assert [(r["prompt_index"], r["sample_index"]) for r in records] == [(0, 0), (1, 0), (2, 0), (3, 0)]
    assert [r["prompt"] for r in records] == PROMPTS and [r["ground_truth"] for r in records] == TRUTHS
    assert all(1 <= r["response_length"] <= 12 for r in records)
    again = log_generations(model, tok, PROMPTS, TRUTHS, stub_reward, max_new_tokens=12, batch_size=2, stop=())
    assert [r["response"] for r in again["records"]] == [r["response"] for r in records]
    # Summary statistics from the records by hand.
    acc = sum(len(r["response"]) % 2 == 0 for r in records) / 4
    assert summary["accuracy"] == acc and summary["mean_reward"] == acc and summary["format_rate"] == 1.0
    assert summary["n_examples"] == 4
    assert summary["mean_response_length"] == pytest.approx(sum(r["response_length"] for r in records) / 4)
    correct = [r["response_length"] for r in records if len(r["response"]) % 2 == 0]
    expected_correct = sum(correct) / len(correct) if correct else None
    assert summary["mean_response_length_correct"] == (pytest.approx(expected_correct) if correct else None)
    assert summary["mean_token_entropy"] == pytest.approx(sum(r["mean_token_entropy"] for r in records) / 4)
    assert summary["tokens_per_second"] > 0


def test_entropy_equals_compute_entropy_on_step_logits(saved_model):
    model, tok = load_model_and_tokenizer(str(saved_model))
    out = log_generations(model, tok, PROMPTS[:1], TRUTHS[:1], stub_reward, max_new_tokens=6, batch_size=1, stop=())
    rec = out["records"][0]
    prompt_ids = tok(PROMPTS[0], return_tensors="pt")["input_ids"]
    n = rec["response_length"]
    gen = model.generate(prompt_ids, max_new_tokens=n, do_sample=False, pad_token_id=tok.pad_token_id,
                         eos_token_id=tok.eos_token_id)
    with torch.no_grad():
        logits = model(gen).logits[0, prompt_ids.shape[1] - 1: prompt_ids.shape[1] - 1 + n]
    assert rec["mean_token_entropy"] == pytest.approx(compute_entropy(logits).mean().item(), abs=1e-4)


def test_stop_string_ends_generation(saved_model):
    model, tok = load_model_and_tokenizer(str(saved_model))
    free = log_generations(model, tok, PROMPTS[:2], TRUTHS[:2], stub_reward, max_new_tokens=16, batch_size=2,
                           stop=())["records"]
    text = free[0]["response"]
    assert len(text) >= 4
    stop = text[1:3]
    cut = log_generations(model, tok, PROMPTS[:2], TRUTHS[:2], stub_reward, max_new_tokens=16, batch_size=2,
                          stop=(stop,))["records"]
    assert cut[0]["response"].endswith(stop)
    assert cut[0]["response"] == text[: text.find(stop) + len(stop)]
    assert cut[0]["response_length"] < free[0]["response_length"]


def test_summary_handles_no_correct():
    recs = [{"reward": {"format_reward": 0.0, "answer_reward": 0.0, "reward": 0.0}, "response_length": 3,
             "mean_token_entropy": 1.0}]
    s = summarize_records(recs)
    assert s["accuracy"] == 0.0 and s["mean_response_length_correct"] is None
    assert s["mean_response_length_incorrect"] == 3


def test_bad_arguments(saved_model):
    model, tok = load_model_and_tokenizer(str(saved_model))
    with pytest.raises(ValueError, match="differ in length"):
        log_generations(model, tok, PROMPTS, TRUTHS[:1], stub_reward, max_new_tokens=2)


def _reference_end(tokenizer, ids, stop, eos_ids, pad_id):
    """The linear scan the bisection replaces: the first prefix whose text holds the stop string."""
    n = next((k + 1 for k, t in enumerate(ids) if t in eos_ids), len(ids))
    text = tokenizer.decode(ids[:n], skip_special_tokens=True)
    hits = [(text.find(s), s) for s in stop if s and s in text]
    if hits:
        pos, s = min(hits)
        for k in range(1, n + 1):
            if len(tokenizer.decode(ids[:k], skip_special_tokens=True)) >= pos + len(s):
                return text[:pos + len(s)], k
    while n > 0 and pad_id not in eos_ids and ids[n - 1] == pad_id:
        n -= 1
    return text, n


def test_response_end_matches_linear_scan(saved_model):
    import random

    from tracesft.evaluate.hf import _response_end

    _, tok = load_model_and_tokenizer(str(saved_model))
    rng = random.Random(0)
    eos = {tok.eos_token_id}
    texts = ["12 + 7 = 19 </think> <answer> 19 </answer> more", "abc </answer>", "</answer>", "no stop here"]
    for trial in range(60):
        text = rng.choice(texts)
        ids = tok(text, add_special_tokens=False)["input_ids"]
        if trial % 3 == 0:
            ids = ids + [tok.eos_token_id] + ids[:3]
        if trial % 5 == 0:
            ids = ids + [tok.pad_token_id] * 3
        for stop in (("</answer>",), ("7",), ("19", "</think>"), ()):
            got = _response_end(tok, ids, stop, eos, tok.pad_token_id)
            assert got[:2] == _reference_end(tok, ids, stop, eos, tok.pad_token_id)
            text = tok.decode(ids, skip_special_tokens=True)
            assert got[2] == (tok.eos_token_id in ids or any(s in text for s in stop))  # ended, not cut off


def test_stop_string_starting_in_the_prompt_does_not_end_the_response(saved_model):
    model, tok = load_model_and_tokenizer(str(saved_model))
    prompt = "Add 5 and 6."
    free = log_generations(model, tok, [prompt], ["7"], stub_reward, max_new_tokens=12, stop=())["records"][0]
    # A stop string made of the prompt's last two characters and the response's first one ("6.." here).
    stop = prompt[-2:] + free["response"][:1]
    assert len(stop) == 3 and stop not in free["response"]
    cut = log_generations(model, tok, [prompt], ["7"], stub_reward, max_new_tokens=12, stop=(stop,))["records"][0]
    assert cut["response"] == free["response"] and cut["response_length"] == free["response_length"] == 12


def test_evaluator_seam_hf(saved_model):
    from tracesft.errors import UserInputError
    from tracesft.evaluate import Sampling, build_evaluator

    model, tok = load_model_and_tokenizer(str(saved_model))
    sampling = Sampling(max_new_tokens=6, stop=(), batch_size=2)
    ev = build_evaluator("hf", model_path=str(saved_model), model=model, tokenizer=tok, reward_fn=stub_reward,
                         sampling=sampling)
    got = ev.evaluate(None, PROMPTS, TRUTHS)
    want = log_generations(model, tok, PROMPTS, TRUTHS, stub_reward, max_new_tokens=6, batch_size=2, stop=())
    assert [r["response"] for r in got["records"]] == [r["response"] for r in want["records"]]
    assert got["summary"]["accuracy"] == want["summary"]["accuracy"]
    with pytest.raises(UserInputError, match="unknown evaluation backend 'tgi': not one of hf, vllm"):
        build_evaluator("tgi", model_path="m", model=None, tokenizer=None, reward_fn=stub_reward, sampling=sampling)


@pytest.mark.parametrize("wrap", ["plain", "ddp", "fsdp2", "lora-ddp"])
def test_policy_weights_for_engine_are_the_full_weights_in_the_engine_dtype(tmp_path, wrap):
    """What the vLLM sync sends: full tensors (FSDP2 shards gathered, DDP unwrapped, LoRA merged), cast,
    tied head left out."""
    import copy

    import torch.distributed as dist

    from tracesft.demo.models import tiny_qwen2
    from tracesft.evaluate.vllm import policy_weights_for_engine

    model = tiny_qwen2(vocab_size=64, hidden_size=32)
    if wrap == "lora-ddp":
        peft = pytest.importorskip("peft")
        model = peft.get_peft_model(model, peft.LoraConfig(r=2, target_modules="all-linear"))
        with torch.no_grad():
            for n, p in model.named_parameters():
                if "lora_B" in n:
                    p.normal_()
        reference = copy.deepcopy(model).merge_and_unload()
    else:
        reference = model
    expected = {k: v.detach().clone() for k, v in reference.state_dict().items() if k != "lm_head.weight"}
    dist.init_process_group("gloo", store=dist.FileStore(str(tmp_path / "store"), 1), rank=0, world_size=1)
    try:
        if wrap in ("ddp", "lora-ddp"):
            from torch.nn.parallel import DistributedDataParallel

            policy = DistributedDataParallel(model)
        elif wrap == "fsdp2":
            from torch.distributed.fsdp import fully_shard

            for layer in model.model.layers:
                fully_shard(layer)
            policy = fully_shard(model)
            assert any(hasattr(p, "full_tensor") for p in policy.parameters())  # really sharded DTensors
        else:
            policy = model
        got = dict(policy_weights_for_engine(policy, torch.bfloat16))
    finally:
        dist.destroy_process_group()
    assert set(got) == set(expected)  # tied: lm_head.weight is the embedding, which the engine ties itself
    for k, v in got.items():
        assert type(v) is torch.Tensor and v.dtype == torch.bfloat16
        if wrap == "lora-ddp":  # B A added in another order than peft's in-place merge: rounding only
            torch.testing.assert_close(v, expected[k].to(torch.bfloat16), rtol=1e-2, atol=1e-2)
        else:
            assert torch.equal(v, expected[k].to(torch.bfloat16)), k


def test_samples_per_prompt_in_one_call_reproducible_under_a_seed(saved_model):
    model, tok = load_model_and_tokenizer(str(saved_model))
    kw = dict(max_new_tokens=6, batch_size=3, stop=(), temperature=1.0, samples=4, pass_k=[2])
    out = log_generations(model, tok, PROMPTS, TRUTHS, stub_reward, seed=3, **kw)
    records = out["records"]
    assert [(r["prompt_index"], r["sample_index"]) for r in records] == [(p, s) for p in range(4) for s in range(4)]
    assert all(r["prompt"] == PROMPTS[r["prompt_index"]] and r["ground_truth"] == TRUTHS[r["prompt_index"]]
               for r in records)
    assert len({r["response"] for r in records if r["prompt_index"] == 0}) > 1  # sampled, not 4 copies
    again = log_generations(model, tok, PROMPTS, TRUTHS, stub_reward, seed=3, **kw)
    assert [r["response"] for r in again["records"]] == [r["response"] for r in records]
    other = log_generations(model, tok, PROMPTS, TRUTHS, stub_reward, seed=4, **kw)
    assert [r["response"] for r in other["records"]] != [r["response"] for r in records]
    s = out["summary"]
    assert s["n_examples"] == 4 and s["n_responses"] == 16 and s["samples_per_prompt"] == 4
    assert set(s) >= {"avg@4", "pass@1", "pass@2", "pass@4", "maj@4", "hit_max_new_tokens_rate"}
    assert s["avg@4"] == s["accuracy"] == pytest.approx(s["pass@1"])
    # No stop string and a random model: most responses run into the limit of 6 tokens.
    assert any(r["hit_max_new_tokens"] for r in records) and all(r["response_length"] <= 6 for r in records)
    from tracesft.errors import UserInputError

    with pytest.raises(UserInputError, match="temperature"):
        log_generations(model, tok, PROMPTS, TRUTHS, stub_reward, max_new_tokens=2, samples=2)
