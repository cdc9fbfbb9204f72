import sys
import threading
import time

import pytest

from tracesft.grading import (
    DEFAULT_TIMEOUT_S,
    answers_equivalent,
    extract_free_form_answer,
    extract_r1_zero_answer,
    free_form_reward_fn,
    grade_free_form,
    grade_many,
    grade_r1_zero,
    gsm8k_ground_truth,
    last_boxed,
    math_ground_truth,
    r1_zero_reward_fn,
    sandbox,
)


def r1(answer: str) -> str:
    return f"Let me think step by step. </think> <answer> {answer} </answer>"


# (answer inside <answer>, ground truth, expected correct). Written by hand.
CASES = [
    # integers
    ("18", "18", True), ("18", "19", False), ("-7", "-7", True), ("-7", "7", False), ("+5", "5", True),
    ("007", "7", True), ("1,000", "1000", True), ("1,234,567", "1234567", True), ("1{,}000", "1000", True),
    ("10000", "1000", False), ("0", "0", True), ("0", "-0", True), ("12.", "12", True), ("1 000", "1000", True),
    # decimals and fractions
    ("0.5", r"\frac{1}{2}", True), ("1/2", "0.5", True), (r"\dfrac{1}{2}", "1/2", True), (r"\tfrac12", "0.5", True),
    (r"\frac12", r"\frac{1}{2}", True), ("0.50", "0.5", True), (".5", "0.5", True), ("2.5", r"\frac{5}{2}", True),
    ("0.33", r"\frac{1}{3}", False), ("0.3333", "1/3", False), (r"\frac{2}{4}", r"\frac{1}{2}", True),
    (r"\frac{3}{4}", r"\frac{4}{3}", False), (r"-\frac{1}{2}", "-0.5", True), (r"\frac{-1}{2}", "-1/2", True),
    ("3/4", "0.75", True), ("0.75", "0.7", False), ("1.25", r"\frac{5}{4}", True), ("1.0", "1", True),
    (r"\frac{1}{2^{99}}", r"\frac{1}{2^{98}}", False), ("1/2^99", "1/2^98", False), ("1/2^99", r"2^{-99}", True),
    (r"\frac{10}{4}", "2.5", True), ("22/7", r"\pi", False), ("3.14", r"\pi", False), ("3.14159", r"\pi", False),
    # percents, degrees, money, units
    (r"10\%", "10", True), ("10%", "10", True), ("25", r"25\%", True), (r"30^\circ", "30", True),
    (r"30^{\circ}", "30", True), ("45°", "45", True), (r"\$18", "18", True), ("$18.00$", "18", True),
    (r"5\text{ cm}", "5", True), ("5 cm", "5", True), ("18 dollars", "18", True), ("12 cm^2", "12", True),
    (r"6 \text{ apples}", "6", True), ("7 cm", "5", False), (r"50\%", "0.5", False), (r"\text{18}", "18", True),
    (r"\textbf{42}", "42", True), ("100 meters", "100", True), ("3 hours", "4", False),
    # LaTeX forms
    (r"\left( 1, 2 \right)", "(1,2)", True), (r"\sqrt{2}", r"\sqrt2", True), (r"\frac{\sqrt{2}}{2}", r"\frac{1}{\sqrt{2}}", True),
    (r"2\sqrt{3}", r"\sqrt{12}", True), (r"\sqrt{3}", r"\sqrt{2}", False), (r"\frac{\sqrt3}{3}", r"\frac{1}{\sqrt{3}}", True),
    (r"\pi", r"\pi", True), (r"2\pi", r"\pi", False), (r"\frac{\pi}{2}", r"\frac{1}{2}\pi", True),
    (r"\pi/4", r"\frac{\pi}{4}", True), (r"\!\!18", "18", True), (r"\displaystyle\frac{1}{3}", "1/3", True),
    (r"e^{2}", r"e^2", True), (r"\infty", r"\infty", True), (r"-\infty", r"\infty", False),
    (r"\sqrt{8}", r"2\sqrt{2}", True), (r"3\sqrt{2}", r"\sqrt{18}", True), (r"\sqrt{2}+1", r"1+\sqrt{2}", True),
    (r"\sqrt{2}-1", r"1-\sqrt{2}", False), ("sqrt(2)/2", r"\frac{\sqrt{2}}{2}", True), ("2^10", "1024", True),
    (r"\binom{5}{2}", "10", True), ("5!", "120", True), (r"\log_2 8", "3", True), (r"\ln(e^3)", "3", True),
    # expressions
    ("2^(n-1)", "2^{n-1}", True), ("2^{n-1}", r"\frac{2^n}{2}", True), ("2^{n+1}", "2^{n-1}", False),
    ("x^2+2x+1", "(x+1)^2", True), ("(x+1)^2", "x^2+1", False), ("2x+3", "3+2x", True), ("2x+3", "2x-3", False),
    (r"\frac{x}{2}", "x/2", True), ("n(n+1)/2", r"\frac{n^2+n}{2}", True), ("n(n-1)/2", r"\frac{n^2+n}{2}", False),
    ("a+b", "b+a", True), ("a-b", "b-a", False), ("1-1/e", "1+1/e", False), ("1-1/e", r"1-e^{-1}", True),
    (r"1-\frac{1}{e}", r"\frac{e-1}{e}", True), (r"\sin^2 x + \cos^2 x", "1", True), ("3n", "n3", True),
    (r"\frac{n(n+1)(2n+1)}{6}", r"\frac{2n^3+3n^2+n}{6}", True), ("4ab", "4ba", True), ("x^3", "x^2", False),
    (r"2^{100}", r"4^{50}", True), (r"2^{100}", r"2^{99}", False), ("9^9", "387420489", True),
    # tuples, intervals, sets, lists
    ("(1,2)", "(1, 2)", True), ("(2,1)", "(1,2)", False), ("(1,2,3)", "(1,2)", False), ("[0,1)", "[0,1)", True),
    ("[0,1)", "[0,1]", False), ("(0,1]", "(0,1]", True), (r"(-\infty, 2]", r"(-\infty,2]", True),
    (r"(-\infty, 2)", r"(-\infty,2]", False), (r"\{1,2\}", r"\{2,1\}", True), (r"\{1,2\}", r"\{1,3\}", False),
    ("1, 2", "2, 1", True), ("1, 2", "1, 2, 3", False), (r"\{1,2\}", "1,2", True), ("(0.5, 1)", r"(\frac{1}{2}, 1)", True),
    (r"\left[ 0, \frac{1}{2} \right]", "[0, 0.5]", True), ("(1, -1)", "(1,1)", False), ("3, 5", "5,3", True),
    ("(3, 4, 5)", "(3,4,5)", True), (r"(\sqrt{2}, 2)", r"(\sqrt2, 2)", True), (r"[-1, 1]", r"[-1,1]", True),
    # equations and prefixes
    ("x=3", "3", True), ("x = 3", "3", True), ("3", "x=3", True), ("x=4", "3", False), ("y = 2x+1", "2x+1", True),
    ("x = -2", "-2", True), (r"x \in [0,1]", "[0,1]", True), ("k=5", "5", True), ("x=1, x=2", "1,2", True),
    ("y=2x+1", "y=1+2x", True), ("x+y=1", "y+x=1", True), ("x+y=1", "x-y=1", False), ("2x=6", "x=3", False),
    # multiple choice and text
    ("A", "A", True), ("(A)", "A", True), (r"\text{(B)}", "B", True), ("B", "A", False), ("(C) 12", "C", True),
    ("C", "(C)", True), ("D.", "D", True), ("E", "D", False), ("yes", "Yes", True), ("no", "yes", False),
    ("No", "no", True), ("on", "no", False), ("ab", "ba", False), ("odd", "even", False), ("Monday", "monday", True),
    # known false positives to reject
    ("1/2^99", "0", False), ("0.0000001", "0", False), ("1.000001", "1", False), ("2", "2.0000001", False),
    (r"e^{\pi}", r"\pi^{e}", False), ("1000001", "1000000", False), ("-1", "1", False), ("1/3", "3", False),
    (r"\sqrt{2}", "1.414", False), ("2^{n}", "n^{2}", False), ("x", "y", False), ("", "0", False),
    ("12", "1/2", False), ("1-1/e", "0.632", False), (r"\frac{1}{2}", r"\frac{1}{3}", False),
]


@pytest.fixture(scope="module", autouse=True)
def warm_workers():
    sandbox.prestart(2)


@pytest.mark.parametrize("answer,truth,expected", CASES)
def test_accuracy_table(answer, truth, expected):
    got = r1_zero_reward_fn(r1(answer), truth)
    assert got["answer_reward"] == float(expected), (answer, truth)
    assert got["format_reward"] == 1.0
    assert got["reward"] == float(expected)


def test_reward_keys_and_format_variants():
    assert r1_zero_reward_fn(r1("4"), "4") == {"format_reward": 1.0, "answer_reward": 1.0, "reward": 1.0}
    for sep in ["", " ", "\n", "\n\n", " \n  "]:
        assert r1_zero_reward_fn(f"2+2=4</think>{sep}<answer>4</answer>", "4")["reward"] == 1.0, repr(sep)
    no_format = r1_zero_reward_fn("The answer is 4", "4")
    assert no_format == {"format_reward": 0.0, "answer_reward": 0.0, "reward": 0.0}
    assert r1_zero_reward_fn("</think> stuff <answer>4</answer>", "4")["format_reward"] == 0.0
    assert r1_zero_reward_fn("</think> <answer>4", "4")["format_reward"] == 0.0


def test_last_answer_block_and_boxed_and_trailing_text():
    resp = "a </think> <answer> 3 </answer> wait </think> <answer> 4 </answer> trailing 5"
    assert extract_r1_zero_answer(resp) == (True, "4")
    assert r1_zero_reward_fn(resp, "4")["reward"] == 1.0
    assert extract_r1_zero_answer(r1(r"so \boxed{1} then \boxed{\frac{1}{2}}")) == (True, r"\frac{1}{2}")
    assert r1_zero_reward_fn(r1(r"the answer is \boxed{\frac{1}{2}}"), "0.5")["reward"] == 1.0


def test_ground_truth_list_and_number():
    assert r1_zero_reward_fn(r1("12"), ["twelve", "12"])["reward"] == 1.0
    assert r1_zero_reward_fn(r1("0.5"), 0.5)["reward"] == 1.0
    assert r1_zero_reward_fn(r1("7"), 7)["reward"] == 1.0
    assert r1_zero_reward_fn(r1("8"), [7, "6"])["reward"] == 0.0


def test_boxed_helpers():
    assert last_boxed(r"\boxed{a} and \boxed{\frac{1}{2}}") == r"\frac{1}{2}"
    assert last_boxed(r"\boxed{\{1,2\}}") == r"\{1,2\}"
    assert last_boxed(r"\boxed{unbalanced") is None
    assert gsm8k_ground_truth("so 9 + 9 = 18\n#### 1,018") == "1018"
    assert math_ground_truth(r"Thus $x = \boxed{\frac{3}{4}}$.") == r"\frac{3}{4}"
    with pytest.raises(ValueError):
        gsm8k_ground_truth("no marker")
    with pytest.raises(ValueError):
        math_ground_truth("no box")


@pytest.mark.parametrize(
    "response,answer",
    [
        (r"... so we get \boxed{42}. Done.", "42"),
        ("We compute things. The answer is $2^{n-1}$.", "2^{n-1}"),
        ("Thus the final answer is 17.", "17"),
        ("Adding up, the total is 3/4.", "3/4"),
        ("First 3 then 5 and finally 8", "8"),
        ("So the value is $\\frac{1}{2}$ and we are done", "\\frac{1}{2}"),
        ("no numbers here", None),
    ],
)
def test_free_form_extraction(response, answer):
    assert extract_free_form_answer(response) == answer


def test_free_form_reward():
    assert free_form_reward_fn("Therefore the answer is $2^{n-1}$.", "2^(n-1)")["reward"] == 1.0
    assert free_form_reward_fn("Hence the answer is 5.", "6")["reward"] == 0.0
    assert free_form_reward_fn("I do not know", "6")["format_reward"] == 0.0


PATHOLOGICAL = ["9**9**9", "9^9^9^9", "9^{9^{9^{9}}}", "(99!)!", "2^{2^{40}}", "{" * 3000 + "1" + "}" * 3000,
                "7" * 100_000, "(1)." + "__ⅽⅼass__", "__import__('os').system('echo pwned')"]


@pytest.mark.parametrize("answer", PATHOLOGICAL, ids=lambda a: a[:16])
def test_pathological_answers_are_bounded(answer):
    # The bound is 1 s of the worker's CPU time; wall time under a loaded test run is a few times that.
    t0 = time.monotonic()
    got = r1_zero_reward_fn(r1(answer), r"\frac{1}{2}", timeout=1.0)
    assert time.monotonic() - t0 < 10.0
    assert got["reward"] == 0.0
    assert r1_zero_reward_fn(r1("0.5"), r"\frac{1}{2}")["reward"] == 1.0  # still usable


def test_timeout_kills_worker_and_grader_recovers():
    sandbox.prestart(1)
    time.sleep(2.0)  # let the prestarted worker finish importing
    t0 = time.monotonic()
    g = grade_r1_zero(r1("9^{9^{9^{9}}}"), r"\frac{1}{2}", timeout=0.5)
    assert g.timed_out and not g.correct
    assert time.monotonic() - t0 < 5.0  # 0.5 s of CPU; wall time is longer on a loaded machine
    assert r1_zero_reward_fn(r1(r"\frac{\sqrt2}{2}"), r"\frac{1}{\sqrt{2}}")["reward"] == 1.0


def test_bound_holds_from_a_non_main_thread():
    results = {}

    def work():
        t0 = time.monotonic()
        results["grade"] = grade_r1_zero(r1("9^{9^{9^{9}}}"), r"\frac{1}{2}", timeout=1.0)
        results["elapsed"] = time.monotonic() - t0

    t = threading.Thread(target=work)
    t.start()
    t.join(timeout=20)
    assert not t.is_alive()
    assert results["grade"].timed_out and results["elapsed"] < 8.0  # 1 s of CPU (+ a worker start), on a loaded machine


def test_grade_many_preserves_order():
    answers = [str(i) for i in range(40)]
    responses = [r1(a) for a in answers]
    truths = [str(i if i % 3 else i + 1) for i in range(40)]
    out = grade_many(responses, truths, workers=2)
    assert [o["reward"] for o in out] == [0.0 if i % 3 == 0 else 1.0 for i in range(40)]
    with pytest.raises(ValueError, match="differ in length"):
        grade_many(responses, truths[:3])


def test_equivalence_rejects_bad_ground_truth_type():
    with pytest.raises(ValueError, match="ground truth"):
        answers_equivalent("1", {"a": 1})


# --- bounds that hold for any input ----------------------------------------------------------------

ADVERSARIAL = {
    "unclosed boxed (r1)": lambda n: "</think> <answer> " + "\\boxed{" * (n // 7) + " </answer>",
    "unclosed boxed": lambda n: "\\boxed{" * (n // 7),
    "many 'is'": lambda n: "is 1 " * (n // 5),
    "many '='": lambda n: "a=" * (n // 2),
    "many </think>": lambda n: "</think> " * (n // 9),
    "open braces": lambda n: "{" * n,
}


@pytest.mark.parametrize("family", list(ADVERSARIAL))
def test_extraction_is_linear_and_a_megabyte_grades_within_the_bound(family):
    def extract_seconds(n):  # best of 3, against the machine's noise
        text = ADVERSARIAL[family](n)
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            extract_free_form_answer(text)
            extract_r1_zero_answer(text)
            best = min(best, time.perf_counter() - t0)
        return best

    small, large = extract_seconds(100_000), extract_seconds(1_000_000)
    assert large < 30 * max(small, 1e-3)  # 10x the text: about 10x the time (linear), not 100x (quadratic)
    text = ADVERSARIAL[family](1_000_000)
    t0 = time.perf_counter()
    assert r1_zero_reward_fn(text, "7")["reward"] == 0.0
    assert free_form_reward_fn(text, "7")["answer_reward"] == 0.0
    assert time.perf_counter() - t0 < 8 * (DEFAULT_TIMEOUT_S + 1.0)  # two calls, each within its CPU bound


def test_the_whole_call_is_bounded_for_any_length():
    long_right = "x" * 70_000 + " </think> <answer> \\frac{14}{2} </answer>"
    g = grade_r1_zero(long_right, "7")  # graded whole in a worker, same verdict
    assert (g.format_ok, g.correct, g.answer, g.timed_out) == (True, True, "\\frac{14}{2}", False)
    t0 = time.perf_counter()
    g = grade_r1_zero("</think> <answer> " + "\\boxed{" * 2_000_000 + " </answer>", "7", timeout=0.5)
    assert time.perf_counter() - t0 < 10.0 and not g.correct  # 14 MB: cut off at its 0.5 s CPU bound


@pytest.mark.parametrize("answer", [
    "12 apples because each of the seven children received exactly two pieces of fruit from grandmother!",
    "1 " + "a" * 48 + "1",
    "7 " + "meters per second squared " * 30 + "?",
])
def test_plausible_sentences_grade_at_once(answer):
    # These backtracked exponentially in the unit-stripping regex (150 s and more for the first).
    for response, truth in ((f"</think> <answer>{answer}</answer>", "13"), ("</think> <answer>13</answer>", answer)):
        t0 = time.perf_counter()
        g = grade_r1_zero(response, truth, timeout=5.0)
        assert time.perf_counter() - t0 < 3.0 and not g.timed_out and not g.correct


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the bound reads /proc")
def test_the_bound_is_cpu_time_not_wall_time():
    # A worker that gets no CPU for three times the bound (a loaded machine) still gives its verdict.
    import os
    import signal
    import threading

    from tracesft.grading import sandbox

    sandbox.shutdown()
    sandbox.prestart(1)
    worker = sandbox._idle[-1]
    assert worker.wait_ready()

    def stall():
        os.kill(worker.proc.pid, signal.SIGSTOP)
        time.sleep(1.5)
        os.kill(worker.proc.pid, signal.SIGCONT)

    staller = threading.Thread(target=stall)
    t0 = time.perf_counter()
    staller.start()
    g = grade_r1_zero("</think> <answer> \\frac{26}{2} </answer>", "13", timeout=0.5)
    staller.join()
    assert time.perf_counter() - t0 > 1.5 and g.correct and not g.timed_out


ORPHAN_DRIVER = """
import os, sys, threading, time
from tracesft.grading import r1_zero_reward_fn

def hostile():
    r1_zero_reward_fn("</think> <answer> 10^{10^{10}} + 9^{9^{9^{9}}} </answer>", "7", timeout=120)

for _ in range(2):
    threading.Thread(target=hostile, daemon=True).start()
time.sleep(4)
print("grading", flush=True)
time.sleep(120)
"""


def _worker_pids(parent: int) -> list[int]:
    import os

    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
            cmd = open(f"/proc/{entry}/cmdline", "rb").read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"tracesft.grading.worker" in cmd:
            pids.append(int(entry))
    return pids


@pytest.mark.slow  # a subprocess
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal and /proc are Linux's")
def test_workers_die_with_a_killed_parent(tmp_path):
    import os
    import subprocess

    driver = tmp_path / "driver.py"
    driver.write_text(ORPHAN_DRIVER)
    proc = subprocess.Popen([sys.executable, str(driver)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "grading"
    workers = _worker_pids(proc.pid)
    assert len(workers) >= 2
    proc.kill()  # SIGKILL: no atexit, no cleanup in the parent
    proc.wait()
    time.sleep(1.0)
    alive = [p for p in workers if os.path.exists(f"/proc/{p}") and
             open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"]
    assert alive == []


def test_a_worker_nobody_waits_for_stops_at_its_cpu_limit():
    import json

    w = sandbox._Worker()
    assert w.wait_ready()
    w.proc.stdin.write(json.dumps({"f": "symbolic_equal", "a": ["9^{9^{9^{9}}}", "7"], "t": 0.5}) + "\n")
    w.proc.stdin.flush()
    deadline = time.monotonic() + 10
    while w.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    stopped = not w.alive()
    w.kill()
    assert stopped  # SIGXCPU after about 1.5 s of CPU, though the caller never killed it


@pytest.mark.parametrize("response, truth, expected", [
    # the sentence's object, not a restated condition of the question
    ("Therefore, there are 5050 different ordered triples (a, b, c) of non-negative integers such that a+b+c=99.",
     "5050", 1.0),
    ("Therefore, there are 5050 different ordered triples (a, b, c) of non-negative integers such that a+b+c=99.",
     "99", 0.0),
    ("So x = 5 when y is 3.", "5", 1.0),
    ("So x = 5 when y is 3.", "3", 0.0),
    ("The number of ways such that no two are adjacent is 42.", "42", 1.0),
    # filler words before the answer, and factorials
    ("So, the number of diagonals in a convex polygon of n vertices is given by the expression n(n-3)/2.",
     "n(n-3)/2", 1.0),
    ("Hence the expression for the number of ways to place n rooks peacefully is n!.", "n!", 1.0),
    ("Hence the number of ways is n!.", "(n-1)!", 0.0),
    ("The sum is 1+2+3 = 6.", "6", 1.0),
    # a condition inside the subject, or after the answer, with $...$ spans
    ("The remainder when $p(x^7)$ is divided by $p(x)$, where $p(x)=x^6+x^5+...+x+1$, is $7$.", "7", 1.0),
    ("The number of solutions that f(f(x)) = x can have, given that f(x) = x has none, is 0.", "0", 1.0),
    ("The smallest value of $|x+y-z|$ is 0, which occurs when $x = y = z = 0$.", "0", 1.0),
    ("The minimum value is $\\frac{n}{4}$, which is achieved when $x_1=x_2=\\frac{1}{n}$.", "1/n", 0.0),
    ("The minimum value is $-54$, which occurs when $a=b=c=0$.", "0", 0.0),
    ("The answer is the number $n$ of steps.", "n", 1.0),
])
def test_free_form_final_sentence_classes(response, truth, expected):
    assert free_form_reward_fn(response, truth)["answer_reward"] == expected


# --- free-form answers of real solutions: classes of phrasing (written by hand, not taken from the
# labelled benchmark file). Each case is (response, truth, expected reward).
@pytest.mark.parametrize("response, truth, expected", [
    # the sentence's object after the main copula; a restated condition is not the answer
    ("There are 12 ways to seat them such that no two women are adjacent.", "12", 1.0),
    ("The number of pairs (x, y) with x + y = 10 is 9.", "9", 1.0),
    ("The number of pairs (x, y) with x + y = 10 is 9.", "10", 0.0),
    ("The value of k for which x^2 + kx + 4 is a perfect square is k = 4.", "4", 1.0),
    ("The remainder when 2^{100} is divided by 7 is 2.", "2", 1.0),
    ("The remainder when 2^{100} is divided by 7 is 2.", "7", 0.0),
    ("The count of subsets, which is what we wanted, is 64.", "64", 1.0),
    ("The possible values of n mod 3 are 0, meaning n must be a multiple of 3.", "0", 1.0),
    # filler, appositives, an "S =" left-hand side, "converges to"
    ("Hence the total is always 0 for every n.", "0", 1.0),
    ("The only solution is the constant function, f(x) = 1.", "f(x)=1", 1.0),
    ("The closed form is \\[ S = 2^{n} - 1. \\]", "2^n-1", 1.0),
    ("The number of regions is given by the binomial coefficient C(n, 2) = n(n-1)/2.", "n(n-1)/2", 1.0),
    ("The sequence converges to $\\frac{1}{2}$.", "1/2", 1.0),
    ("The final answer is that there are 7 such numbers.", "7", 1.0),
    # a value that is denied or undetermined is not stated
    ("Hence the digit sum of a square cannot be 1977.", "1977", 0.0),
    ("We find the candidates 3 and 5.\n\nThe minimum value cannot be determined without further information.", "3", 0.0),
    # bounds are not values
    ("The number of solutions is at least 4.", "4", 0.0),
    ("The polynomial can have at most 0 integer roots.", "At most 0 integer roots", 1.0),
])
def test_free_form_answer_sentence_classes(response, truth, expected):
    assert free_form_reward_fn(response, truth)["answer_reward"] == expected


@pytest.mark.parametrize("response, truth, expected", [
    # lists, sets and assignments: order-free, names kept, partial sets wrong
    ("The values are $a = 2$, $b = -1$, and $c = 5$.", "a=2, b=-1, c=5", 1.0),
    ("So c = 5, a = 2 and b = -1.", "a=2, b=-1, c=5", 1.0),
    ("The values are a = -1 and b = 2.", "a=2, b=-1", 0.0),  # the names swapped
    ("The values are a = 2 and b = -1.", "a=2, b=-1, c=5", 0.0),  # partial
    ("The solutions are x = 3 and x = 7.", "x=7 and x=3", 1.0),
    ("The solutions are x = 3 and x = 7.", "x=3", 0.0),
    ("The only solution is x = 0 and y = 0.", "x=y=0", 1.0),
    ("The solutions are (x, y) = (1, 3) and (x, y) = (3, 1).", "(x=3, y=1) and (x=1, y=3)", 1.0),
    ("The possible remainders are 2, 5, and 8.", "2, 5 and 8", 1.0),
    ("The set of possible remainders is {2, 5, 8}.", "2, 5 and 8", 1.0),
    ("The possible remainders are 2 and 5.", "2, 5 and 8", 0.0),
    ("The possible values are 0, 2 and 4.", "0 is the only possible value", 0.0),
    ("The roots are x = 1 ± √3.", "1+sqrt(3), 1-sqrt(3)", 1.0),
    ("The roots are x = 1 ± √3.", "1+sqrt(3)", 0.0),
    ("The functions are f(x) = 0 and f(x) = x.", "f(x)=0 or f(x)=x", 1.0),
])
def test_free_form_sets_and_assignments(response, truth, expected):
    assert free_form_reward_fn(response, truth)["answer_reward"] == expected


@pytest.mark.parametrize("response, truth, expected", [
    # polarity claims, from the final statement
    ("Some working.\n\nNo, it is not possible to tile the board.", "No", 1.0),
    ("Some working.\n\nIt is impossible to tile the board.", "No", 1.0),
    ("Some working.\n\nThe board cannot be tiled with these pieces.", "It is not possible", 1.0),
    ("Some working.\n\nYes, the board can be tiled.", "It is not possible", 0.0),
    ("Some working.\n\nYes, such a tiling exists.", "Yes", 1.0),
    ("Some working.\n\nThe board can be tiled in this way.", "Yes", 1.0),
    ("Some working.\n\nIt is not true that the answer is yes.", "Yes", 0.0),  # "yes" inside a negated claim
    ("Some working.\n\nThere are no integer solutions to x^2 - 2y^2 = 3.", "No integer solutions", 1.0),
    ("Some working.\n\nThe equation has no positive integer solutions.", "No positive integer solutions", 1.0),
    ("Some working.\n\nThere are no real solutions to the equation.", "No integer solutions", 0.0),  # other words
    ("Some working.\n\nThere are no solutions other than (0, 0).", "No integer solutions", 0.0),
    ("Work.\n\nThere are no values of m such that 7 divides 2^m - 1, except for the trivial case m = 0.",
     "No such values", 0.0),
    ("Some working.\n\nThe only integer solution is (x, y) = (5, 0).", "No integer solutions", 0.0),
    ("Some working.\n\nThe sequence is not periodic.", "The sequence is not periodic", 1.0),
    ("Some working.\n\nThe sequence is periodic with period 4.", "The sequence is not periodic", 0.0),
    ("Some working.\n\nThe sequence does not have a finite limit.", "The limit does not exist", 1.0),
    ("Some working.\n\nThere are 120 ways to do it with no box left empty.", "No", 0.0),  # a count, not a claim
    ("Some working.\n\nThere are no such pairs.", "0 pairs", 1.0),
    ("Work.\n\nIt is not possible to determine whether such a tiling exists.", "It is not possible", 0.0),
    ("Work.\n\nWe are unable to conclude whether the sequence is periodic.", "No", 0.0),
    ("Some working.\n\nThe ratio is monotonically increasing.", "Monotonically increasing", 1.0),
    ("Some working.\n\nThe ratio is monotonically decreasing.", "Monotonically increasing", 0.0),
    ("Some working.\n\nThe ratio is not monotonically increasing.", "Monotonically increasing", 0.0),
    ("Work.\n\nThe information is insufficient to determine whether w is always greater than 20.",
     "Always greater than 20", 0.0),
    ("Work.\n\nIt is not possible to decide whether w is always greater than 20.", "Always greater than 20", 0.0),
    ("Work.\n\nFor all positive starting values, w is always greater than 20.", "Always greater than 20", 1.0),
])
def test_free_form_claims(response, truth, expected):
    assert free_form_reward_fn(response, truth)["answer_reward"] == expected


@pytest.mark.parametrize("truth, response, expected", [
    # prose around a value in the truth
    ("7 is the only possible value", "The possible value is 7.", 1.0),
    ("7 is the only possible value", "The possible value is 8.", 0.0),
    ("500 (i.e., all values)", "There are 500 such values.", 1.0),
    ("499 (i.e., all except one)", "There are 500 such values.", 0.0),
    ("The limit exists and is equal to 6", "The limit of the sequence is 6.", 1.0),
    ("The only possible value for the limit is sqrt(b)", "The limit is $\\sqrt{b}$.", 1.0),
    ("The only possible value for the limit is sqrt(b)", "The limits are $\\pm\\sqrt{b}$.", 0.0),
    ("3 triangles", "At most three of the triangles, so the answer is 3.", 1.0),
])
def test_free_form_prose_truths(truth, response, expected):
    assert free_form_reward_fn(response, truth)["answer_reward"] == expected


@pytest.mark.parametrize("pred, gold, expected", [
    ("\\binom{n}{4}", "C(n, 4)", True),
    ("n(n-1)(n-2)(n-3)/24", "C(n, 4)", True),
    ("\\binom{n}{3}", "C(n, 4)", False),
    ("\\frac{n(n+1)}{2}", "sum_(i=1)^n i", True),
    ("n^2", "sum_(i=1)^n i", False),
    ("\\lfloor n/2 \\rfloor", "floor(n/2)", True),
    ("n 2^{n-1}", "n2^(n-1)", True),
    ("(n(n+1)/2)²", "(n(n+1)/2)^2", True),
    ("−3", "-3", True),
    ("2,001,000", "2001000", True),
    ("2,001,000", "2002000", False),
    ("1.5e3", "1500", True),
    ("2 1/2", "5/2", True),
    ("(x + y)(x^2 - xy + y^2)", "(x+y)(x^2-yx+y^2)", True),
    ("(x + y)(x^2 - xy + y^2)", "(x+y)(x^2+xy+y^2)", False),
])
def test_plain_text_forms(pred, gold, expected):
    assert answers_equivalent(pred, gold).equal is expected


def test_a_summary_turn_is_graded_with_the_solution_but_not_trained_on():
    from tracesft.data import Example, filter_correct
    from tracesft.data.filtering import graded_text

    solution = "We count the tilings recursively and find 12 of them.\nSo the answer is 12."
    examples = [
        Example("p", solution, "13", {"answer_summary": "There are 13 tilings of the board."}),  # summary wins
        Example("q", solution, "12", {"answer_summary": "There are 13 tilings of the board."}),
        Example("r", solution, "12", {"answer_summary": "I have summarized the work above."}),  # falls back
        Example("s", solution, "12"),  # no summary: the response alone
    ]
    assert graded_text(examples[0]) == solution + "\n\nThere are 13 tilings of the board."
    assert graded_text(examples[3]) == solution
    kept, report = filter_correct(examples, free_form_reward_fn, workers=1)
    assert [e.prompt for e in kept] == ["p", "r", "s"]
    assert all(e.response == solution for e in kept)  # trained on the solution alone
    assert report.rejected["wrong_answer"] == 1


@pytest.mark.parametrize("response, truth, expected", [
    ("The number of ways to place the rooks is n factorial (n!).", "n!", 1.0),
    ("The number of ways to place the rooks is n factorial.", "(n-1)!", 0.0),
    ("The number of strings in which any 1 and 2 are never neighbors is $32$.", "32", 1.0),  # clause negation
    ("Therefore the number of moves is no more than 5.", "5", 0.0),
    ("Hence $x^3+y^3+z^3-3xyz=(x+y+z)(x-1)(x-y+3)$.", "(x+y+z)(x^2+y^2+z^2-xy-yz-zx)", 0.0),  # restated left side
    ("Hence 1000 - 2 + 1 = 999.", "999", 1.0),
    ("The survivor is the one who was originally numbered 17.", "1", 0.0),  # "one" as a pronoun
    ("The survivor is the one who was originally numbered 17.", "17", 1.0),
    ("The polynomial f(x) = x^2 + x + 1 has no real roots.", "0 roots", 1.0),
    ("The polynomial f(x) = x^2 - 1 has two real roots.", "2", 1.0),
    ("Work.\n\n$x^4-1=(x-1)(x+1)(x^2+1)$.", "(x^2+1)(x^2-1)", 1.0),
    ("The expression can be written as $(n+1)^2$.", "n^2+2n+1", 1.0),
    ("For even n, the expression is congruent to 0 modulo 7.", "0", 1.0),
])
def test_free_form_words_for_math_and_chains(response, truth, expected):
    assert free_form_reward_fn(response, truth)["answer_reward"] == expected


@pytest.mark.parametrize("pred, gold, expected", [
    ("sum_(k=0)^n C(2n+1, n-k)", "4^n", True),  # an identity checked at integer points, within the bound
    ("sum_(k=0)^n C(2n, k)", "4^n", False),
    ("(-1)^n", "1", False),
    ("C(n - m, m) * 2^(n - 2m)", "C(n+1, 2m+1)", False),  # both 0 where 2m+1 > n+1: not an agreement
    ("\\binom{n}{r}", "\\frac{n!}{r!(n-r)!}", True),
])
def test_combinatorial_identities(pred, gold, expected):
    r = answers_equivalent(pred, gold)
    assert r.equal is expected and not r.timed_out


@pytest.mark.parametrize("response, truth", [
    ("Work.\n\n**Answer:** 42", "42"),
    ("**Final answer: 7**", "7"),
    ("So the total is **15** apples.", "15"),
    ("**Answer:** No, it is **not** possible.", "No"),
    ("The answer is 2**10.", "1024"),  # an exponent, not bold
])
def test_markdown_bold_around_the_answer_is_not_part_of_it(response, truth):
    assert grade_free_form(response, truth).correct


def test_markdown_bold_does_not_hide_a_wrong_answer():
    assert not grade_free_form("**Answer:** 41", "42").correct
    assert not grade_free_form("The answer is 2**10.", "210").correct


# ---- other trace styles: GSM8K plain text, chat notes, R1-Zero sentences, several boxes ------------


@pytest.mark.parametrize("response, truth, expected", [
    # GSM8K "#### N" answer line beats the working
    ("Natalia sold 48 clips in April and 48 / 2 = 24 in May.\nAltogether 48 + 24 = 72 clips.\n#### 72", "72", True),
    ("She sold 48 / 2 = 24 clips.\nAltogether she sold 48 + 24 = 72 clips.\n#### 24", "72", False),
    ("15 * 24 = 360 cans; 360 * 2/3 = 240 cans sold.\n#### 120", "240", False),
    ("So 9 * 60 = 540 meters.\n#### 540", "540", True),
    ("Total: 1,000 + 18 = 1,018\n#### 1,018", "1018", True),
    # a final sentence without a link states its one value; no walk back into the working
    ("The book has 240 pages, so it takes 240 / 20 = 12 days.\nIt will take her 12 days to finish the book.",
     "12", True),
    ("The book has 240 pages, so it takes 240 / 20 = 12 days.\nIt will take her 12 days to finish the book.",
     "240", False),
    ("In May she sold 48 / 2 = 24 clips, so 48 + 24 = 72.\nSo she sold 24 clips in May.", "72", False),
    ("In May she sold 48 / 2 = 24 clips, so 48 + 24 = 72.\nSo she sold 24 clips in May.", "24", True),
    ("There were 40 students; 20/40 = 1/2 of them passed.\nTherefore, 50% of the students passed.", "50", True),
    ("Each path has 2 turns, so 3 * 2 = 6.\n\nWe get $6$ paths.", "6", True),
    ("The derivative of $x^3$ is $3x^2$, which matches choice D.\n\nOption D", "D", True),
    ("Only choice (C) fits since 12 = 3 * 4.\n\nSo I would go with choice (C).", "C", True),
    ("Only choice (C) fits since 12 = 3 * 4.\n\nSo I would go with choice (C).", "B", False),
    # values in a condition, a reason or after a comparison are not the sentence's value
    ("Each step doubles: 2 * 2 = 4.\nThis completes the proof for all n ≥ 1.", "1", False),
    ("She sells 9 eggs at 2 each.\nJanet makes 18 every day because she sells 9 eggs.", "18", True),
    ("She sells 9 eggs at 2 each.\nJanet makes 18 every day because she sells 9 eggs.", "9", False),
    ("So x(n) grows faster.\nThe relationship is that x(n) > y(n-1) for all n ≥ 2.", "-1", False),
])
def test_free_form_gsm8k_marker_and_final_sentence_value(response, truth, expected):
    assert grade_free_form(response, truth).correct is expected, extract_free_form_answer(response)


@pytest.mark.parametrize("response, truth, expected", [
    ("A pencil costs $0.75 and a notebook costs $2.75.\nTogether they cost 0.75 + 2.75 = $3.50.\n"
     "So the total cost is $3.50.", "3.5", True),
    ("Mark's hourly rate is $18. He works 8 * 5 = 40 hours.\nHe earns 40 * 18 = $720 per week.\n\n"
     "Mark earns 720 dollars per week.", "720", True),
    ("She sells 9 eggs at $2 each: 9 * 2 = $18.\nJanet makes $18 every day at the market.", "18", True),
    ("She sells 9 eggs at $2 each: 9 * 2 = $18.\nJanet makes $18 every day at the market.", "2", False),
    ("8 glasses cost $5 and 8 cost $3: 8 * 5 + 8 * 3 = 40 + 24 = 64.\nHe needs to pay $60 for the glasses.",
     "64", False),
    ("The total is $12$ and each share is $3$.", "3", True),  # paired $..$ stay math
])
def test_currency_dollars_are_not_math_delimiters(response, truth, expected):
    assert grade_free_form(response, truth).correct is expected, extract_free_form_answer(response)


@pytest.mark.parametrize("response, truth, expected", [
    ("3 boxes of 4 pens: 3 × 4 = 12.\n\nSo the answer is 12.\n\nLet me verify: 3 × 4 = 12 ✓. Also 2 × 6 = 12 ✓.",
     "12", True),
    ("We compute 8 + 4 = 12.\n\n**Answer: 12**\n\nNote: if the question meant 8 - 4, the answer would be 4.",
     "12", True),
    ("We compute 8 + 4 = 12.\n\n**Answer: 12**\n\nNote: if the question meant 8 - 4, the answer would be 4.",
     "4", False),
    ("12 / 4 = 3.\n\nEach friend gets 3 apples. (Note: the problem says there are 12 apples in total.)", "3", True),
    ("12 / 4 = 3.\n\nEach friend gets 3 apples. (Note: the problem says there are 12 apples in total.)", "12", False),
    ("The solution is x = 3. Substituting back, 2(3) + 1 = 7, which checks out.", "3", True),
    ("The solution is x = 3. Substituting back, 2(3) + 1 = 7, which checks out.", "7", False),
    ("The answer is 5.\n\nCheck: 2 + 3 = 5 ✔", "5", True),
    # a sentence that only starts like a check, or that names the answer, is kept
    ("We try every case in turn.\n\nChecking all 4 cases, we find the answer is 12.", "12", True),
    ("The total is 10.\n\nLet me check: the recount shows the answer is 12 after all.", "12", True),
    ("The total is 10.\n\nLet me check: the recount shows the answer is 12 after all.", "10", False),
    ("The formula is n!. Note that the answer is 6 for n = 3.", "6", True),
])
def test_checks_and_notes_after_the_answer_are_ignored(response, truth, expected):
    assert grade_free_form(response, truth).correct is expected, extract_free_form_answer(response)


@pytest.mark.parametrize("answer, truth, expected", [
    ("The answer is 72.", "72", True), ("The answer is 72.", "7", False),
    ("There are 12 ways.", "12", True), ("There are 12 ways.", "13", False),
    ("The probability is $\\frac{3}{8}$.", "\\frac{3}{8}", True),
    ("The value of x is 5, not 6.", "5", True), ("The value of x is 5, not 6.", "6", False),
    ("No, 91 is not prime.", "No", True), ("No, 91 is not prime.", "Yes", False),
    ("x = 5", "5", True), ("3 or 4", "3", False),
])
def test_r1_zero_tag_holding_a_sentence_is_read_as_free_form(answer, truth, expected):
    g = grade_r1_zero(r1(answer), truth)
    assert (g.format_ok, g.correct) == (True, expected)
    assert grade_r1_zero(f"no think tag <answer> {answer} </answer>", truth).reward()["reward"] == 0.0


@pytest.mark.parametrize("response, truth, expected", [
    ("The solutions are $\\boxed{2}$ and $\\boxed{3}$.", "2, 3", True),
    ("The solutions are $\\boxed{2}$ and $\\boxed{3}$.", "3", False),
    ("Therefore, $x = \\boxed{-2}$ or $x = \\boxed{2}$.", "-2, 2", True),
    ("We find $x = 3$ and $y = 5$.\n\n\\[\n\\boxed{x = 3}, \\quad \\boxed{y = 5}\n\\]", "(3, 5)", True),
    ("We find $x = 3$ and $y = 5$.\n\n\\[\n\\boxed{x = 3}, \\quad \\boxed{y = 5}\n\\]", "(5, 3)", False),
    # boxes in different sentences are not one answer
    ("First $s = \\boxed{7}$. Then the total is 4 s, so the answer is $\\boxed{28}$.", "28", True),
])
def test_several_boxes_in_one_sentence_are_one_answer(response, truth, expected):
    assert grade_free_form(response, truth).correct is expected, extract_free_form_answer(response)
    assert grade_r1_zero(r1(response), truth).correct is expected


@pytest.mark.parametrize("response, truth, expected", [
    ("The answer is $\\frac{1}{2}$... no wait. Let me redo: 3 favourable outcomes of 8.\n\nFinal: $\\frac{3}{8}$",
     "\\frac{3}{8}", True),
    ("The answer is $\\frac{1}{2}$... no wait. Let me redo: 3 favourable outcomes of 8.\n\nFinal: $\\frac{3}{8}$",
     "\\frac{1}{2}", False),
    ("Adding up the parts gives 17.\n\nResult: 17", "17", True),
    ("Adding up the parts gives 17.\n\nFinal answer: 17", "17", True),
])
def test_final_and_result_markers(response, truth, expected):
    assert grade_free_form(response, truth).correct is expected, extract_free_form_answer(response)


@pytest.mark.parametrize("response, truth, expected", [
    ("The store sells 250 shirts per day for 5 days: 250 × 5 = 1,250 shirts.", "1250", True),
    ("So the total is 250 × 5 = 1,250.", "250", False),
    ("Solution: x = 7, y = 3.", "(7, 3)", True),
    ("Solution: x = 7, y = 3.", "(3, 7)", False),
    ("Solution: x = 7, y = 3.", "(7, 3, 1)", False),
    ("He now has 90 + 15 chickens.\nThe farmer now has one hundred five chickens, i.e. 105.", "105", True),
    ("He now has 90 + 15 chickens.\nThe farmer now has one hundred five chickens, i.e. 105.", "1", False),
    ("The number of ways is two.", "2", True),
])
def test_thousands_in_chains_assignments_as_tuples_and_number_words(response, truth, expected):
    assert grade_free_form(response, truth).correct is expected, extract_free_form_answer(response)


@pytest.mark.parametrize("response, truth, expected", [
    # a concluding paragraph after the last box states the answer
    ("First $s = \\sqrt{49} = \\boxed{7}$.\n\nThen the perimeter is $4s = 28$.\n\nSo the perimeter is $28$.", "28", True),
    ("First $s = \\sqrt{49} = \\boxed{7}$.\n\nThen the perimeter is $4s = 28$.\n\nSo the perimeter is $28$.", "7", False),
    ("I previously wrote $\\boxed{14}$, but that double counted corners: 14 - 4 = 10.\n\nSo the correct answer is $10$.",
     "10", True),
    ("I previously wrote $\\boxed{14}$, but that double counted corners: 14 - 4 = 10.\n\nSo the correct answer is $10$.",
     "14", False),
    # a paragraph that is not a conclusion, or states nothing, leaves the box
    ("The sum is $\\boxed{720}$.\n\nwhere $n = 6$ is the number of sides.", "720", True),
    ("The sum is $\\boxed{720}$.\n\nSo this is the final answer.", "720", True),
    ("The sum is $\\boxed{720}$.\n\nI hope it is correct.", "720", True),
    # a "because" clause gives a reason; its values are not the answer
    ("The correct option is C because the angles sum to 180, so the third is 180 - 50 - 60 = 70 degrees.", "C", True),
    ("The correct option is C because the angles sum to 180, so the third is 180 - 50 - 60 = 70 degrees.", "70", False),
])
def test_a_concluding_paragraph_after_a_box_and_reason_clauses(response, truth, expected):
    assert grade_free_form(response, truth).correct is expected, extract_free_form_answer(response)


@pytest.mark.parametrize("response, truth, expected", [
    ("<think>\nf(4) = f(3) + f(2) = 5. So the answer is 5. Let me double-check by listing", "5", False),
    ("<think>\nSo the answer is \\boxed{5}", "5", False),
    ("<think>\nf(4) = 5.\n</think>\n\nThe number of tilings is 5.", "5", True),
    ("f(4) = 5.\n</think>\n\nThe number of tilings is 5.", "5", True),  # <think> was in the prompt
])
def test_an_unclosed_think_is_a_cut_off_response(response, truth, expected):
    assert grade_free_form(response, truth).correct is expected, extract_free_form_answer(response)
