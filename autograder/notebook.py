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

from . import i18n
from .config import load_config
from .grading import CheckResult, grade, select


def cell_points(*names: str, config: dict | None = None) -> float:
    """Maximum points of the checks ``names`` (what the grade cell's metadata must say)."""
    config = config or load_config(os.environ.get("MLP_GRADER_CONFIG") or None)
    return float(sum(config["points"][c.name] for c in select("graded", names)))


def report_lines(checks: Iterable[CheckResult], lang: str | None = None) -> list[str]:
    """``PASS name 3/3: message`` per check (the marks of the text report: PASS, PART, FAIL, ERR, what ERR means
    when there is one), then ``=> earned / max points``; in ``lang``, default the current one: the messages
    are in the language they were graded in."""
    from .feedback import shown
    from .report.formats import GRADER_FAILED, MARKS, mark, outcome

    checks = list(checks)
    lines = []
    with i18n.language(lang):
        for c in checks:
            lines.append(f"{mark(c)} {c.name} {c.score:g}/{c.max_score:g}" + (f": {shown(c.message)}" if c.message else ""))
        if any(outcome(c) == "error" for c in checks):
            lines.append(i18n._(GRADER_FAILED).format(mark=i18n._(MARKS["error"])))
        total = i18n._("=> {earned} / {maximum} points")
    lines.append(total.format(earned=f"{round(sum(c.score for c in checks), 4):g}",
                              maximum=f"{round(sum(c.max_score for c in checks), 4):g}"))
    return lines


def check(*names: str, module: str | Path = "mlp.py", verbose: bool = True, lang: str | None = None) -> float:
    """Grade the checks ``names`` (names or prefixes) on ``module``; return the points earned.

    The lines are in ``lang`` ('en', 'ko'), else ``[report] lang`` of ``$MLP_GRADER_CONFIG``, else
    ``$MLP_GRADER_LANG``, else the language of the release folder (its ``mlp-grade.toml``: Korean in the
    Korean release), else the kernel's locale (``LANG=ko_KR.UTF-8``: Korean). Graded cells call
    ``check(...)`` with names only (``GradeCells`` re-grades such calls): choose the language there."""
    # anything the grader would write to stderr (a warning, say) goes to stdout instead
    with contextlib.redirect_stderr(sys.stdout), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            config = load_config(os.environ.get("MLP_GRADER_CONFIG") or None)
            result = grade(Path(module), config=config, only=names, lang=lang)
        except Exception as exc:  # noqa: BLE001 - a cell must show a message, not a traceback
            with i18n.language(_safe_language(lang, module)):
                print(i18n._("the grader could not run: {error}").format(error=f"{type(exc).__name__}: {exc}"))
            return 0.0
    if verbose:
        with i18n.language(result.lang):
            note = i18n._("note: {note}")
        for w in caught:
            print(note.format(note=f"{w.category.__name__}: {w.message}"))
        for line in report_lines(result.checks, result.lang):
            print(line)
    return result.score


def _safe_language(lang: str | None, module: str | Path) -> str:
    """The language asked for, or the environment's when that cannot be read (a cell never raises)."""
    try:
        return i18n.choose(lang, load_config(os.environ.get("MLP_GRADER_CONFIG") or None),
                           release=i18n.release_language(module))
    except Exception:  # noqa: BLE001
        return i18n.from_environment()
