"""Correct solutions written in other styles score full marks, MNIST accuracy included."""
from __future__ import annotations

from pathlib import Path

import pytest

from autograder import grade
from conftest import FAST, mnist_available

STYLES = sorted((Path(__file__).parent / "alternatives").glob("*.py"))


@pytest.mark.parametrize("style", STYLES, ids=lambda p: p.stem)
def test_correct_style_scores_full_marks(style, submit):
    full = mnist_available()
    result = grade(submit(style.read_text()), only=None if full else FAST)
    assert [(c.name, c.message) for c in result.checks if not c.passed] == []
    assert result.score == result.max_score == (100 if full else result.max_score)


def test_there_are_several_styles():
    assert len(STYLES) >= 3
