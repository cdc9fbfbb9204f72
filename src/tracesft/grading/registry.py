"""The reward registry: one table from reward name to its function and its detailed grader.

The CLI's ``--reward`` choices and the training config's ``reward`` values are read from
:data:`REWARDS`; adding a grader is adding one entry here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import UserInputError
from .rewards import Grade, free_form_reward_fn, grade_free_form, grade_r1_zero, r1_zero_reward_fn

__all__ = ["Reward", "REWARDS", "get_reward", "default_reward_name", "detailed_grader"]


@dataclass(frozen=True)
class Reward:
    """A named grader: ``fn(response, truth) -> reward dict`` and ``grade(response, truth) -> Grade``."""

    name: str
    fn: Callable[..., dict]
    grade: Callable[..., Grade]
    summary: str


REWARDS: dict[str, Reward] = {
    "r1_zero": Reward("r1_zero", r1_zero_reward_fn, grade_r1_zero,
                      "'</think> <answer> ... </answer>' format; the answer block (its last \\boxed{}) is graded"),
    "free_form": Reward("free_form", free_form_reward_fn, grade_free_form,
                        "no tags: the last \\boxed{}, else the final paragraph's answer sentence, else 'answer is', "
                        "else the last number; claim truths (No, No solutions) read the final statement"),
}


def get_reward(name: str) -> Callable[..., dict]:
    """The reward function registered as ``name``; a one-line error listing the choices otherwise."""
    if name not in REWARDS:
        raise UserInputError(f"unknown reward {name!r}: not one of {', '.join(REWARDS)}")
    return REWARDS[name].fn


def default_reward_name(template: str) -> str:
    """The grader that matches a prompt template: free-form for ``question_only``, else R1-Zero."""
    return "free_form" if template == "question_only" else "r1_zero"


def detailed_grader(reward_fn: Callable) -> Callable[[str, object], Grade]:
    """A ``(response, truth) -> Grade`` grader for ``reward_fn``.

    A registered reward (also under ``functools.partial``, e.g. with another ``timeout``) maps to its
    detailed grader with the same bound arguments, so the extracted answer and ``timed_out`` survive;
    any other reward function gets a Grade built from its reward dict (answer unknown).
    """
    args, keywords, base = (), {}, reward_fn
    while isinstance(base, functools.partial):
        args, keywords = base.args + args, {**base.keywords, **keywords}
        base = base.func
    for reward in REWARDS.values():
        if base is reward.fn:
            return functools.partial(reward.grade, *args, **keywords) if (args or keywords) else reward.grade

    def grade(response, truth):
        r = reward_fn(response, truth)
        return Grade(bool(r["format_reward"]), bool(r["answer_reward"]), None)

    return grade
