"""Instant feedback in the notebook: the autograded nbgrader cells call ``check``.

    from autograder.notebook import check
    check("forward")            # last expression: the points earned

``check`` runs the very checks the CLI runs (same definitions, same points
from the same config) on the ``mlp.py`` beside the notebook, in the sandbox,
prints one line per check to stdout and returns the points earned. It never
raises and never writes to stderr.

This is feedback only. The kernel belongs to the student (their cells and
their ``mlp.py`` run in it and can change anything, this function included),
so nbgrader does not take the recorded grade from this output: ``nbgrader
autograde`` does not execute the notebook, and the course's preprocessor
(:class:`autograder.workflows.nbgrader_grading.GradeCells`) grades ``mlp.py``
in the nbgrader process and rewrites each of these cells' outputs with the
same lines and the points it computed.
"""
from __future__ import annotations

import contextlib
import os
import sys
import warnings
from pathlib import Path
from typing import Iterable

from .config import load_config
from .grading import CheckResult, grade, select


def cell_points(*names: str, config: dict | None = None) -> float:
    """Maximum points of the checks ``names`` (what the grade cell's metadata must say)."""
    config = config or load_config(os.environ.get("MLP_GRADER_CONFIG") or None)
    return float(sum(config["points"][c.name] for c in select("graded", names)))


def report_lines(checks: Iterable[CheckResult]) -> list[str]:
    """``PASS name 3/3: message`` per check, then ``=> earned / max points``."""
    checks = list(checks)
    lines = []
    for c in checks:
        mark = "PASS" if c.passed else ("PART" if c.score > 0 else "FAIL")
        lines.append(f"{mark} {c.name} {c.score:g}/{c.max_score:g}" + (f": {c.message}" if c.message else ""))
    lines.append(f"=> {round(sum(c.score for c in checks), 4):g} / {round(sum(c.max_score for c in checks), 4):g} points")
    return lines


def check(*names: str, module: str | Path = "mlp.py", verbose: bool = True) -> float:
    """Grade the checks ``names`` (names or prefixes) on ``module``; return the points earned."""
    # anything the grader would write to stderr (a warning, say) goes to stdout instead
    with contextlib.redirect_stderr(sys.stdout), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            config = load_config(os.environ.get("MLP_GRADER_CONFIG") or None)
            result = grade(Path(module), config=config, only=names)
        except Exception as exc:  # noqa: BLE001 - a cell must show a message, not a traceback
            print(f"the grader could not run: {type(exc).__name__}: {exc}")
            return 0.0
    if verbose:
        for w in caught:
            print(f"note: {w.category.__name__}: {w.message}")
        for line in report_lines(result.checks):
            print(line)
    return result.score
