"""A synthetic reasoning task: addition and subtraction word problems with digit-by-digit traces.

The "noisy teacher" makes mistakes of one of two kinds, as model-written traces do; filtering must
drop them:

- ``random``: a correct worked trace, but for a known share of problems (25% by default) a final
  answer off by a small amount. The mistakes are noise: a model trained on all traces learns the
  majority behaviour anyway, so filtering buys little;
- ``carry``: on a known share of the problems whose columns need a carry (or a borrow), the teacher
  forgets it, consistently, through the whole trace and into its answer. The mistake is a
  systematic habit, which a model trained on all traces learns; filtering removes it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Problem", "make_problem", "worked_trace", "trace_answer", "make_dataset", "DEMO_TEMPLATE"]

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


def make_problem(rng: random.Random, max_digits: int = 3, word_problems: bool = True, ops: str = "+-") -> Problem:
    a = rng.randint(10, 10**max_digits - 1)
    b = rng.randint(1, 10**rng.randint(1, max_digits) - 1)
    op = rng.choice(ops)
    if op == "-" and b > a:
        a, b = b, a
    templates = _ADD if op == "+" else _SUB
    template = rng.choice(templates if word_problems else templates[1:2])
    question = template.format(name=rng.choice(_NAMES), item=rng.choice(_ITEMS), a=a, b=b)
    return Problem(question, a, b, op)


def _drop_last(digits: str) -> str:
    return digits[:-1] or "0"


def worked_trace(p: Problem, forget_carry: bool = False) -> str:
    """Column arithmetic from the units up, every step local to the text just before it.

    Each step restates what is left of both numbers, the carry (or borrow) and the result digits so
    far, then works one column: ``347+85 c0 r: 7+5+0=12 | 34+8 c1 r2: 4+8+1=13 | 3+0 c1 r32:
    3+0+1=4 | 0+0 c0 r432 |``. A small model learns this quickly because no step needs to count
    positions far back in the text. ``forget_carry`` writes the teacher's systematic mistake: every
    carry (borrow) is dropped, so the result is wrong whenever a column needed one.
    """
    a, b, carry, result = str(p.a), str(p.b), 0, ""
    tag = "c" if p.op == "+" else "b"
    parts = []
    while a != "0" or b != "0":
        x, y = int(a[-1]), int(b[-1])
        if p.op == "+":
            s = x + y + carry
            digit, new_carry = s % 10, s // 10
        else:
            s = x - y - carry
            digit, new_carry = (s + 10, 1) if s < 0 else (s, 0)
        parts.append(f"{a}{p.op}{b} {tag}{carry} r{result}: {x}{p.op}{y}{p.op}{carry}={s}")
        a, b, result = _drop_last(a), _drop_last(b), f"{digit}{result}"
        carry = 0 if forget_carry else new_carry
    parts.append(f"0{p.op}0 {tag}{carry} r{str(carry) if carry else ''}{result}")
    return " | ".join(parts) + " |"


def trace_answer(trace: str) -> int:
    """The result a worked trace arrives at (its final ``r`` digits), right or wrong."""
    return int(trace.rsplit(" r", 1)[1].split(" ")[0] or "0")


def make_dataset(n: int, seed: int, wrong_share: float = 0.25, max_digits: int = 3,
                 word_problems: bool = True, mistake: str = "random", ops: str = "+-") -> list[dict]:
    """n records {prompt, response, ground_truth, teacher_correct}. With ``mistake="random"``,
    ``wrong_share`` of the teacher's final answers are off by a small nonzero amount; with
    ``"carry"``, the teacher forgets every carry (borrow) in ``wrong_share`` of its traces, which is
    wrong exactly on the problems that need one. ``ops``: the operations drawn from ("+-", "+" or "-")."""
    if mistake not in ("random", "carry"):
        raise ValueError(f"mistake must be 'random' or 'carry', got {mistake!r}")
    rng = random.Random(seed)
    records = []
    for _ in range(n):
        p = make_problem(rng, max_digits, word_problems, ops)
        answer, trace = p.answer, worked_trace(p)
        if mistake == "random" and rng.random() < wrong_share:
            answer += rng.choice([-1, 1]) * rng.choice([1, 2, 10, 100])
        elif mistake == "carry" and rng.random() < wrong_share:
            trace = worked_trace(p, forget_carry=True)
            answer = trace_answer(trace)
        wrong = answer != p.answer
        response = f" {trace} </think> <answer> {answer} </answer>"
        records.append({"prompt": p.question, "response": response, "ground_truth": str(p.answer),
                        "teacher_correct": not wrong})
    return records
