"""The grader worker process: ``python -m tracesft.grading.worker PARENT_PID``.

It registers the functions a worker may run (a whole grade, a symbolic comparison) and serves
requests with :func:`.sandbox.worker_main`. Kept apart from :mod:`.sandbox` so that the sandbox
imports no grading code (no import cycle: rewards -> sandbox, worker -> rewards, sandbox).
"""

from __future__ import annotations

from . import rewards, sandbox, symbolic


def _grade(kind: str, response: str, ground_truth, timeout: float) -> list:
    g = (rewards.grade_r1_zero if kind == "r1_zero" else rewards.grade_free_form)(response, ground_truth, timeout)
    return [g.format_ok, g.correct, g.answer, g.timed_out, g.rule, g.comparator]


FUNCTIONS = {"symbolic_equal": symbolic.symbolic_equal, "grade": _grade}

if __name__ == "__main__":
    sandbox.worker_main(FUNCTIONS)
