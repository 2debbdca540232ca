"""The report formats as their real consumers read them: GitHub Classroom's reporter, JUnit XSD, Gradescope.

* GitHub Classroom: a faithful re-implementation of the two totals of
  ``classroom-resources/autograding-grading-reporter@v1`` (below) must agree,
  partial credit included, and equal the grader's score.
* JUnit: every file validates against Jenkins xunit's ``junit-10.xsd``
  (``tests/schemas/``, vendored from pytest) with a real XSD validator.
* Gradescope: every ``results.json`` validates against a JSON schema written
  from Gradescope's specification (``tests/schemas/gradescope_results.schema.json``).
"""
from __future__ import annotations

import base64
import binascii
import json
import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import xmlschema

from autograder import grade
from autograder.config import ConfigError, load_config
from autograder.grading import CheckResult, Result, select
from autograder.report import render
from autograder.report.classroom import PARTIAL, runner_id, runner_ids, runner_results
from autograder.report.formats import hidden_visibility
from conftest import FAST, RELEASE, SOLUTION

SCHEMAS = Path(__file__).parent / "schemas"
JUNIT_XSD = xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd"))
GRADESCOPE = jsonschema.Draft202012Validator(json.loads((SCHEMAS / "gradescope_results.schema.json").read_text()))
CLASSROOM = jsonschema.Draft202012Validator(json.loads((SCHEMAS / "classroom_result.schema.json").read_text()))


# ----------------------------------------------------------------------------- the Classroom reporter
#
# What classroom-resources/autograding-grading-reporter does with the results, at tag v1
# (commit d13b5912daf5042ac1b71bc38bdb4a6bcd61d8ca, the release `@v1` runs: dist/main.js, built
# from src/ at commit ca700ea7):
# * src/main.js: `core.getInput("runners").split(",")`, for each runner
#   `process.env[`${runner.trim().toUpperCase()}_RESULTS`]`, `Buffer.from(.., "base64")`, `JSON.parse`
#   (an empty variable -> "Unexpected end of JSON input", nothing reported); after both reports,
#   `setFailed("Some tests failed.")` if a runner's status is "fail", else "Some tests errored." if "error".
# * src/helpers/test-helpers.js: `getMaxScoreForTest = r => r.max_score || 0`;
#   `getTestScore = r => (tests with status "pass") / r.tests.length * (getMaxScoreForTest(r) || 0)`.
# * src/console-results.js: per runner, when max != 0, "Total points for <runner>: score.toFixed(2)/max".
# * src/aggregate-results.js: the summary table, `Total:` = sum of getTestScore, sum of max, reduced from 0.
# * src/notify-classroom.js: for each runner with a truthy max_score, maxPoints += max_score and
#   totalPoints += every test's score; no annotation when maxPoints is 0; else the notice
#   "Points <totalPoints>/<maxPoints>" that GitHub Classroom records.


class ReporterError(Exception):
    """The reporter failed before reporting anything (as node would throw)."""


def reporter_read(runners_input: str, env: dict[str, str]) -> list[tuple[str, dict]]:
    """src/main.js: the runners' results from the environment, or ReporterError."""
    out = []
    for runner in runners_input.split(","):
        encoded = env.get(f"{runner.strip().upper()}_RESULTS")
        if encoded is None:
            raise ReporterError("The first argument must be of type string ... Received undefined")
        try:
            text = base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ReporterError(f"undecodable result for {runner}: {exc}") from None
        if not text:
            raise ReporterError("Unexpected end of JSON input")
        out.append((runner, json.loads(text)))
    return out


def _max(results: dict) -> float:
    return results.get("max_score") or 0  # `max_score || 0`


def reporter_console(runner_results: list[tuple[str, dict]]) -> tuple[float, float]:
    """The summary table's Total row (aggregate-results.js over test-helpers.getTestScore)."""
    score = total_max = 0
    for _, results in runner_results:
        passed = sum(1 for t in results["tests"] if t["status"] == "pass")
        runner_score = passed / len(results["tests"]) * (_max(results) or 0)  # NaN in JS for 0 tests
        score += runner_score
        total_max += results["max_score"]
    return score, total_max


def reporter_runner_lines(runner_results: list[tuple[str, dict]]) -> list[str]:
    """console-results.js: "Total points for <runner>: <score.toFixed(2)>/<max>" for runners worth points."""
    lines = []
    for runner, results in runner_results:
        passed = sum(1 for t in results["tests"] if t["status"] == "pass")
        score = passed / len(results["tests"]) * (_max(results) or 0)
        if _max(results) != 0:
            lines.append(f"Total points for {runner}: {score:.2f}/{js_str(_max(results))}")
    return lines


def reporter_annotation(runner_results: list[tuple[str, dict]]) -> tuple[float, float] | None:
    """notify-classroom.js: (totalPoints, maxPoints) GitHub Classroom records, None when no notice."""
    total = maxpoints = 0
    for _, results in runner_results:
        if not results.get("max_score"):
            continue
        maxpoints += results["max_score"]
        for test in results["tests"]:
            total += test["score"]
    return (total, maxpoints) if maxpoints else None


def reporter_failure(runner_results: list[tuple[str, dict]]) -> str | None:
    statuses = {results["status"] for _, results in runner_results}
    return "Some tests failed." if "fail" in statuses else "Some tests errored." if "error" in statuses else None


def js_str(x: float) -> str:
    """JavaScript's Number -> string for the values reported here (no exponent forms)."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def reporter_from_result(result: Result) -> list[tuple[str, dict]]:
    """What the reporter reads when the workflow hands it this result (through base64, as in the workflow)."""
    results = runner_results(result)
    env = {f"{r.upper()}_RESULTS": base64.b64encode(json.dumps(v).encode()).decode() for r, v in results.items()}
    return reporter_read(",".join(results), env)


def assert_reporter_agrees(read: list[tuple[str, dict]], score: float | None = None,
                           max_score: float | None = None) -> None:
    """Console total == recorded total, as the same floating-point numbers (so the same printed text)."""
    for _, results in read:
        CLASSROOM.validate(results)
    console, console_max = reporter_console(read)
    annotation = reporter_annotation(read)
    assert annotation is not None, "GitHub Classroom would record nothing"
    assert (console, console_max) == annotation, (console, console_max, annotation)
    assert js_str(console) == js_str(annotation[0]) and js_str(console_max) == js_str(annotation[1])
    if score is not None:
        assert annotation == (score, max_score), (annotation, score, max_score)


def real_reporter(read: list[tuple[str, dict]]) -> str | None:
    """The real reporter's output when $MLP_CLASSROOM_REPORTER_JS names its dist/main.js (and node exists)."""
    main_js = os.environ.get("MLP_CLASSROOM_REPORTER_JS")
    if not main_js or shutil.which("node") is None:
        return None
    env = dict(os.environ, INPUT_RUNNERS=",".join(r for r, _ in read))
    env.update({f"{r.upper()}_RESULTS": base64.b64encode(json.dumps(v).encode()).decode() for r, v in read})
    return subprocess.run(["node", main_js], env=env, capture_output=True, text=True, timeout=60).stdout


def check(name: str, score: float, max_score: float, status: str | None = None, message: str = "",
          visibility: str = "visible") -> CheckResult:
    status = status or ("passed" if score >= max_score else "failed")
    return CheckResult(name, f"title of {name}", score, max_score, status, message, visibility, 0.25)


def synthetic(scores: dict[str, float], errors: tuple[str, ...] = (), not_run: tuple[str, ...] = (),
              notes: tuple[str, ...] = ()) -> Result:
    """A Result over the default checks and points: given scores, every other check full marks."""
    points = load_config()["points"]
    checks = []
    for c in select("graded"):
        top = float(points[c.name])
        if c.name in errors:
            checks.append(check(c.name, 0.0, top, "error", "the grader could not run this check: simulated",
                                c.visibility))
        elif c.name in not_run:  # as grading.py then feedback.say_once write them
            first = next(n for n in (x.name for x in select("graded")) if n in not_run)
            message = ("not run: MLP.forward never returned in forward.shape (infinite loop?); fix that first"
                       if c.name == first else f"same cause as in {first}")
            checks.append(check(c.name, 0.0, top, "failed", message, c.visibility))
        else:
            score = scores.get(c.name, top)
            checks.append(check(c.name, score, top, message="" if score >= top else "lost points here",
                                visibility=c.visibility))
    return Result("sub", "graded", checks, notes=list(notes),
                  isolation={"level": "strict", "layers": {"landlock_filesystem": "in force"}})


@pytest.fixture(scope="module")
def release_result():
    return grade(RELEASE.parent, only=FAST)


@pytest.fixture(scope="module")
def solution_result():
    return grade(SOLUTION.parent, only=FAST)


# ----------------------------------------------------------------------------- Classroom


def legacy_single_runner(result: Result) -> list[tuple[str, dict]]:
    """The former format: one runner for the whole grading, the score of each check on its test."""
    tests = [{"status": "pass" if c.passed else "fail", "score": c.score} for c in result.checks]
    return [("grade", {"status": "fail", "max_score": result.max_score, "tests": tests})]


def test_the_issue_58_of_100_was_shown_as_78_57_and_now_reads_58_everywhere():
    # 22 of 28 checks pass (22/28 = 78.57 %) while the points add to 58 of 100
    lost = ["gradient.correctness", "gradient.consistency", "gradient.batch_averaging", "forward.shape",
            "forward.values", "compute_grad.upstream"]
    result = synthetic({name: 0.0 for name in lost})
    assert result.score == 58 and len(result.checks) == 28
    old = legacy_single_runner(result)
    assert round(reporter_console(old)[0], 2) == 78.57 and reporter_annotation(old) == (58, 100)
    read = reporter_from_result(result)
    assert_reporter_agrees(read, 58, 100)
    assert reporter_failure(read) == "Some tests failed."


def test_partial_credit_agrees_two_of_four_and_a_quarter_tier():
    result = synthetic({"gradient.shapes": 2.0, "accuracy.mnist": 2.5, "loss.value": 0.0})
    assert result.score == 100 - 2 - 7.5 - 5
    read = reporter_from_result(result)
    assert_reporter_agrees(read, result.score, result.max_score)
    by_runner = dict(read)
    partial = by_runner[PARTIAL]
    assert read[0][0] == PARTIAL and partial["status"] == "pass" and partial["max_score"] == 4.5
    assert [t["score"] for t in partial["tests"]] == [2.0, 2.5]
    assert by_runner["gradientShapes"]["max_score"] == 2 and by_runner["gradientShapes"]["status"] == "fail"
    assert by_runner["accuracyMnist"]["max_score"] == 7.5
    lines = reporter_runner_lines(read)
    assert f"Total points for {PARTIAL}: 4.50/4.5" in lines and "Total points for accuracyMnist: 0.00/7.5" in lines


def test_full_marks_zero_errors_and_checks_not_run_agree():
    for result in (synthetic({}), synthetic({n: 0.0 for n in load_config()["points"]}),
                   synthetic({"accuracy.mnist": 5.0}, errors=("loss.value",), not_run=("forward.values",))):
        read = reporter_from_result(result)
        assert_reporter_agrees(read, result.score, result.max_score)
    read = dict(reporter_from_result(synthetic({}, errors=("loss.value",))))
    assert read["lossValue"]["status"] == "error" and read["lossValue"]["tests"][0]["status"] == "error"
    assert reporter_failure(list(read.items())) == "Some tests errored."
    assert reporter_failure(reporter_from_result(synthetic({}))) is None


@pytest.mark.parametrize("seed", range(25))
def test_random_partial_scores_agree_to_the_last_bit(seed):
    rnd = random.Random(seed)
    points = load_config()["points"]
    scores = {}
    for name, top in points.items():
        kind = rnd.random()
        if kind < 0.4:
            scores[name] = round(top * rnd.choice([1 / 3, 2 / 3, 0.1, 0.7, 0.123456, 0.99999]), 4)
        elif kind < 0.7:
            scores[name] = 0.0
    result = synthetic(scores, errors=tuple(n for n in points if rnd.random() < 0.05))
    assert_reporter_agrees(reporter_from_result(result))
    # with points and tiers like the default ones (halves, quarters) the totals are the grader's, exactly
    dyadic = {n: float(points[n]) * rnd.choice([0, 0.25, 0.5, 0.75, 1]) for n in points}
    result = synthetic(dyadic)
    assert_reporter_agrees(reporter_from_result(result), result.score, result.max_score)


def test_checks_not_graded_get_a_runner_worth_nothing_and_totals_stay_the_grader_s(release_result):
    read = reporter_from_result(release_result)  # FAST: no accuracy check
    assert [r for r, _ in read] == runner_ids()
    assert_reporter_agrees(read, release_result.score, release_result.max_score)
    accuracy = dict(read)["accuracyMnist"]
    assert accuracy["max_score"] == 0 and accuracy["status"] == "pass"


def test_runner_names_are_what_the_reporter_accepts():
    ids = runner_ids()
    assert ids[0] == PARTIAL and len(ids) == len(select("graded")) + 1
    assert re.fullmatch(r"([a-zA-Z0-9]+,)*[a-zA-Z0-9]+", ",".join(ids)), "main.js's accepted runners input"
    assert len({i.upper() for i in ids}) == len(ids), "the reporter upper-cases names for the variables"
    assert runner_id("gradient.batch_averaging") == "gradientBatchAveraging"
    assert runner_id("interface.MLP") == "interfaceMLP"
    with pytest.raises(ValueError):
        runner_ids(["a.b", "a_b"])


def test_classroom_formats(release_result):
    document = json.loads(render(release_result, "classroom"))
    assert document["runners"] == runner_ids() and document["score"] == release_result.score
    for runner in document["runners"]:
        CLASSROOM.validate(document["results"][runner])
    lines = render(release_result, "classroom-outputs").splitlines()
    assert [line.split("=", 1)[0] for line in lines] == runner_ids()
    for line in lines:
        runner, encoded = line.split("=", 1)
        assert json.loads(base64.b64decode(encoded)) == document["results"][runner]
    forward = document["results"]["forwardShape"]["tests"][0]
    assert release_result["forward.shape"].message in forward["test_code"], "students read the feedback on the console"


def test_the_real_reporter_prints_the_same_totals_when_available():
    """Runs only with $MLP_CLASSROOM_REPORTER_JS (the reporter's dist/main.js at v1) and node."""
    result = synthetic({"gradient.shapes": 2.0, "accuracy.mnist": 2.5}, errors=("loss.value",))
    output = real_reporter(reporter_from_result(result))
    if output is None:
        pytest.skip("set MLP_CLASSROOM_REPORTER_JS to the reporter's dist/main.js (needs node)")
    assert f"Points {js_str(result.score)}/{js_str(result.max_score)}" in output
    table = re.search(r"Total:\s*│\s*(\S+)\s*│\s*(\S+)\s*│", re.sub(r"\x1b\[[0-9;]*m", "", output))
    assert table and table.groups() == (js_str(result.score), js_str(result.max_score)), output


# ----------------------------------------------------------------------------- JUnit


def junit_valid(xml: str) -> None:
    JUNIT_XSD.validate(xml)


def test_junit_validates_against_junit_10_xsd(release_result, solution_result):
    for result in (release_result, solution_result, synthetic({"accuracy.mnist": 2.5}, errors=("loss.value",),
                                                              not_run=("forward.values", "train.epochs"))):
        junit_valid(render(result, "junit"))


def test_junit_schema_is_strict_enough_to_have_caught_the_old_format():
    old = ('<testsuites><testsuite name="s" tests="1" failures="0" errors="0"><testcase name="c">'
           '<properties><property name="score" value="1"/></properties></testcase></testsuite></testsuites>')
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        junit_valid(old)
    with pytest.raises(xmlschema.XMLSchemaValidationError):  # no file attribute on a testcase
        junit_valid('<testsuites><testsuite name="s" tests="1" failures="0" errors="0">'
                    '<testcase name="c" file="mlp.py"/></testsuite></testsuites>')


def test_junit_scores_file_skipped_and_errors():
    import xml.etree.ElementTree as ET

    result = synthetic({"gradient.shapes": 2.0}, errors=("loss.value",), not_run=("forward.values", "train.epochs"))
    xml = render(result, "junit")
    junit_valid(xml)
    suite = ET.fromstring(xml).find("testsuite")
    assert suite.get("file") == "mlp.py"
    counts = [suite.get(k) for k in ("tests", "failures", "errors", "skipped")]
    assert counts == ["28", "1", "1", "2"]
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["score"] == "83" and props["max_score"] == "100"  # lost: 2 + 5 + 8 + 2
    assert props["points.gradient.shapes"] == "2/4" and props["isolation"] == "strict"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert all(c.find("properties") is None for c in cases.values())
    for name in ("forward.values", "train.epochs"):  # the second says "same cause as in forward.values"
        assert cases[name].find("skipped").get("message").startswith("not run: MLP.forward never returned")
        assert cases[name].find("failure") is None
    assert "same cause as in forward.values" in cases["train.epochs"].find("skipped").get("message")
    assert cases["loss.value"].find("error") is not None
    assert cases["gradient.shapes"].find("failure").get("message").startswith("2/4 points: ")
    assert len(list(cases["gradient.correctness"])) == 0


def test_junit_reports_checks_a_hang_kept_from_running_as_skipped(submit, solution_text):
    import xml.etree.ElementTree as ET

    start = solution_text.index("def forward(self, data")
    body = solution_text.index("\n", solution_text.index(":\n", start)) + 1
    line = solution_text[body:solution_text.index("\n", body)]
    indent = line[:len(line) - len(line.lstrip())]
    hanging = solution_text[:body] + f"{indent}while True:\n{indent}    pass\n" + solution_text[body:]
    config = load_config(overrides={"sandbox": {"timeout_s": 2}})
    result = grade(submit(hanging), config=config, only=["forward", "predict", "train.epochs"])
    xml = render(result, "junit")
    junit_valid(xml)
    cases = {c.get("name"): c for c in ET.fromstring(xml).iter("testcase")}
    assert cases["forward.shape"].find("failure") is not None, "the check that hung failed"
    skipped = [name for name, case in cases.items() if case.find("skipped") is not None]
    assert skipped == ["forward.values", "forward.input_unchanged", "forward.params_honoured", "predict.values"]
    assert all(cases[n].find("skipped").get("message").startswith("not run: MLP.forward never returned")
               for n in skipped)
    assert len(list(cases["train.epochs"])) == 0


def test_junit_survives_control_characters_in_student_messages():
    import xml.etree.ElementTree as ET

    result = synthetic({"forward.values": 0.0})
    result["forward.values"].message = "bad\x00byte \x1b[31mred\x1b[0m <tag> & \"quotes\" \ud800"
    xml = render(result, "junit")
    junit_valid(xml)
    failure = ET.fromstring(xml).find("testsuite/testcase[@name='forward.values']/failure")
    assert "<tag> & \"quotes\"" in failure.text and "\\x00" in failure.text


# ----------------------------------------------------------------------------- Gradescope


def gradescope_valid(text: str) -> dict:
    report = json.loads(text)
    GRADESCOPE.validate(report)
    return report


def test_gradescope_results_validate_field_by_field(release_result, solution_result):
    for result in (release_result, solution_result, synthetic({"accuracy.mnist": 2.5}, errors=("loss.value",),
                                                              notes=("note for the instructor",))):
        report = gradescope_valid(render(result, "gradescope"))
        assert "max_score" not in report
        assert report["score"] == sum(t["score"] for t in report["tests"]) == result.score
        assert sum(t["max_score"] for t in report["tests"]) == result.max_score


def test_gradescope_schema_rejects_what_gradescope_does_not_document():
    report = json.loads(render(synthetic({}), "gradescope"))
    for broken in ({**report, "max_score": 100}, {**report, "visibility": "public"},
                   {**report, "tests": [{**report["tests"][0], "visibility": "after_deadline"}]},
                   {**report, "tests": [{**report["tests"][0], "status": "error"}]},
                   {**report, "tests": [{**report["tests"][0], "hidden": True}]}):
        with pytest.raises(jsonschema.ValidationError):
            GRADESCOPE.validate(broken)
    without_score = {k: v for k, v in report.items() if k != "score"}
    GRADESCOPE.validate(without_score)
    with pytest.raises(jsonschema.ValidationError):  # then every test needs its score
        GRADESCOPE.validate({**without_score, "tests": [{"name": "x", "status": "passed"}]})


def test_gradescope_hidden_checks_use_gradescope_visibility():
    result = synthetic({"gradient.correctness": 0.0})
    hidden = {c.name for c in result.checks if c.visibility == "hidden"}
    assert hidden, "the pipeline has hidden checks"
    default = gradescope_valid(render(result, "gradescope"))
    for test in default["tests"]:
        name = test["name"].split(":")[0]
        assert test["visibility"] == ("after_due_date" if name in hidden else "visible"), test
        assert "hidden" not in test["tags"] and "visible" not in test["tags"]
    config = load_config(overrides={"report": {"hidden_visibility": "after_published"}})
    published = gradescope_valid(render(result, "gradescope", config=config))
    assert {t["visibility"] for t in published["tests"]} == {"visible", "after_published"}
    # a config asking to show hidden checks is refused when loaded; a raw dict saying so still hides them
    with pytest.raises(ConfigError, match="hidden_visibility"):
        load_config(overrides={"report": {"hidden_visibility": "visible"}})
    assert hidden_visibility({"report": {"hidden_visibility": "visible"}}) == "after_due_date"
    with pytest.raises(ValueError):
        hidden_visibility({"report": {"hidden_visibility": "later"}}, strict=True)


def test_gradescope_student_output_has_no_instructor_matter_and_no_hidden_total():
    result = synthetic({"gradient.correctness": 0.0}, errors=("loss.value",), notes=("worker crashed on host x",))
    report = gradescope_valid(render(result, "gradescope"))
    output = report["output"]
    assert "worker crashed" not in output and "isolation" not in output and "strict" not in output
    assert "Total" not in output and f"{result.score:g} / {result.max_score:g}" not in output, \
        "the total leaks while hidden checks are not shown"
    assert "after the due date" in output and "not your fault" in output
    shown = [c for c in result.checks if c.visibility == "visible"]
    assert f"{sum(c.score for c in shown):g} / {sum(c.max_score for c in shown):g}" in output
    assert report["extra_data"]["notes"] == ["worker crashed on host x"]
    assert report["extra_data"]["isolation"]["level"] == "strict"
    assert report["extra_data"]["errors"] == ["loss.value"]
    everything_visible = Result("sub", "graded", [c for c in result.checks if c.visibility == "visible"])
    assert gradescope_valid(render(everything_visible, "gradescope"))["output"].startswith("Total: ")


# ----------------------------------------------------------------------------- Markdown (job summary)


def test_markdown_shows_student_text_as_text():
    """Feedback quotes student code: in the job summary it must not become a link, an image or a tag."""
    hostile = "raised ValueError: ![x](https://evil.example/p.png) [click](https://evil.example) <img src=x> a|b\nc"
    result = synthetic({"forward.shape": 0.0})
    result.checks[[c.name for c in result.checks].index("forward.shape")].message = hostile
    row = next(line for line in render(result, "markdown").splitlines() if "forward.shape" in line)
    assert "](" not in row.replace("\\](", "") and "<img" not in row, row
    assert r"!\[x\](https://evil.example/p.png)" in row and "&lt;img src=x&gt;" in row
    assert r"a\|b c" in row and row.count(" | ") == 2, row
