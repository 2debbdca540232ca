"""nbgrader preprocessor: autograded cells get their points from the grader, never from the student's kernel.

nbgrader scores a grade cell from its *outputs*, and the kernel that would
produce them runs the student's own cells and imports the student's
``mlp.py``: one line there can silence every output (no output = full
marks), replace ``check`` or fake the grader's verdicts. ``GradeCells``
replaces nbgrader's ``Execute`` in ``Autograde.autograde_preprocessors``
(see ``templates/nbgrader_config.py``) and runs in the nbgrader process:

* a grade cell whose (trusted: nbgrader's ``OverwriteCells`` has restored it
  from the gradebook) source ends with ``check('a', 'b', ...)`` covers those
  checks;
* the ``mlp.py`` beside the notebook is graded ONCE per notebook with
  :func:`autograder.grading.grade` (every probe of the student's code runs
  in the sandbox, with time limits), for all the checks of all its cells;
* each such cell's outputs are REPLACED by trusted ones: the check lines on
  stdout (as ``autograder.notebook.check`` prints them) and an
  ``execute_result`` with the points earned, clamped to ``[0, cell points]``,
  which nbgrader's ``SaveAutoGrades`` records;
* any other autograded code cell (grade, not solution) could only be scored
  by executing the notebook, which autograde no longer does: it gets an error
  output, hence 0 points, and an error in the log, instead of the full marks
  an empty output would give. Written answers (solution cells) are untouched
  and graded by hand.
"""
from __future__ import annotations

import ast
import math
import os
import time
from pathlib import Path

from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from .. import i18n
from ..config import load_config
from ..grading import STUDENT_FILE, grade, select
from ..notebook import report_lines


def checks_of(source: str) -> tuple[str, ...] | None:
    """The names of ``check('a', 'b', ...)`` when it is the cell's last statement, else None."""
    try:
        body = ast.parse(source).body
    except SyntaxError:  # IPython magics and the like: not one of ours
        return None
    if not body or not isinstance(body[-1], ast.Expr) or not isinstance(body[-1].value, ast.Call):
        return None
    call = body[-1].value
    func = call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", None)
    if func != "check" or call.keywords:
        return None
    if not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call.args):
        return None
    return tuple(a.value for a in call.args)


NOTE = i18n.N_("(recorded by the course's grader on your submitted mlp.py, outside the notebook)")


def _is_autograded_code(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def _stream(text: str):
    return new_output("stream", name="stdout", text=text)


class GradeCells(NbGraderPreprocessor):
    """Score the notebook's ``check(...)`` grade cells with the sandboxed grader, outside the kernel."""

    grader_config = Unicode(
        "", help="The grader's TOML config (points, limits); empty: $MLP_GRADER_CONFIG, else the defaults.",
    ).tag(config=True)
    module = Unicode(STUDENT_FILE, help="The graded module, relative to the notebook's folder.").tag(config=True)
    lang = Unicode(
        "", help="The language of the check lines, 'en' or 'ko'; empty: [report] lang of the grader's config, "
                 "else $MLP_GRADER_LANG or the locale of nbgrader (LANG=ko_KR.UTF-8: Korean).",
    ).tag(config=True)

    def preprocess(self, nb, resources):
        cells = [(cell, checks_of(cell.source)) for cell in nb.cells if _is_autograded_code(cell)]
        ours = [(cell, names) for cell, names in cells if names is not None]
        for cell, names in cells:
            if names is None:
                self.log.error("autograded cell %s is not a check(...) call: autograde does not execute "
                               "notebooks, so it scores 0", cell.metadata["nbgrader"].get("grade_id"))
                cell.outputs = [new_output("error", ename="NotGraded", evalue="", traceback=[
                    "This autograded cell is not a check(...) call of the course's grader; autograde does "
                    "not execute notebooks, so it cannot be scored automatically."])]
        if not ours:
            return nb, resources
        config = load_config(self.grader_config or os.environ.get("MLP_GRADER_CONFIG") or None)
        folder = Path(resources.get("metadata", {}).get("path") or ".")
        # one run for every cell: an empty check() means all checks
        wanted = None if any(not names for _, names in ours) else sorted({n for _, names in ours for n in names})
        started = time.monotonic()
        result = grade(folder / self.module, config=config, only=wanted, lang=self.lang or None)
        self.log.info("graded %s once for %d cells: %g / %g points in %.1f s", folder / self.module, len(ours),
                      result.score, result.max_score, time.monotonic() - started)
        if result.grader_error:
            self.log.error("the grader failed on a check of %s: see its cell", folder / self.module)
        by_name = {c.name: c for c in result.checks}
        for cell, names in ours:
            mine = [by_name[c.name] for c in select("graded", names) if c.name in by_name]
            maximum = float(cell.metadata["nbgrader"]["points"])
            earned = float(sum(c.score for c in mine))
            if sum(c.max_score for c in mine) != maximum:
                self.log.warning("cell %s is worth %g points but its checks %g: check the grader's config",
                                 cell.metadata["nbgrader"]["grade_id"], maximum, sum(c.max_score for c in mine))
            # nbgrader gives FULL points for nan and crashes above the maximum
            points = min(max(earned, 0.0), maximum) if math.isfinite(earned) else 0.0
            with i18n.language(result.lang):
                lines = ([i18n._("note: {note}").format(note=n) for n in result.notes] + report_lines(mine)
                         + [i18n._(NOTE)])
            cell.outputs = [_stream("".join(line + "\n" for line in lines)),
                            new_output("execute_result", data={"text/plain": repr(points)}, execution_count=None)]
            cell.execution_count = None
        return nb, resources
