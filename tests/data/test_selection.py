import pytest

from tracesft.data.selection import held_out_count, split_held_out, take_subset
from tracesft.errors import UserInputError


def test_held_out_split_is_seeded_disjoint_and_in_file_order():
    items = list(range(100))
    train, held = split_held_out(items, 0.2, seed=3)
    assert len(held) == 20 and len(train) == 80 and sorted(train + held) == items
    assert held == sorted(held) and train == sorted(train)
    assert (train, held) == split_held_out(items, 0.2, seed=3)
    assert held != split_held_out(items, 0.2, seed=4)[1]
    assert split_held_out(items, 7, seed=3)[1].__len__() == 7
    assert split_held_out(items, 0, seed=3) == (items, [])


def test_subsets_are_seeded_and_nested():
    items = list(range(50))
    small, large = take_subset(items, 10, seed=1), take_subset(items, 20, seed=1)
    assert len(small) == 10 and set(small) <= set(large) and small == sorted(small)
    assert take_subset(items, 10, seed=2) != small
    assert take_subset(items, None, seed=1) == items and take_subset(items, 50, seed=1) == items


@pytest.mark.parametrize("call, message", [
    (lambda: take_subset(list(range(5)), 6, 0), "subset=6 but only 5 training examples"),
    (lambda: held_out_count(1.0, 5) and held_out_count(5, 5), "holds out 5 of 5"),
    (lambda: held_out_count(2.5, 10), "a fraction in \\(0, 1\\) or a whole count"),
    (lambda: held_out_count(0.01, 10), "holds out 0 of 10"),
])
def test_selection_errors_are_one_line(call, message):
    with pytest.raises(UserInputError, match=message):
        call()
