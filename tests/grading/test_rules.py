"""Each extraction rule, sentence reader and comparator on its own examples (the data beside it in
the tables), alone: a failure names the rule that broke. Then each rule's examples through the whole
pipeline, which must be decided by that rule (the table's order is the precedence)."""

import pytest

from tracesft.grading.equivalence import COMPARATORS, SCALAR_COMPARATORS, _Deadline, answers_equivalent
from tracesft.grading.rules import EXTRACTION_RULES, SENTENCE_READERS, extract
from tracesft.grading.view import ResponseView

RULE_EXAMPLES = [pytest.param(r, text, want, id=f"{r.name}-{i}")
                 for r in EXTRACTION_RULES for i, (text, want) in enumerate(r.examples)]
RULE_NON_EXAMPLES = [pytest.param(r, text, id=f"{r.name}-not{i}")
                     for r in EXTRACTION_RULES for i, text in enumerate(r.non_examples)]
READER_EXAMPLES = [pytest.param(r, text, want, id=f"{r.name}-{i}")
                   for r in SENTENCE_READERS for i, (text, want) in enumerate(r.examples)]
READER_NON_EXAMPLES = [pytest.param(r, text, id=f"{r.name}-not{i}")
                       for r in SENTENCE_READERS for i, text in enumerate(r.non_examples)]


def test_every_rule_has_examples_both_ways_and_a_unique_name():
    for table in (EXTRACTION_RULES, SENTENCE_READERS):
        assert len({r.name for r in table}) == len(table)
        assert all(r.examples and r.non_examples and r.description for r in table)


@pytest.mark.parametrize("rule, text, want", RULE_EXAMPLES)
def test_rule_reads_its_example(rule, text, want):
    found = rule.read(ResponseView(text))
    assert found is not None and found.answer == want


@pytest.mark.parametrize("rule, text", RULE_NON_EXAMPLES)
def test_rule_does_not_apply_to_its_non_example(rule, text):
    assert rule.read(ResponseView(text)) is None


@pytest.mark.parametrize("rule, text, want", RULE_EXAMPLES)
def test_pipeline_decides_each_example_by_its_rule(rule, text, want):
    found = extract(text)
    assert found.answer == want and found.rule.split(":")[0] == rule.name


@pytest.mark.parametrize("reader, sentence, want", READER_EXAMPLES)
def test_sentence_reader_reads_its_example(reader, sentence, want):
    found = reader.read(sentence, True)
    assert found is not None and found.answer == want


@pytest.mark.parametrize("reader, sentence", READER_NON_EXAMPLES)
def test_sentence_reader_does_not_apply_to_its_non_example(reader, sentence):
    assert reader.read(sentence, True) is None


SCALAR_EXAMPLES = [pytest.param(c, p, g, eq, id=f"{c.name}-{i}")
                   for c in SCALAR_COMPARATORS if c.name != "symbolic" for i, (p, g, eq) in enumerate(c.examples)]


@pytest.mark.parametrize("comparator, pred, gold, equal", SCALAR_EXAMPLES)
def test_scalar_comparator_decides_its_example(comparator, pred, gold, equal):
    verdict = comparator.decide(pred, gold, _Deadline(2.0))
    assert verdict is not None and verdict.equal == equal and verdict.comparator == comparator.name


@pytest.mark.parametrize("comparator, pred, gold, equal", [
    pytest.param(c, p, g, eq, id=f"{c.name}-{i}") for c in COMPARATORS for i, (p, g, eq) in enumerate(c.examples)])
def test_comparator_decides_its_example_in_the_pipeline(comparator, pred, gold, equal):
    pytest.importorskip("sympy")
    verdict = answers_equivalent(pred, gold)
    assert verdict.equal == equal and verdict.comparator.split(":")[0] == comparator.name


@pytest.mark.parametrize("statement, truth, equal", [
    pytest.param(s, t, eq, id=c.name) for c in __import__("tracesft.grading.rewards", fromlist=["x"]).STATEMENT_COMPARATORS
    for s, t, eq in c.examples])
def test_statement_comparator_decides_its_example(statement, truth, equal):
    from tracesft.grading import grade_free_form

    g = grade_free_form(statement, truth)
    assert g.correct == equal and g.rule == "final_statement"
