"""Correct solutions written in other styles score full marks, MNIST accuracy included (with room to spare)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from autograder import grade
from autograder.config import load_config
from conftest import FAST, mnist_available

STYLES = sorted((Path(__file__).parent / "alternatives").glob("*.py"))


@pytest.mark.parametrize("style", STYLES, ids=lambda p: p.stem)
def test_correct_style_scores_full_marks(style, submit):
    full = mnist_available()
    result = grade(submit(style.read_text()), only=None if full else FAST)
    assert [(c.name, c.message) for c in result.checks if not c.passed] == []
    assert result.score == result.max_score == (100 if full else result.max_score)
    if full:  # not by a hair: one percentage point above the full-points threshold at least
        accuracy = float(re.search(r"test accuracy (\d+\.\d+)%", result["accuracy.mnist"].message).group(1)) / 100
        assert accuracy >= load_config()["accuracy"]["tiers"][0][0] + 0.01, result["accuracy.mnist"].message


def test_there_are_several_styles():
    assert len(STYLES) >= 3
