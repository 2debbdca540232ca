"""Public checks: run `pytest test_mlp_public.py` before you submit.

They are the grader's own checks on small fixed cases (the graded run uses
hidden random cases and also trains your network on MNIST). Each failure
message says what was expected and the likely cause.
"""
from pathlib import Path

import pytest

from autograder import grade
from autograder.grading import select

MODULE = Path(__file__).with_name("mlp.py")


@pytest.fixture(scope="module")
def result():
    return grade(MODULE, suite="public")


@pytest.mark.parametrize("name", [c.name for c in select("public")])
def test_public_check(result, name):
    check = result[name]
    if not check.passed:
        # one line: the points and the grader's message (pytest.ini shows it whole)
        pytest.fail(f"{check.score:g}/{check.max_score:g}: {check.message}", pytrace=False)
