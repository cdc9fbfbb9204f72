"""Seeded data selection: a held-out split and a training subset, both reproducible.

The held-out split is taken first, from the whole file, so that every subset size (and the
filtered and unfiltered runs of a sweep) is evaluated on the same examples. Subsets are nested:
with one seed, the first N of one permutation, so the 256-example subset holds the 128 one.
"""

from __future__ import annotations

import random
from typing import Sequence, TypeVar

from ..errors import UserInputError

__all__ = ["held_out_count", "split_held_out", "take_subset"]

T = TypeVar("T")


def held_out_count(test_size: float, n: int) -> int:
    """How many of ``n`` examples ``test_size`` holds out: a fraction in (0, 1) or a whole count >= 1."""
    if test_size <= 0:
        return 0
    count = round(test_size * n) if test_size < 1 else int(test_size)
    if test_size >= 1 and test_size != int(test_size):
        raise UserInputError(f"test_size: a fraction in (0, 1) or a whole count, got {test_size}")
    if count < 1 or count >= n:
        raise UserInputError(f"test_size={test_size} holds out {count} of {n} examples: "
                             "at least one must be held out and one left to train on")
    return count


def split_held_out(examples: Sequence[T], test_size: float, seed: int) -> tuple[list[T], list[T]]:
    """(train, held_out): ``held_out_count(test_size, len(examples))`` examples chosen at random
    (seeded), each list in file order."""
    count = held_out_count(test_size, len(examples))
    if count == 0:
        return list(examples), []
    chosen = set(random.Random(f"held-out:{seed}").sample(range(len(examples)), count))
    return ([e for i, e in enumerate(examples) if i not in chosen],
            [e for i, e in enumerate(examples) if i in chosen])


def take_subset(examples: Sequence[T], n: int | None, seed: int) -> list[T]:
    """A seeded random sample of ``n`` examples in file order (all of them for None); nested in n."""
    if n is None or n >= len(examples):
        if n is not None and n > len(examples):
            raise UserInputError(f"subset={n} but only {len(examples)} training examples are available")
        return list(examples)
    if n < 1:
        raise UserInputError(f"subset: must be >= 1 or 'full', got {n}")
    order = list(range(len(examples)))
    random.Random(f"subset:{seed}").shuffle(order)
    keep = set(order[:n])
    return [e for i, e in enumerate(examples) if i in keep]
