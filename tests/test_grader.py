"""The grader on the reference solution and the untouched release, and its report formats."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from autograder import grade
from autograder.cli import main as cli
from autograder.config import load_config
from autograder.grading import select
from autograder.report import render
from conftest import said, FAST, RELEASE, SOLUTION, mnist_available


@pytest.fixture(scope="module")
def solution_fast():
    return grade(SOLUTION.parent, only=FAST)


@pytest.fixture(scope="module")
def release_result():
    return grade(RELEASE.parent)


def test_default_points_total_100():
    config = load_config()
    names = [c.name for c in select("graded")]
    assert sorted(names) == sorted(config["points"]), "every check has points and every points entry a check"
    assert sum(config["points"].values()) == 100


def test_solution_passes_every_fast_check(solution_fast):
    failed = [(c.name, c.message) for c in solution_fast.checks if not c.passed]
    assert not failed, failed
    assert solution_fast.score == solution_fast.max_score


@pytest.mark.slow
@pytest.mark.skipif(not mnist_available(), reason="MNIST not found: set MLP_DATA_DIR (CI sets ../shared/data)")
def test_solution_scores_100_including_mnist_accuracy():
    result = grade(SOLUTION.parent)
    assert [(c.name, c.message) for c in result.checks if not c.passed] == []
    assert result.score == 100 == result.max_score
    assert "test accuracy" in result["accuracy.mnist"].message
    print(f"\nfull grading of the solution: {result.seconds:.1f} s; {result['accuracy.mnist'].message}")


def test_release_scores_zero_and_says_not_implemented(release_result):
    assert release_result.score == 0
    assert not release_result.grader_error
    for check in release_result.checks:
        assert check.status == "failed", check.name
        assert "not implemented" in said(release_result, check.name), (check.name, check.message)


def test_missing_file_still_gives_a_full_report(tmp_path):
    result = grade(tmp_path, only=FAST)
    assert result.score == 0 and len(result.checks) == len(select("graded", FAST))
    assert "no mlp.py found in the submission" in result.checks[0].message and result.refused
    assert all("same cause as in" in c.message for c in result.checks[1:])  # said once


def test_syntax_error_is_named_with_its_line(submit, solution_text):
    folder = submit(solution_text.replace("def predict(model, data):", "def predict(model, data)"))
    result = grade(folder, only=FAST)
    assert result.score == 0
    assert "syntax error on line" in result["interface.make_labels_onehot"].message
    assert "syntax error on line" in said(result, "forward.values")
    assert sum("syntax error" in c.message for c in result.checks) == 1  # said once


def test_a_missing_function_costs_only_its_own_checks(submit, solution_text):
    text = solution_text[:solution_text.index("def predict(model, data):")]
    result = grade(submit(text), only=FAST)
    lost = {c.name for c in result.checks if not c.passed}
    assert lost == {"interface.predict", "predict.values"}, lost
    assert "does not define predict" in result["interface.predict"].message


def test_grading_twice_gives_identical_reports(submit, solution_text):
    buggy = solution_text.replace('"b1": grad_hidden.sum(axis=0) / batch_sz', '"b1": grad_hidden.sum(axis=0)')
    folder = submit(buggy)
    first, second = (json.loads(render(grade(folder, only=FAST), "json")) for _ in range(2))
    for report in (first, second):
        report.pop("execution_time")
    assert first == second
    assert first["score"] < sum(t["max_score"] for t in first["tests"])


def test_hidden_inputs_depend_on_the_secret(submit, solution_text, monkeypatch):
    folder = submit(solution_text.replace("np.maximum(data @ p[\"W1\"] + p[\"b1\"], 0.0)", "data @ p[\"W1\"] + p[\"b1\"]"))
    messages = set()
    for secret in ("one", "two"):
        monkeypatch.setenv("MLP_GRADER_SECRET", secret)
        messages.add(grade(folder, only=["forward.values"])["forward.values"].message)
    assert len(messages) == 2, "different secrets must draw different hidden inputs"


def test_gradescope_json_schema(solution_fast):
    report = json.loads(render(solution_fast, "gradescope"))
    assert set(report) >= {"score", "execution_time", "output", "tests"} and "max_score" not in report
    for test in report["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in ("hidden", "after_due_date", "after_published", "visible")
    assert report["score"] == sum(t["score"] for t in report["tests"])


def test_junit_and_classroom_formats(release_result):
    root = ET.fromstring(render(release_result, "junit"))
    suite = root.find("testsuite")
    assert int(suite.get("tests")) == len(release_result.checks)
    assert int(suite.get("failures")) == len(release_result.checks)
    assert all(case.find("failure") is not None for case in suite.iter("testcase"))
    classroom = json.loads(render(release_result, "classroom"))
    assert classroom["max_score"] == release_result.max_score
    runners = {name: r for name, r in classroom["results"].items() if name != "partialCredit"}
    assert {r["status"] for r in runners.values()} == {"fail"}
    assert sum(r["max_score"] for r in runners.values()) == release_result.max_score


def test_text_report_explains_every_lost_point(release_result):
    text = render(release_result, "text")
    assert text.count("-> ") == len(release_result.checks)
    assert "Total: 0 / 100" in text
    assert "\033[" not in text and "\033[" in render(release_result, "text", color=True)


def test_cli_exit_codes_and_out_file(tmp_path, capsys):
    out = tmp_path / "r" / "results.json"
    assert cli([str(RELEASE.parent), "--format", "json", "--out", str(out), "--only", "interface"]) == 0
    assert json.loads(out.read_text())["score"] == 0
    assert cli([str(RELEASE.parent), "--only", "interface", "--fail-under", "50"]) == 1
    assert "Total: 0 / 5" in capsys.readouterr().out
    with pytest.raises(SystemExit) as usage:
        cli([str(tmp_path / "nope")])
    assert usage.value.code == 2


def test_public_suite_is_fixed_and_has_no_training(submit, solution_text, monkeypatch):
    folder = submit(solution_text)
    names = [c.name for c in select("public")]
    assert "accuracy.mnist" not in names
    monkeypatch.setenv("MLP_GRADER_SECRET", "a")
    first = grade(folder, suite="public", only=["forward"])
    monkeypatch.setenv("MLP_GRADER_SECRET", "b")
    second = grade(folder, suite="public", only=["forward"])
    assert [c.message for c in first.checks] == [c.message for c in second.checks]
    assert first.score == first.max_score


def test_import_that_never_finishes_is_tried_once(submit):
    from autograder.config import load_config

    config = load_config(overrides={"sandbox": {"timeout_s": 3}})
    result = grade(submit("import numpy as np\nwhile True:\n    pass\n"), config=config, only=FAST)
    assert result.score == 0
    assert all("importing mlp.py did not return within 3 s" in said(result, c.name) for c in result.checks)
    assert "keep experiments under `if __name__ == \"__main__\":`" in result.checks[0].message
    assert result.seconds < 20


@pytest.mark.parametrize("tree, passes", [("solution", True), ("assignment", False)])
def test_public_checks_run_with_plain_pytest(tree, passes, tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    folder = tmp_path / "student"
    folder.mkdir()
    for name in ("mlp.py", "test_mlp_public.py"):
        (folder / name).write_text((ROOT / tree / "mlp_backprop" / name).read_text())
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_mlp_public.py"],
                          cwd=folder, capture_output=True, text=True, timeout=600)
    assert (proc.returncode == 0) == passes, proc.stdout[-2000:]
    if not passes:
        assert "not implemented yet" in proc.stdout and "failed" in proc.stdout
