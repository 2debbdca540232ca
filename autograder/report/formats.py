"""Report formats, each written for the program that reads it.

* ``text``: for a terminal (colour when asked), one line per check and one
  actionable line per lost point;
* ``json`` / ``gradescope``: Gradescope's ``results.json`` (autograder
  specifications): public checks ``visible``, hidden ones shown
  ``after_due_date`` or ``after_published`` (``[report] hidden_visibility``),
  instructor matters (confinement, notes) only in ``extra_data``;
* ``junit``: JUnit XML valid against Jenkins xunit's ``junit-10.xsd`` (the
  schema pytest checks its own output against): points as suite properties and
  in messages, ``file="mlp.py"`` on the suite (annotating actions fall back to
  it), checks not run as ``<skipped>``;
* ``classroom`` / ``classroom-outputs``: GitHub Classroom's grading reporter,
  one runner per check (see :mod:`autograder.report.classroom`): the runners'
  results as readable JSON, or as ``<runner>=<base64>`` lines for
  ``$GITHUB_OUTPUT``;
* ``markdown``: a table for a CI job summary.
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from .. import i18n
from ..feedback import ECHO
from ..feedback import shown as readable
from ..grading import NOT_RUN, CheckResult, Result
from ..i18n import N_, _, ngettext
from . import classroom as _classroom

GREEN, RED, YELLOW, BOLD, RESET = "\033[32m", "\033[31m", "\033[33m", "\033[1m", "\033[0m"

#: Gradescope's visibility values (autograder specifications, "Controlling Test Case Visibility")
GRADESCOPE_VISIBILITY = ("hidden", "after_due_date", "after_published", "visible")
#: what ``[report] hidden_visibility`` may say: when students see the checks marked hidden
HIDDEN_VISIBILITY_CHOICES = ("after_due_date", "after_published", "hidden")
DEFAULT_HIDDEN_VISIBILITY = "after_due_date"
#: the message grading.py gives a check it skipped because a function it needs never returned
NOT_RUN_PREFIX = "not run:"
STUDENT_FILE = "mlp.py"


def _fmt(x: float) -> str:
    return f"{x:g}"


_SUITES = {"graded": N_("mlp_backprop autograder — {submission} (graded checks)"),
           "public": N_("mlp_backprop autograder — {submission} (public checks)")}


def _heading(result: Result) -> str:
    shown = Path(result.submission).name or result.submission  # never the instructor's absolute path
    if result.suite in _SUITES:
        return _(_SUITES[result.suite]).format(submission=shown)
    return f"mlp_backprop autograder — {shown} ({result.suite} checks)"


#: the mark of a check in the text report and the notebook: passed, partial credit, failed, the grader failed
MARKS = {"passed": N_("PASS"), "partial": N_("PART"), "failed": N_("FAIL"), "error": N_("ERR")}
_MARK_COLOR = {"passed": GREEN, "partial": YELLOW, "failed": RED, "error": YELLOW}
#: what ERR means, said once under a report that has one
GRADER_FAILED = N_("{mark} means that the grader itself failed on that check, not the submission.")


def outcome(c: CheckResult) -> str:
    """'passed', 'partial', 'failed' or 'error' (the grader failed): the key of :data:`MARKS`."""
    if c.status == "failed" and c.score > 0:
        return "partial"
    return c.status if c.status in MARKS else "failed"


def mark(c: CheckResult) -> str:
    """The mark of ``c`` in the current language (PASS, PART, FAIL, ERR)."""
    return _(MARKS[outcome(c)])


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal (Hangul and other wide characters take two)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


@i18n.in_language_of_result
def text(result: Result, color: bool = False) -> str:
    paint = (lambda code, s: f"{code}{s}{RESET}") if color else (lambda code, s: s)  # noqa: E731
    lines = [paint(BOLD, _heading(result)), ""]
    width = max((len(c.name) for c in result.checks), default=10)
    marks = {key: _(label) for key, label in MARKS.items()}
    mark_width = max(_width(label) for label in marks.values())
    for c in result.checks:
        label = marks[outcome(c)]
        painted = paint(_MARK_COLOR[outcome(c)], label) + " " * (mark_width - _width(label))
        lines.append(f"{painted}  {c.name:<{width}}  {_fmt(c.score):>4}/{_fmt(c.max_score):<3} {c.title}")
        if c.message:
            lines.append(f"{'':<{mark_width}}  {'':<{width}}  -> {readable(c.message)}")
    seconds = _("({seconds} s)").format(seconds=f"{result.seconds:.1f}")
    lines += ["", paint(BOLD, _(TOTAL).format(score=_fmt(result.score), maximum=_fmt(result.max_score))) +
              f"   {seconds}"]
    lines += [paint(YELLOW, _("note: {note}").format(note=readable(n))) for n in result.notes]
    if result.grader_error or any(outcome(c) == "error" for c in result.checks):
        lines.append(paint(YELLOW, _(GRADER_FAILED).format(mark=marks["error"])))
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- Gradescope


def hidden_visibility(config: dict[str, Any] | None, strict: bool = False) -> str:
    """When Gradescope shows students the checks marked hidden: ``[report] hidden_visibility``.

    An unknown value raises ``ValueError`` when ``strict`` (bundling); otherwise
    the default, ``after_due_date``, is used, so a typo never shows hidden checks early.
    """
    value = ((config or {}).get("report") or {}).get("hidden_visibility", DEFAULT_HIDDEN_VISIBILITY)
    if value in HIDDEN_VISIBILITY_CHOICES:
        return value
    if strict:
        raise ValueError(f"[report] hidden_visibility = {value!r}: expected one of "
                         f"{', '.join(HIDDEN_VISIBILITY_CHOICES)}")
    return DEFAULT_HIDDEN_VISIBILITY


_WHEN = {"after_due_date": N_("after the due date"), "after_published": N_("when grades are published"),
         "hidden": N_("to your instructor only")}
TOTAL = N_("Total: {score} / {maximum}")


@i18n.in_language_of_result
def gradescope(result: Result, config: dict[str, Any] | None = None) -> str:
    """Gradescope's ``results.json``: only documented fields, Gradescope's visibility values.

    Students see the top-level ``output``: it holds no instructor notes and,
    while some checks are not shown, no total either (Gradescope hides the total
    score then; the output must not give it away).
    """
    later = hidden_visibility(config)
    tests = []
    for number, c in enumerate(result.checks, 1):
        tests.append({
            "name": f"{c.name}: {c.title}", "number": str(number), "score": c.score, "max_score": c.max_score,
            "status": "passed" if c.passed else "failed", "output": readable(c.message) or _("passed"),
            "visibility": "visible" if c.visibility == "visible" else later,
            "tags": [c.name.split(".")[0]],
        })
    shown = [c for c in result.checks if c.visibility == "visible"]
    unseen = [c for c in result.checks if c.visibility != "visible"]
    if not unseen:
        summary = _(TOTAL).format(score=_fmt(result.score), maximum=_fmt(result.max_score))
    else:
        summary = ngettext("Checks shown now: {earned} / {shown} points. {count} more check ({unseen} points) and the "
                           "total are shown {when}.",
                           "Checks shown now: {earned} / {shown} points. {count} more checks ({unseen} points) and the "
                           "total are shown {when}.", len(unseen)).format(
            earned=_fmt(sum(c.score for c in shown)), shown=_fmt(sum(c.max_score for c in shown)), count=len(unseen),
            unseen=_fmt(sum(c.max_score for c in unseen)), when=_(_WHEN[later]))
    if result.grader_error:
        summary += "\n" + readable(_("The grader itself failed on a check: this is not your fault; please tell your instructor."))
    extra = {"isolation": result.isolation, "notes": list(result.notes), "grader_error": result.grader_error,
             "errors": [c.name for c in result.checks if c.status == "error"]}
    out = {"score": result.score, "execution_time": round(result.seconds, 3), "output": summary,
           "output_format": "text", "test_output_format": "text", "test_name_format": "text",
           "visibility": "visible", "stdout_visibility": "hidden", "extra_data": extra, "tests": tests}
    return json.dumps(out, indent=2) + "\n"


# ----------------------------------------------------------------------------- JUnit

# XML 1.0 forbids most control characters (and lone surrogates): student messages may carry them
_XML_ILLEGAL = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(value: str) -> str:
    return _XML_ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)


def not_run(checks: list[CheckResult]) -> dict[str, str]:
    """The checks grading.py did not run (a function they need hung earlier) -> why: JUnit ``<skipped>``.

    grading.py says ``not run: ...``; feedback.say_once then shortens the same
    reason in later checks to ``same cause as in <check>``: those are not run either.
    Both are recognised in every language of ``autograder.i18n``.
    """
    found: dict[str, str] = {}
    for c in checks:
        if c.status != "failed" or c.score > 0:
            continue
        if c.message.startswith(NOT_RUN_PREFIX) or i18n.parse(NOT_RUN, c.message) is not None:
            found[c.name] = c.message
            continue
        echo = i18n.parse(ECHO, c.message)
        sources = [name.strip() for name in echo["checks"].split(",")] if echo else []
        if sources and all(name in found for name in sources):
            found[c.name] = f"{found[sources[0]]} ({c.message})"
    return found


@i18n.in_language_of_result
def junit(result: Result) -> str:
    """JUnit XML that validates against ``junit-10.xsd``.

    That schema allows ``<properties>`` only on ``<testsuite>`` and no ``file``
    or ``line`` on ``<testcase>``: scores are suite properties (``score``,
    ``max_score``, ``points.<check>`` = ``earned/max``) and lead each
    failure message; ``file="mlp.py"`` is on the suite, which
    ``mikepenz/action-junit-report`` (v5+) uses for every testcase without one.
    """
    skipped = not_run(result.checks)
    failures = sum(1 for c in result.checks if c.status == "failed" and c.name not in skipped)
    errors = sum(1 for c in result.checks if c.status == "error")
    counts = {"tests": str(len(result.checks)), "failures": str(failures), "errors": str(errors)}
    seconds = f"{result.seconds:.3f}"
    root = ET.Element("testsuites", {"name": "mlp_backprop", **counts, "time": seconds})
    suite = ET.SubElement(root, "testsuite", {"name": "mlp_backprop", **counts, "skipped": str(len(skipped)),
                                              "time": seconds, "file": STUDENT_FILE})
    properties = ET.SubElement(suite, "properties")

    def prop(name: str, value: str) -> None:
        ET.SubElement(properties, "property", name=_xml_text(name), value=_xml_text(value))

    prop("score", _fmt(result.score))
    prop("max_score", _fmt(result.max_score))
    for c in result.checks:
        prop(f"points.{c.name}", f"{_fmt(c.score)}/{_fmt(c.max_score)}")
    if result.isolation:  # for the instructor: the confinement student code ran under
        prop("isolation", str(result.isolation.get("level")))
        prop("isolation_layers", ", ".join(name for name, state in result.isolation.get("layers", {}).items()
                                           if state == "in force"))
    for c in result.checks:
        case = ET.SubElement(suite, "testcase", classname=f"mlp_backprop.{c.name.split('.')[0]}", name=c.name,
                             time=f"{c.seconds:.3f}")
        message = _xml_text(readable(c.message))
        points = _("{score}/{maximum} points: {message}").format(score=_fmt(c.score), maximum=_fmt(c.max_score),
                                                                  message=message)[:1000]
        if c.name in skipped:
            ET.SubElement(case, "skipped", type="not run", message=_xml_text(readable(skipped[c.name]))[:1000])
        elif c.status == "error":
            node = ET.SubElement(case, "error", type="grader error", message=points)
            node.text = message
        elif c.status != "passed":
            node = ET.SubElement(case, "failure", type="partial credit" if c.score > 0 else "failed", message=points)
            node.text = message
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


# ----------------------------------------------------------------------------- GitHub Classroom


@i18n.in_language_of_result
def classroom(result: Result) -> str:
    """Every Classroom runner's result (what the reporter reads), as one readable JSON document."""
    return json.dumps(_classroom.document(result), indent=2) + "\n"


@i18n.in_language_of_result
def classroom_outputs(result: Result) -> str:
    """``<runner>=<base64 JSON>`` per runner: append to ``$GITHUB_OUTPUT`` in the grading step."""
    return _classroom.outputs(result)


def markdown_cell(value: Any) -> str:
    """``value`` as the text of one Markdown table cell: one line, no column break, and no link, image or
    HTML tag (feedback quotes student code, which could otherwise make a viewer fetch an address)."""
    text = " ".join(str(value).split())
    for char, escaped in (("\\", "\\\\"), ("|", "\\|"), ("[", "\\["), ("]", "\\]"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(char, escaped)
    return text


@i18n.in_language_of_result
def markdown(result: Result) -> str:
    rows = [_("| check | points | feedback |"), "|---|---:|---|"]
    for c in result.checks:
        icon = "✅" if c.passed else ("⚠️" if c.status == "error" else "❌")
        rows.append(f"| {icon} `{c.name}` | {_fmt(c.score)} / {_fmt(c.max_score)} | {markdown_cell(readable(c.message or ''))} |")
    return (f"### mlp_backprop: {_fmt(result.score)} / {_fmt(result.max_score)}\n\n" + "\n".join(rows) + "\n")


FORMATS = {"text": text, "json": gradescope, "gradescope": gradescope, "junit": junit, "classroom": classroom,
           "classroom-outputs": classroom_outputs, "markdown": markdown}


def render(result: Result, fmt: str, color: bool = False, config: dict[str, Any] | None = None) -> str:
    """``result`` in format ``fmt``; ``config`` (the grading config) gives Gradescope's hidden-check visibility."""
    if fmt == "text":
        return text(result, color=color)
    if fmt in ("json", "gradescope"):
        return gradescope(result, config=config)
    return FORMATS[fmt](result)
