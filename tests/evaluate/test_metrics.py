import itertools
import math
import random

import pytest

import tracesft
from tracesft.evaluate.metrics import (
    is_repetitive,
    length_buckets,
    multi_sample_metrics,
    normalized_answer,
    repetition_period,
    unclosed_think,
)
from tracesft.evaluate.records import summarize_records


def _brute_pass_at_k(n, c, k):
    """The share of k-subsets of n samples (c correct) holding a correct one, by enumeration."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


def test_pass_at_k_equals_formula_and_brute_force():
    for n in range(1, 9):
        for c in range(n + 1):
            for k in range(1, n + 1):
                got = tracesft.pass_at_k(n, c, k)
                assert got == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k), abs=1e-12)
                assert got == pytest.approx(_brute_pass_at_k(n, c, k), abs=1e-12)
    assert tracesft.pass_at_k(5, 2, 1) == pytest.approx(0.4)  # pass@1 = c / n


def test_pass_at_k_large_n_is_stable_and_bad_arguments():
    # C(1000, 500) overflows a float; the product form does not.
    assert tracesft.pass_at_k(1000, 1, 500) == pytest.approx(0.5)
    assert 0.0 < tracesft.pass_at_k(2000, 3, 10) < 1.0
    for args in ((4, 5, 1), (4, -1, 1), (4, 2, 0), (4, 2, 5)):
        with pytest.raises(ValueError):
            tracesft.pass_at_k(*args)


def test_majority_vote_ties_and_no_answers():
    assert tracesft.majority_vote(["3", "4", "4", "3"]) == "3"  # a tie: the first to occur
    assert tracesft.majority_vote(["4", "3", "3", "4"]) == "4"
    assert tracesft.majority_vote([None, None, "5", "6", "6"]) == "6"  # None does not vote
    assert tracesft.majority_vote([None, None]) is None and tracesft.majority_vote([]) is None
    # Random lists against a direct count.
    rng = random.Random(0)
    for _ in range(200):
        answers = [rng.choice(["a", "b", "c", None]) for _ in range(rng.randint(0, 7))]
        voting = [a for a in answers if a is not None]
        got = tracesft.majority_vote(answers)
        if not voting:
            assert got is None
            continue
        best = max(voting.count(a) for a in voting)
        assert voting.count(got) == best and voting.index(got) == min(voting.index(a) for a in voting
                                                                        if voting.count(a) == best)


def test_normalized_answers_vote_together():
    votes = [normalized_answer(a) for a in ["\\frac12", "$\\frac{1}{2}$", "0.5", " ", None]]
    assert votes[0] == votes[1] and votes[3] is None and votes[4] is None
    assert tracesft.majority_vote(votes) == votes[0]


def test_repetition_definition():
    assert repetition_period("The answer is 4. " + "so 4 = 4 and " * 6) == len("so 4 = 4 and ")
    assert is_repetitive("x" * 48) and not is_repetitive("x" * 47)  # the minimum tail length
    assert is_repetitive("abc" * 16 + "ab")  # the last unit cut off by the token limit
    unit = "a long unit of forty chars, mostly prose"  # 40 characters: 3 repeats needed
    assert len(unit) == 40
    assert not is_repetitive("start " + unit * 2) and is_repetitive("start " + unit * 3)
    assert not is_repetitive("</think> <answer> 19 </answer>")
    assert not is_repetitive("We add 12 and 7 to get 19, then check: 19 - 7 = 12. So the answer is 19.")
    assert is_repetitive("x" * 10000 + "ab" * 30 + "\n  ")  # trailing whitespace is ignored
    assert repetition_period("z" * 200, max_period=1) == 1


def test_unclosed_think():
    assert unclosed_think("Q: 1+1? <think>", "1 plus 1 is")
    assert not unclosed_think("Q: 1+1? <think>", "1 plus 1 </think> <answer> 2 </answer>")
    assert not unclosed_think("Q: 1+1?", "2")
    assert unclosed_think("Q", "<think> a </think> again <think> b")


def _rec(p, s, correct, answer=None, length=5, **kw):
    return {"prompt_index": p, "sample_index": s, "prompt": "q <think>", "response": "r </think>",
            "reward": {"answer_reward": float(correct), "format_reward": 1.0, "reward": float(correct)},
            "answer_normalized": answer, "response_length": length, "mean_token_entropy": 0.0, **kw}


def test_multi_sample_metrics_by_hand():
    records = [
        # prompt 0: 1 of 4 correct; majority "7" is wrong
        _rec(0, 0, True, "5", 10), _rec(0, 1, False, "7", 20), _rec(0, 2, False, "7", 30), _rec(0, 3, False, None, 40),
        # prompt 1: 2 of 4 correct, a tie 2 vs 2 won by the first ("3", correct)
        _rec(1, 0, True, "3", 50), _rec(1, 1, False, "4", 60, hit_max_new_tokens=True),
        _rec(1, 2, True, "3", 70), _rec(1, 3, False, "4", 100, hit_max_new_tokens=True, no_answer=True),
    ]
    m = multi_sample_metrics(records, pass_k=[2, 9], max_new_tokens=100)
    assert m["samples_per_prompt"] == 4 and m["n_prompts"] == 2 and m["n_responses"] == 8
    assert m["avg@4"] == pytest.approx(3 / 8)
    assert m["pass@1"] == pytest.approx((1 / 4 + 2 / 4) / 2)
    assert m["pass@2"] == pytest.approx(((1 - 3 / 6) + (1 - 1 / 6)) / 2)  # C(3,2)/C(4,2), C(2,2)/C(4,2)
    assert m["pass@4"] == 1.0 and "pass@9" not in m
    assert m["maj@4"] == 0.5
    assert m["solve_rate_histogram"] == [0, 1, 1, 0, 0]
    assert m["hit_max_new_tokens_rate"] == 0.25 and m["no_answer_rate"] == 0.125
    assert m["unclosed_think_rate"] == 0.0 and m["repetition_rate"] == 0.0
    assert m["length_buckets"] == [{"lo": 0, "hi": 25, "count": 2, "accuracy": 0.5},
                                   {"lo": 26, "hi": 50, "count": 3, "accuracy": pytest.approx(1 / 3)},
                                   {"lo": 51, "hi": 75, "count": 2, "accuracy": 0.5},
                                   {"lo": 76, "hi": 100, "count": 1, "accuracy": 0.0}]
    assert m["length_percentiles"]["correct"]["p50"] == 50
    assert m["length_percentiles"]["incorrect"]["p10"] == pytest.approx(24)  # 20,30,40,60,100: 20 + 0.4*(30-20)


def test_summary_of_single_sample_records_without_indices():
    records = [_rec(0, 0, True, "1"), _rec(0, 0, False, "2")]
    for r in records:
        del r["prompt_index"], r["sample_index"]
    s = summarize_records(records)
    assert s["n_examples"] == 2 and s["samples_per_prompt"] == 1
    assert s["accuracy"] == s["avg@1"] == s["pass@1"] == s["maj@1"] == 0.5
    assert summarize_records([])["n_examples"] == 0


def test_length_buckets_cover_everything():
    records = [_rec(0, i, i % 2 == 0, length=n) for i, n in enumerate([0, 1, 3, 4, 7, 8, 9])]
    rows = length_buckets(records, max_new_tokens=8)
    assert sum(r["count"] for r in rows) == len(records)
    assert [(r["lo"], r["hi"]) for r in rows] == [(0, 2), (3, 4), (5, 6), (7, 8)]
