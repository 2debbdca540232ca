"""Grading from inside the notebook: the autograded nbgrader cells call ``check``.

    from autograder.notebook import check
    check("forward")            # last expression: the points earned

``check`` runs the very checks the CLI runs (same definitions, same points
from the same config) on the ``mlp.py`` beside the notebook, in the sandbox,
prints one line per check to stdout (never stderr: nbgrader zeroes a cell
that writes to stderr) and returns the points earned, which nbgrader takes
as the cell's partial credit. It never raises.
"""
from __future__ import annotations

import os
from pathlib import Path

from .config import load_config
from .grading import grade, select


def cell_points(*names: str, config: dict | None = None) -> float:
    """Maximum points of the checks ``names`` (what the grade cell's metadata must say)."""
    config = config or load_config(os.environ.get("MLP_GRADER_CONFIG") or None)
    return float(sum(config["points"][c.name] for c in select("graded", names)))


def check(*names: str, module: str | Path = "mlp.py", verbose: bool = True) -> float:
    """Grade the checks ``names`` (names or prefixes) on ``module``; return the points earned."""
    try:
        config = load_config(os.environ.get("MLP_GRADER_CONFIG") or None)
        result = grade(Path(module), config=config, only=names)
    except Exception as exc:  # noqa: BLE001 - a cell must show a message, not a traceback
        print(f"the grader could not run: {type(exc).__name__}: {exc}")
        return 0.0
    if verbose:
        for c in result.checks:
            mark = "PASS" if c.passed else ("PART" if c.score > 0 else "FAIL")
            print(f"{mark} {c.name} {c.score:g}/{c.max_score:g}" + (f": {c.message}" if c.message else ""))
        print(f"=> {result.score:g} / {result.max_score:g} points")
    return result.score
