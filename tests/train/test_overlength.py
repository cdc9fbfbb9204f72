"""The over-length policy: an example over max_length is dropped, truncated or refused, and the
counts say how many lost (or would have lost) their </think> or answer; auto drops under an answer block."""

import json

import pytest
from helpers.char_tokenizer import CharTokenizer
from helpers.train import make_cfg

from tracesft.data import QUESTION_ONLY, R1_ZERO
from tracesft.errors import DataError
from tracesft.train import train
from tracesft.train.batching import build_train_set
from tracesft.train.builders import resolve_overlength

PROMPTS = ["Q1:", "Q2:", "Q3:", "Q4:"]
RESPONSES = ["ab </think> <answer>1</answer>",          # 32 tokens with the BOS: fits 40
             "a much longer line of thought here </think> <answer>2</answer>",  # cut inside the reasoning
             "short </think> <answer>a rather long answer</answer>",  # </think> fits 40, the answer does not
             "no tags at all, but long enough to be over the limit"]


def test_drop_truncate_error_and_lost_counts():
    tok = CharTokenizer()
    lengths = [1 + len(p) + len(r) for p, r in zip(PROMPTS, RESPONSES)]
    assert lengths[0] <= 40 and all(n > 40 for n in lengths[1:])
    drop = build_train_set(PROMPTS, RESPONSES, tok, 40, overlength="drop")
    assert len(drop) == 1 and drop.n_overlength == 3 and drop.n_dropped_overlength == 3 and drop.n_truncated == 0
    assert drop.lost == {"</think>": 1, "</answer>": 2}
    cut = build_train_set(PROMPTS, RESPONSES, tok, 40, overlength="truncate")
    assert len(cut) == 4 and cut.n_truncated == 3 and cut.lost == drop.lost
    assert all(len(ids) <= 40 for ids in cut.input_ids)
    with pytest.raises(DataError, match="^training example 1: 66 tokens, over max_length=40"):
        build_train_set(PROMPTS, RESPONSES, tok, 40, overlength="error")
    with pytest.raises(DataError, match="^data.jsonl:2: 66 tokens"):
        build_train_set(PROMPTS, RESPONSES, tok, 40, overlength="error",
                        sources=[f"data.jsonl:{i}" for i in range(1, 5)])
    assert len(build_train_set(PROMPTS, RESPONSES, tok, 200, overlength="error")) == 4


def test_auto_drops_under_an_answer_block():
    assert resolve_overlength("auto", R1_ZERO, ["x"]) == "drop"
    assert resolve_overlength("auto", QUESTION_ONLY, ["r </think> a"]) == "drop"
    assert resolve_overlength("auto", QUESTION_ONLY, ["free-form, \\boxed{2}"]) == "truncate"
    assert resolve_overlength("error", R1_ZERO, ["x"]) == "error"


def test_counts_reach_the_summary(setup_dir, tmp_path):
    summary = train(make_cfg(setup_dir, tmp_path / "run", max_length=100, max_steps=1, eval_data=None,
                             overlength="drop", gradient_accumulation_steps=1))
    over = summary["overlength"]
    assert over["policy"] == "drop" and over["n_over_max_length"] > 0 and over["n_dropped"] == over["n_over_max_length"]
    assert {"n_would_lose_think", "n_would_lose_answer"} <= over.keys()
    assert summary["n_train"] == json.loads((tmp_path / "run" / "summary.json").read_text())["n_train"]


def test_a_run_from_before_the_policy_resumes_truncating(tmp_path):
    from tracesft.cli import _predates_overlength

    (tmp_path / "config.yaml").write_text("model: m\nmax_length: 96\n")
    assert _predates_overlength(tmp_path)  # --resume adds overlength=truncate (what such runs did)
    (tmp_path / "config.yaml").write_text("model: m\noverlength: auto\n")
    assert not _predates_overlength(tmp_path)
    (tmp_path / "config.yaml").write_text("model: [unclosed\n")
    assert not _predates_overlength(tmp_path)  # load_config reports it, naming the checkpoint's copy
