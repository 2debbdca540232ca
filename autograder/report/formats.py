"""Report formats.

* ``text``: for a terminal (colour when asked), one line per check and one
  actionable line per lost point;
* ``json`` / ``gradescope``: Gradescope's ``results.json`` schema;
* ``junit``: JUnit XML (one testcase per check) for CI test tabs;
* ``classroom``: the JSON result GitHub Classroom's grading reporter reads
  (base64 it for the ``<ID>_RESULTS`` output);
* ``markdown``: a table for a CI job summary.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from ..grading import Result

GREEN, RED, YELLOW, BOLD, RESET = "\033[32m", "\033[31m", "\033[33m", "\033[1m", "\033[0m"


def _fmt(x: float) -> str:
    return f"{x:g}"


def text(result: Result, color: bool = False) -> str:
    paint = (lambda code, s: f"{code}{s}{RESET}") if color else (lambda code, s: s)  # noqa: E731
    lines = [paint(BOLD, f"mlp_backprop autograder — {result.submission} ({result.suite} checks)"), ""]
    width = max((len(c.name) for c in result.checks), default=10)
    for c in result.checks:
        mark = {"passed": paint(GREEN, "PASS"), "failed": paint(RED, "FAIL"), "error": paint(YELLOW, "ERR ")}[c.status]
        if c.status == "failed" and c.score > 0:
            mark = paint(YELLOW, "PART")
        lines.append(f"{mark}  {c.name:<{width}}  {_fmt(c.score):>4}/{_fmt(c.max_score):<3} {c.title}")
        if c.message:
            lines.append(f"      {'':<{width}}  -> {c.message}")
    lines += ["", paint(BOLD, f"Total: {_fmt(result.score)} / {_fmt(result.max_score)}") +
              f"   ({result.seconds:.1f} s)"]
    lines += [paint(YELLOW, f"note: {n}") for n in result.notes]
    if result.grader_error:
        lines.append(paint(YELLOW, "The grader itself failed on a check (ERR): this is not the submission's fault."))
    return "\n".join(lines) + "\n"


def gradescope(result: Result) -> str:
    tests = []
    for number, c in enumerate(result.checks, 1):
        tests.append({
            "name": f"{c.name}: {c.title}", "number": str(number), "score": c.score, "max_score": c.max_score,
            "status": "passed" if c.passed else "failed", "output": c.message or "passed",
            "visibility": "visible", "tags": [c.name.split(".")[0], c.visibility],
        })
    out = {"score": result.score, "max_score": result.max_score, "execution_time": round(result.seconds, 3),
           "output": f"Total {_fmt(result.score)} / {_fmt(result.max_score)}" +
                     "".join(f"\nnote: {n}" for n in result.notes),
           "output_format": "text", "visibility": "visible", "stdout_visibility": "hidden", "tests": tests,
           "extra_data": {"isolation": result.isolation}}
    return json.dumps(out, indent=2) + "\n"


def junit(result: Result) -> str:
    failures = sum(1 for c in result.checks if c.status == "failed")
    errors = sum(1 for c in result.checks if c.status == "error")
    suite = ET.Element("testsuite", name="mlp_backprop", tests=str(len(result.checks)), failures=str(failures),
                       errors=str(errors), time=f"{result.seconds:.3f}")
    if result.isolation:
        ET.SubElement(suite, "properties").extend([
            ET.Element("property", name="isolation", value=str(result.isolation.get("level"))),
            ET.Element("property", name="isolation_layers", value=", ".join(
                name for name, state in result.isolation.get("layers", {}).items() if state == "in force"))])
    for c in result.checks:
        case = ET.SubElement(suite, "testcase", classname=f"mlp_backprop.{c.name.split('.')[0]}", name=c.name,
                             time=f"{c.seconds:.3f}")
        ET.SubElement(case, "properties").extend([
            ET.Element("property", name="score", value=_fmt(c.score)),
            ET.Element("property", name="max_score", value=_fmt(c.max_score))])
        if c.status != "passed":
            tag = "error" if c.status == "error" else "failure"
            node = ET.SubElement(case, tag, message=f"{_fmt(c.score)}/{_fmt(c.max_score)}: {c.message}"[:1000])
            node.text = c.message
    root = ET.Element("testsuites", tests=str(len(result.checks)), failures=str(failures), errors=str(errors))
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def classroom(result: Result) -> str:
    status = "error" if result.grader_error else ("pass" if result.score >= result.max_score else "fail")
    tests = [{"name": c.name, "status": {"passed": "pass", "failed": "fail"}.get(c.status, "error"),
              "score": c.score, "message": c.message or "passed", "test_code": c.title, "filename": "mlp.py",
              "line_no": 0, "duration": int(c.seconds * 1000)} for c in result.checks]
    return json.dumps({"version": 1, "status": status, "max_score": result.max_score, "tests": tests}) + "\n"


def markdown(result: Result) -> str:
    rows = ["| check | points | feedback |", "|---|---:|---|"]
    for c in result.checks:
        icon = "✅" if c.passed else ("⚠️" if c.status == "error" else "❌")
        message = (c.message or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| {icon} `{c.name}` | {_fmt(c.score)} / {_fmt(c.max_score)} | {message} |")
    return (f"### mlp_backprop: {_fmt(result.score)} / {_fmt(result.max_score)}\n\n" + "\n".join(rows) + "\n")


FORMATS = {"text": text, "json": gradescope, "gradescope": gradescope, "junit": junit, "classroom": classroom,
           "markdown": markdown}


def render(result: Result, fmt: str, color: bool = False) -> str:
    if fmt == "text":
        return text(result, color=color)
    return FORMATS[fmt](result)
