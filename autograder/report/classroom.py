"""GitHub Classroom: one reporter *runner* per check, so that both totals the reporter shows agree.

``classroom-resources/autograding-grading-reporter@v1`` reads one base64 JSON
result per name listed in its ``runners:`` input (the environment variable
``<NAME>_RESULTS``) and computes two totals from them:

* on the console (``Total points for <runner>`` and the summary table), per
  runner: (tests with status ``pass`` / all tests) x the runner's
  ``max_score``, summed over runners;
* in the annotation GitHub Classroom records (``Points <total>/<max>``): the
  sum of every test's ``score``, over the runners whose ``max_score`` is not 0,
  out of the sum of their ``max_score``.

They agree when every runner is *all or nothing*: all its tests pass and their
scores add up to its ``max_score``, or none passes and they score 0. A check
that earned all or none of its points is one such runner. A check that earned
part of them (2 of 4) is split: its own runner keeps the points it lost (status
``fail``, score 0, ``max_score`` 2) and the runner :data:`PARTIAL`, listed
first, holds the points it earned (a passing test scoring 2). Runner by runner
both computations then add the same numbers in the same order (floating point
included): the console adds ``1 * max_score`` or ``0 * max_score`` where the
annotation adds the scores of the same tests, and :data:`PARTIAL`, being first,
is summed from zero in both. Hence ``console total == annotation total ==
Result.score`` and both maxima equal ``Result.max_score``.

The runner list is fixed when the workflow is written (``mlp-grade release``,
from :func:`runner_ids`); the grading step writes every runner's result with
:func:`outputs` (format ``classroom-outputs``), and a runner the grading did
not produce gets a result from the workflow itself (see
``templates/classroom/autograding.yml``), so the reporter never reads an empty
variable.
"""
from __future__ import annotations

import base64
import json
import re
from typing import Any, Iterable

from ..feedback import shown
from ..grading import CheckResult, Result
from ..i18n import _

#: the runner holding the points earned by partially passed checks; first in the list, always present
PARTIAL = "partialCredit"
STUDENT_FILE = "mlp.py"


def runner_id(check_name: str) -> str:
    """The runner (and step output) name of a check: ``gradient.batch_averaging`` -> ``gradientBatchAveraging``.

    Letters and digits only: the reporter reads ``<NAME upper-cased>_RESULTS``
    and its error handling expects ``[a-zA-Z0-9]`` names.
    """
    words = [w for w in re.split(r"[^A-Za-z0-9]+", check_name) if w]
    if not words:
        raise ValueError(f"check name {check_name!r} has no letters or digits")
    return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])


def pipeline_names() -> list[str]:
    from ..checks import PIPELINE

    return [c.name for c in PIPELINE]


def runner_ids(check_names: Iterable[str] | None = None) -> list[str]:
    """:data:`PARTIAL` then one runner per check (default: every check of the pipeline, in order)."""
    ids = [PARTIAL] + [runner_id(n) for n in (pipeline_names() if check_names is None else check_names)]
    upper = [i.upper() for i in ids]
    clashes = sorted({i for i in upper if upper.count(i) > 1})
    if clashes:
        raise ValueError(f"check names give the same Classroom runner: {', '.join(clashes)}")
    return ids


#: longest text kept per field: every result travels as a step output (1 MB per job in all)
MAX_TEXT = 2000


def _test(name: str, status: str, score: float, message: str, code: str, seconds: float = 0.0) -> dict[str, Any]:
    # The reporter prints `message` only for status "error", and `test_code` for every test:
    # the feedback goes into test_code too, so that failing students read why on the console.
    return {"name": name, "status": status, "score": score, "message": message[:MAX_TEXT],
            "test_code": code[:MAX_TEXT], "filename": STUDENT_FILE, "line_no": 0,
            "duration": int(round(seconds * 1000))}


def _runner(status: str, max_score: float, tests: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": 1, "status": status, "max_score": max_score, "tests": tests}


def _points(x: float) -> str:
    return f"{x:g}"


def _feedback(c: CheckResult) -> str:
    return f"{c.title}\n{shown(c.message)}" if c.message else c.title


def runner_results(result: Result, check_names: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every runner's reporter result, in runner order (see the module docstring for why they agree).

    ``check_names``: the checks the workflow lists (default: the pipeline);
    a listed check this grading did not run gets a passing runner worth 0
    points, a check graded but not listed is appended.
    """
    names = list(pipeline_names() if check_names is None else check_names)
    names += [c.name for c in result.checks if c.name not in names]
    by_name = {c.name: c for c in result.checks}
    partial_tests: list[dict[str, Any]] = []
    partial_total = 0.0
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        c = by_name.get(name)
        if c is None:
            results[runner_id(name)] = _runner("pass", 0, [_test(
                _("{check}: not graded in this run (0 points)").format(check=name), "pass", 0, "",
                _("not graded in this run"))])
            continue
        status = {"passed": "pass", "error": "error"}.get(c.status, "fail")
        if c.score >= c.max_score and status == "pass":
            results[runner_id(name)] = _runner("pass", c.max_score, [_test(
                name, "pass", c.max_score, shown(c.message), _feedback(c), c.seconds)])
        elif c.score <= 0:
            results[runner_id(name)] = _runner(status, c.max_score, [_test(
                name, status, 0, shown(c.message), _feedback(c), c.seconds)])
        else:  # partial credit: the lost points stay here, the earned ones go to PARTIAL
            earned, total = c.score, c.max_score
            lost = total - earned
            label = _("{earned} of {total} points").format(earned=_points(earned), total=_points(total))
            results[runner_id(name)] = _runner("error" if status == "error" else "fail", lost, [_test(
                _("{check} ({points}, the {earned} earned are under {runner})").format(
                    check=name, points=label, earned=_points(earned), runner=PARTIAL),
                "error" if status == "error" else "fail", 0, shown(c.message), _feedback(c), c.seconds)])
            partial_tests.append(_test(f"{name}: {label}", "pass", earned, shown(c.message), _feedback(c)))
            partial_total += earned  # left to right from 0, as the reporter's annotation adds the scores
    if not partial_tests:
        nothing = _("no check earned partial credit")
        partial_tests.append(_test(nothing, "pass", 0, "", nothing))
    return {PARTIAL: _runner("pass", partial_total, partial_tests), **results}


def document(result: Result) -> dict[str, Any]:
    """The ``classroom`` format: the runner list and each runner's result, readable."""
    results = runner_results(result)
    return {"runners": list(results), "score": result.score, "max_score": result.max_score,
            "grader_error": result.grader_error, "results": results}


def encode(runner_result: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(runner_result, separators=(",", ":")).encode()).decode("ascii")


def outputs(result: Result) -> str:
    """The ``classroom-outputs`` format: ``<runner>=<base64 JSON>`` lines, ready for ``$GITHUB_OUTPUT``."""
    return "".join(f"{runner}={encode(r)}\n" for runner, r in runner_results(result).items())
