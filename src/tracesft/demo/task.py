"""A synthetic reasoning task: addition and subtraction word problems with digit-by-digit traces.

The "noisy teacher" writes a correct worked trace, but for a known share of problems (25% by
default) its final answer is wrong, as model-written traces often are; filtering must drop them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Problem", "make_problem", "worked_trace", "make_dataset", "DEMO_TEMPLATE"]

DEMO_TEMPLATE = "User: {question}\nAssistant: <think>"

_ADD = ["{name} has {a} {item} and gets {b} more. How many {item} now?",
        "What is {a} plus {b}?",
        "A box holds {a} {item}; {b} more are added. How many {item} are in it?"]
_SUB = ["{name} has {a} {item} and gives away {b}. How many {item} are left?",
        "What is {a} minus {b}?",
        "A shelf held {a} {item}; {b} were sold. How many {item} remain?"]
_NAMES = ["Ann", "Bo", "Cy", "Di", "Ed", "Flo"]
_ITEMS = ["apples", "coins", "books", "pens", "cards"]


@dataclass(frozen=True)
class Problem:
    question: str
    a: int
    b: int
    op: str

    @property
    def answer(self) -> int:
        return self.a + self.b if self.op == "+" else self.a - self.b


def make_problem(rng: random.Random, max_digits: int = 3) -> Problem:
    a = rng.randint(10, 10**max_digits - 1)
    b = rng.randint(1, 10**rng.randint(1, max_digits) - 1)
    op = rng.choice("+-")
    if op == "-" and b > a:
        a, b = b, a
    template = rng.choice(_ADD if op == "+" else _SUB)
    question = template.format(name=rng.choice(_NAMES), item=rng.choice(_ITEMS), a=a, b=b)
    return Problem(question, a, b, op)


def worked_trace(p: Problem) -> str:
    """Digit-by-digit working from the units up, e.g. ``7+5=12 w2 c1. 4+8+1=13 w3 c1. 1 w1.``"""
    da, db = str(p.a)[::-1], str(p.b)[::-1]
    steps, carry = [], 0
    for i in range(max(len(da), len(db))):
        x = int(da[i]) if i < len(da) else 0
        y = int(db[i]) if i < len(db) else 0
        if p.op == "+":
            s = x + y + carry
            steps.append(f"{x}+{y}+{carry}={s} w{s % 10} c{s // 10}.")
            carry = s // 10
        else:
            s = x - y - carry
            borrow = int(s < 0)
            steps.append(f"{x}-{y}-{carry}={s} w{s + 10 * borrow} b{borrow}.")
            carry = borrow
    if p.op == "+" and carry:
        steps.append(f"w{carry}.")
    return " ".join(steps)


def make_dataset(n: int, seed: int, wrong_share: float = 0.25, max_digits: int = 3) -> list[dict]:
    """n records {prompt, response, ground_truth, teacher_correct}; ``wrong_share`` of the teacher's
    final answers are off by a small nonzero amount."""
    rng = random.Random(seed)
    records = []
    for _ in range(n):
        p = make_problem(rng, max_digits)
        answer = p.answer
        wrong = rng.random() < wrong_share
        if wrong:
            answer += rng.choice([-1, 1]) * rng.choice([1, 2, 10, 100])
        response = f" {worked_trace(p)} </think> <answer> {answer} </answer>"
        records.append({"prompt": p.question, "response": response, "ground_truth": str(p.answer),
                        "teacher_correct": not wrong})
    return records
