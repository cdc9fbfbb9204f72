"""Every grade names the extraction rule that read its answer and the comparator that decided, and
`tracesft filter --explain` prints both for each kept and dropped trace."""

import json

import pytest

from tracesft.cli import main
from tracesft.data import Example, filter_correct
from tracesft.grading import free_form_reward_fn, grade_free_form, grade_r1_zero

pytest.importorskip("sympy")


@pytest.mark.parametrize("response, truth, rule, comparator, correct", [
    ("So $x = \\boxed{5}$.", "5", "boxed", "string", True),
    ("We count them.\n\nThere are 29 valid strings.", "29", "final_sentence:object", "string", True),
    ("Thus the answer is $\\frac{1}{2}$.", "0.5", "final_sentence:answer_marker", "number", True),
    ("No, it is not possible.", "No", "final_sentence:yes_no", "string", True),
    ("It is impossible to tile the board.", "It is not possible", "final_statement", "claim", True),
    ("We get 3 + 4.\n#### 7", "8", "hash_marker", "number", False),
    ("The answer is $x^2 - 1$.", "(x-1)(x+1)", "final_sentence:answer_marker", "symbolic", True),
    ("The minimum cannot be determined without further information.", "3", "hedge", None, False),
    ("<think> Let me compute 2 + 2 = 4, so", "4", "cut_off", None, False),
])
def test_free_form_grade_names_its_rule_and_comparator(response, truth, rule, comparator, correct):
    g = grade_free_form(response, truth)  # through the worker: provenance crosses the process boundary
    assert (g.rule, g.comparator, g.correct) == (rule, comparator, correct)
    assert rule in g.explain()


def test_r1_zero_grade_names_the_answer_tag():
    g = grade_r1_zero("2 + 3 </think> <answer> \\boxed{5} </answer>", "5")
    assert (g.rule, g.comparator, g.correct) == ("answer_tag:boxed", "string", True)
    g = grade_r1_zero("2 + 3 </think> <answer> The answer is 5. </answer>", "5")
    assert (g.rule, g.correct) == ("answer_tag_sentence:final_sentence:answer_marker", True)
    assert grade_r1_zero("no tags", "5").rule is None


def test_filter_report_counts_decisions_per_rule_and_comparator():
    examples = [Example("q", "So the answer is $\\boxed{2}$.", "2", {"source": "f:1"}),
                Example("q", "So the answer is $\\boxed{3}$.", "2", {"source": "f:2"}),
                Example("q", "There are 5 ways.", "5", {"source": "f:3"})]
    kept, report = filter_correct(examples, free_form_reward_fn, workers=1, explain=True)
    assert len(kept) == 2
    assert report.by_rule == {"boxed": {"kept": 1, "dropped": 1}, "final_sentence:object": {"kept": 1, "dropped": 0}}
    assert report.by_comparator == {"string": {"kept": 2, "dropped": 0}, "number": {"kept": 0, "dropped": 1}}
    assert report.explanations[1].startswith("dropped  f:2  wrong_answer: answer '3' (rule boxed); not equal "
                                             "(comparator number); truth '2'")
    assert "explanations" not in report.to_dict()


def test_filter_explain_prints_each_decision(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    rows = [{"prompt": "1+1?", "response": "The answer is 2.", "ground_truth": "2"},
            {"prompt": "2+2?", "response": "The answer is 5.", "ground_truth": "4"},
            {"prompt": "3+3?", "response": "I cannot say without further information.", "ground_truth": "6"}]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "kept.jsonl"
    assert main(["filter", str(src), "--out", str(out), "--template", "question_only", "--quiet", "--explain"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        f"kept     {src}:1  answer '2' (rule final_sentence:answer_marker); equal (comparator string)",
        f"dropped  {src}:2  wrong_answer: answer '5' (rule final_sentence:answer_marker); not equal "
        "(comparator number); truth '4'",
        f"dropped  {src}:3  bad_format: no answer (rule hedge); truth '6'",
    ]
    report = json.loads((tmp_path / "kept.report.json").read_text())
    assert report["by_rule"]["final_sentence:answer_marker"] == {"kept": 1, "dropped": 1}
    assert report["by_rule"]["hedge"] == {"kept": 0, "dropped": 1}
