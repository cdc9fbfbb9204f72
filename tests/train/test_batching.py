"""Batching: examples tokenized once, collated like tokenize_prompt_and_output; the epoch plan;
resuming mid-epoch and splitting steps over ranks."""

import json

import torch

from tracesft.demo.task import DEMO_TEMPLATE
from tracesft.train.batching import build_train_set, collate, epoch_plan


def test_epoch_plan_deterministic_and_complete():
    lengths = [5, 9, 3, 7, 7, 2, 8, 1, 4, 6, 10]
    plan = epoch_plan(lengths, 2, 2, seed=0, epoch=0)
    assert plan == epoch_plan(lengths, 2, 2, seed=0, epoch=0)
    assert plan != epoch_plan(lengths, 2, 2, seed=0, epoch=1)
    flat = sorted(i for step in plan for mb in step for i in mb)
    assert flat == list(range(11))
    assert all(len(step) <= 2 and all(len(mb) <= 2 for mb in step) for step in plan)


def test_collate_matches_tokenize_prompt_and_output(setup_dir):
    from tracesft import tokenize_prompt_and_output
    from tracesft.evaluate import load_model_and_tokenizer

    _, tok = load_model_and_tokenizer(str(setup_dir / "model"))
    records = [json.loads(line) for line in (setup_dir / "train.jsonl").read_text().splitlines()][:5]
    prompts = [DEMO_TEMPLATE.replace("{question}", r["prompt"]) for r in records]
    responses = [r["response"] for r in records]
    for max_length in (96, 60):  # 60 truncates some responses
        ts = build_train_set(prompts, responses, tok, max_length)
        got = collate([ts[i] for i in range(len(ts))], tok.pad_token_id)
        want = tokenize_prompt_and_output(prompts, responses, tok, max_length)
        for key in ("input_ids", "labels", "response_mask"):
            assert torch.equal(got[key], want[key]), key
        assert got["n_tokens"] == sum(ts.lengths)
        assert got["n_padding"] == int((~torch.ones_like(want["labels"], dtype=torch.bool)).sum()) + \
            sum(max(ts.lengths) - n for n in ts.lengths)


def test_train_data_resumes_mid_epoch_and_splits_ranks():
    from tracesft.train.batching import TrainData, TrainSet

    ts = TrainSet([[1, 2, 3][: 2 + i % 2] for i in range(10)], [1] * 10, 0, 0)
    one = TrainData(ts, micro_batch_size=2, accumulation=2, seed=3)
    steps = list(one.epoch(0))
    assert sorted(len(s) for s in steps) == [1, 2, 2]
    assert [s[0]["input_ids"].tolist() for s in one.epoch(0, start=1)] == [s[0]["input_ids"].tolist()
                                                                           for s in steps[1:]]
    ranks = [TrainData(ts, micro_batch_size=2, accumulation=1, world_size=2, rank=r, seed=3) for r in (0, 1)]
    # The same global steps; the short one is dropped under 2 ranks (each needs its micro-batch).
    assert ranks[0].plan(0) == [s for s in one.plan(0) if len(s) == 2] and len(ranks[0].plan(0)) == 2
    for data in ranks:
        assert [len(s) for s in data.epoch(0)] == [1, 1]
