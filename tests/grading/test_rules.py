"""Each extraction rule, sentence reader and comparator on its own examples (the data beside it in
the tables), alone: a failure names the rule that broke. Then each rule's examples through the whole
pipeline, which must be decided by that rule (the table's order is the precedence)."""

import pytest

from tracesft.grading.equivalence import COMPARATORS, SCALAR_COMPARATORS, _Deadline, answers_equivalent
from tracesft.grading.rewards import STATEMENT_COMPARATORS
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
    pytest.param(s, t, eq, id=c.name) for c in STATEMENT_COMPARATORS for s, t, eq in c.examples])
def test_statement_comparator_decides_its_example(statement, truth, equal):
    from tracesft.grading import grade_free_form

    g = grade_free_form(statement, truth)
    assert g.correct == equal and g.rule == "final_statement"


# Classes of real-trace failure fixed in issue 24, on hand-written traces (not the labelled rows).
@pytest.mark.parametrize("response, truth, rule", [
    # a claim concluded in the solution's last sentence, not its final paragraph's first one
    ("We reduce modulo 8.\n\nThe left side is 5, 6 or 2 mod 8. Squares are 0, 1 or 4 mod 8. Since none match, "
     "we conclude that there are no integer solutions to the equation.", "No integer solutions", "conclusion"),
    ("Each vertex sum would be 19.5. Therefore, it is impossible to label the edges this way.", "No", "conclusion"),
    # a back-reference after the answer ("This is the final answer.") is an afterword
    ("Summing the cubes:\n\nTotal number of ways = (n(n+1)/2)^2\n\nThis is the final answer.", "(n(n+1)/2)^2",
     "final_sentence:object"),
    # a count leading the sentence
    ("Every query covers three numbers.\n\nTherefore, at least 50 questions are needed to find the product.", "50",
     "final_sentence:leading_count"),
    # yes after a connective
    ("We know a^3 > 27000.\n\nSo, yes, a > 30.", "Yes", "final_sentence:yes_no"),
])
def test_real_trace_classes(response, truth, rule):
    from tracesft.grading import grade_free_form

    g = grade_free_form(response, truth)
    assert g.correct and g.rule == rule, g


@pytest.mark.parametrize("response, truth", [
    ("We reduce modulo 8.\n\nThe left side is 5 mod 8. Since 5 is a square residue here, we conclude that there "
     "are integer solutions.", "No integer solutions"),
    ("Therefore, at least 50 questions are needed.", "49"),
    ("Total number of ways = (n(n+1)/2)^2\n\nThis is the final answer.", "n(n+1)/2"),
    ("So, no, a is not greater than 30.", "Yes"),
])
def test_real_trace_classes_still_reject_wrong_answers(response, truth):
    from tracesft.grading import grade_free_form

    assert not grade_free_form(response, truth).correct
