"""`tracesft iterate` generating on vLLM (``make test`` runs this in .venv-vllm with ``--vllm``; CPU
build): one round, K=2, at a temperature so low that both backends sample the greedy response, so
every sample, and both evaluations, must equal HF greedy generation token for token."""

import json

import pytest

pytestmark = pytest.mark.vllm


def _jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _hf_greedy(model_dir, prompts, max_new_tokens):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tracesft.evaluate.hf import log_generations
    from tracesft.grading import r1_zero_reward_fn

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    out = log_generations(model, tok, prompts, ["3"] * len(prompts), r1_zero_reward_fn, max_new_tokens=max_new_tokens)
    return [r["response"] for r in out["records"]]


def test_iterate_samples_and_evaluates_on_vllm_as_hf_greedy(tmp_path):
    from helpers.iterate import build_iterate_dir, iterate_values

    from tracesft.grading import r1_zero_reward_fn
    from tracesft.iterate.config import config_from_mapping
    from tracesft.iterate.loop import run_iterate

    # one attention head of 32 dimensions: vLLM's CPU attention supports no smaller head
    root = build_iterate_dir(tmp_path, seed_steps=60, num_attention_heads=1, num_key_value_heads=1)
    values = iterate_values(root, rounds=1, samples_per_prompt=2, keep_per_prompt=2, temperature=1e-6)
    values["eval_backend"] = "vllm"
    out = tmp_path / "out"
    summary = run_iterate(config_from_mapping(values), str(out), quiet=True)
    n = values["eval_max_new_tokens"]

    samples = _jsonl(out / "round-1" / "samples.jsonl")
    questions = _jsonl(root / "questions.jsonl")
    assert [(r["prompt_index"], r["sample_index"]) for r in samples] == [(q, s) for q in range(8) for s in range(2)]
    prompts = [samples[2 * q]["prompt"] for q in range(8)]
    assert [r["question"] for r in samples[::2]] == [q["prompt"] for q in questions]
    greedy = _hf_greedy(root / "seed" / "final", prompts, n)
    assert [r["response"] for r in samples] == [g for g in greedy for _ in range(2)]
    for r in samples:  # each grade is the grader's on its response, and its why follows from it
        assert r["reward"] == r1_zero_reward_fn(r["response"], r["ground_truth"])
        if r["reward"]["reward"] == 1:  # the second sample is a copy of the first
            assert r["why"] == ("kept" if r["sample_index"] == 0 else "duplicate")
        else:
            assert r["why"] == ("bad_format" if r["reward"]["format_reward"] == 0 else "wrong_answer")
    kept = _jsonl(out / "round-1" / "kept.jsonl")
    solved = [q for q in range(8) if samples[2 * q]["reward"]["reward"] == 1]
    assert solved and [k["question_index"] for k in kept] == solved  # one per question: the copy is dropped
    assert [k["response"] for k in kept] == [greedy[q] for q in solved]
    assert summary["coverage_per_round"] == [len(solved) / 8] and summary["kept_per_round"] == [len(solved)]

    for round_n, model_dir in ((0, root / "seed" / "final"), (1, out / "round-1" / "sft" / "final")):
        gens = _jsonl(out / f"round-{round_n}" / "eval" / "generations.jsonl")
        assert json.loads((out / f"round-{round_n}" / "eval" / "summary.json").read_text())["model"] == str(model_dir)
        assert [g["response"] for g in gens] == _hf_greedy(model_dir, [g["prompt"] for g in gens], n)
