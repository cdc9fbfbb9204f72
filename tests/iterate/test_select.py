"""Which samples a round keeps: correct ones, deduplicated, M per question, shortest or seeded random."""

import pytest

from tracesft.iterate.select import dedup_key, select_kept, solve_counts


def rec(q, s, response, correct=True, fmt=True, length=None, timed_out=False):
    return {"prompt_index": q, "sample_index": s, "response": response,
            "response_length": len(response.split()) if length is None else length, "timed_out": timed_out,
            "reward": {"format_reward": float(fmt), "answer_reward": float(correct),
                       "reward": float(fmt and correct)}}


def test_dedup_keeps_one_of_equal_responses_and_at_most_m():
    records = [rec(0, 0, "a b </answer>"), rec(0, 1, "a  b\n</answer>"), rec(0, 2, "c d e </answer>"),
               rec(0, 3, "f </answer>"), rec(1, 0, "x </answer>", correct=False)]
    kept = select_kept(records, keep_per_prompt=2, prefer="shortest", seed=0)
    assert [r["response"] for r in kept] == ["f </answer>", "a b </answer>"]  # shortest first, the copy dropped
    assert [r["why"] for r in records] == ["kept", "duplicate", "beyond_keep_per_prompt", "kept", "wrong_answer"]
    assert dedup_key(" a \t b ") == "a b"


def test_prefer_shortest_by_tokens_then_characters_then_order():
    records = [rec(0, 0, "long one", length=9), rec(0, 1, "bb", length=3), rec(0, 2, "a", length=3),
               rec(0, 3, "c", length=3)]
    kept = select_kept(records, keep_per_prompt=1, prefer="shortest", seed=0)
    assert [r["sample_index"] for r in kept] == [2]  # 3 tokens, 1 character, first of the two


def test_prefer_random_is_seeded_and_varies_with_the_seed():
    def pick(seed):
        records = [rec(0, i, f"r{i}") for i in range(8)]
        return [r["sample_index"] for r in select_kept(records, keep_per_prompt=3, prefer="random", seed=seed)]

    assert pick(1) == pick(1)
    assert len({tuple(pick(s)) for s in range(6)}) > 1


def test_verdicts_of_failures_and_solve_counts():
    records = [rec(0, 0, "x", correct=False, fmt=False), rec(0, 1, "y", correct=False, timed_out=True),
               rec(0, 2, "z", correct=False), rec(1, 0, "w")]
    kept = select_kept(records, keep_per_prompt=1, prefer="shortest", seed=0)
    assert [r["why"] for r in records] == ["bad_format", "timed_out", "wrong_answer", "kept"]
    assert [r["prompt_index"] for r in kept] == [1]
    assert solve_counts(records) == {0: (0, 3), 1: (1, 1)}


def test_keep_per_prompt_below_one_is_refused():
    with pytest.raises(ValueError, match="keep_per_prompt"):
        select_kept([rec(0, 0, "a")], keep_per_prompt=0, prefer="shortest", seed=0)


def test_hinted_question_fills_both_fields_in_one_pass():
    from tracesft.iterate.loop import hinted_question

    assert hinted_question("{question}\n(The correct answer is {answer}.)", "Is {answer} 2?", ["5", "6"]) == \
        "Is {answer} 2?\n(The correct answer is 5.)"
    assert hinted_question("Answer {answer}. {question}", "q", 7) == "Answer 7. q"
