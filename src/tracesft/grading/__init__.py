"""Math answer grading: extraction, normalisation, equivalence, time-bounded symbolic checks."""

from .equivalence import DEFAULT_TIMEOUT_S, Equivalence, answers_equivalent
from .extract import (
    extract_r1_zero_answer,
    gsm8k_ground_truth,
    last_boxed,
    math_ground_truth,
)
from .normalize import normalize_answer
from .registry import REWARDS, default_reward_name, detailed_grader, get_reward
from .rewards import (
    Grade,
    free_form_reward_fn,
    grade_free_form,
    grade_many,
    grade_r1_zero,
    r1_zero_reward_fn,
)
from .rules import EXTRACTION_RULES, Extraction, extract_free_form_answer

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "REWARDS",
    "default_reward_name",
    "detailed_grader",
    "get_reward",
    "EXTRACTION_RULES",
    "Equivalence",
    "Extraction",
    "Grade",
    "answers_equivalent",
    "extract_free_form_answer",
    "extract_r1_zero_answer",
    "free_form_reward_fn",
    "grade_free_form",
    "grade_many",
    "grade_r1_zero",
    "gsm8k_ground_truth",
    "last_boxed",
    "math_ground_truth",
    "normalize_answer",
    "r1_zero_reward_fn",
]
