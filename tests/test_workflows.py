"""Instructor artefacts: Gradescope bundle, student template repo + its workflow, batch grading."""
from __future__ import annotations

import base64
import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from autograder.cli import main as cli
from conftest import FAST, RELEASE, ROOT, SOLUTION, mutate
from test_build import solution_lines

# the module-scoped bundle and template repo are built once: --dist=loadfile keeps this file on one worker
BIN = Path(sys.executable).parent
FAST_CONFIG = """
[grader]
skip = ["accuracy"]
"""


def no_solution_in(folder: Path) -> None:
    secret = solution_lines()
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".ipynb", ".md", ".yml", ".toml", ".sh", ""):
            text = path.read_text(errors="replace")
            assert not [line for line in secret if line in text], f"solution line in {path}"


# ----------------------------------------------------------------------------- Gradescope


@pytest.fixture(scope="module")
def gradescope_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("gs") / "autograder"
    bundle = root.parent / "autograder.zip"
    assert cli(["gradescope-zip", str(bundle), "--root", str(ROOT)]) == 0
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        assert {"setup.sh", "run_autograder", "package/pyproject.toml", "package/autograder/grading.py"} <= set(names)
        assert not [n for n in names if "solution" in n.split("/")[0:2] or n.startswith("package/source")]
        zf.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        os.chmod(root / "source" / script, 0o755)
        subprocess.run(["bash", "-n", str(root / "source" / script)], check=True)
    return root


def run_gradescope(root: Path, submission: Path) -> dict:
    (root / "submission").mkdir(parents=True, exist_ok=True)
    shutil.rmtree(root / "submission")
    shutil.copytree(submission, root / "submission")
    shutil.rmtree(root / "results", ignore_errors=True)
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), MLP_GRADE=str(BIN / "mlp-grade"))
    subprocess.run([str(root / "source" / "run_autograder")], env=env, check=True, timeout=900)
    return json.loads((root / "results" / "results.json").read_text())


def assert_gradescope_schema(results: dict) -> None:
    assert isinstance(results["score"], (int, float)) and isinstance(results["tests"], list)
    assert results["output_format"] in ("text", "html", "simple_format", "md", "ansi")
    for test in results["tests"]:
        assert isinstance(test["name"], str) and test["status"] in ("passed", "failed")
        assert 0 <= test["score"] <= test["max_score"]
        assert test["visibility"] in ("hidden", "after_due_date", "after_published", "visible")


def test_gradescope_bundle_has_no_solution(gradescope_root):
    no_solution_in(gradescope_root / "source")


@pytest.mark.slow
def test_gradescope_run_autograder_on_solution_and_stub(gradescope_root):
    full = run_gradescope(gradescope_root, SOLUTION.parent)
    assert_gradescope_schema(full)
    assert full["score"] == full["max_score"] == 100
    stub = run_gradescope(gradescope_root, RELEASE.parent)
    assert_gradescope_schema(stub)
    assert stub["score"] == 0


def test_gradescope_writes_results_even_when_the_grader_is_missing(gradescope_root, tmp_path):
    (gradescope_root / "submission").mkdir(exist_ok=True)
    shutil.rmtree(gradescope_root / "results", ignore_errors=True)
    env = dict(os.environ, AUTOGRADER_ROOT=str(gradescope_root), MLP_GRADE=str(tmp_path / "missing"))
    subprocess.run([str(gradescope_root / "source" / "run_autograder")], env=env, check=True)
    results = json.loads((gradescope_root / "results" / "results.json").read_text())
    assert results["score"] == 0 and "failed to run" in results["output"]


# ----------------------------------------------------------------------------- student template repo


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory):
    dest = tmp_path_factory.mktemp("student") / "repo"
    assert cli(["release", str(dest), "--root", str(ROOT)]) == 0
    return dest


def test_template_repo_contents(template_repo):
    assert (template_repo / "mlp.py").read_text() == RELEASE.read_text()
    assert (template_repo / "test_mlp_public.py").is_file() and (template_repo / "README.md").is_file()
    no_solution_in(template_repo)


def test_workflow_is_valid_and_trusts_nothing_in_the_repo(template_repo):
    workflow = yaml.safe_load((template_repo / ".github" / "workflows" / "autograding.yml").read_text())
    steps = workflow["jobs"]["grade"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert "classroom-resources/autograding-grading-reporter@v1" in uses
    install = next(s for s in steps if s.get("name") == "Install the course grader")
    assert "MLP_GRADER_SPEC" in install["run"] and "pip install -e" not in install["run"]
    grade_step = next(s for s in steps if s.get("id") == "grade")
    assert "test_mlp_public" not in grade_step["run"], "the score must not come from files the student edits"
    reporter = next(s for s in steps if "grading-reporter" in s.get("uses", ""))
    assert reporter["with"]["runners"] == "grade" and "GRADE_RESULTS" in reporter["env"]


def _run_grade_step(repo: Path, tmp_path: Path) -> tuple[dict, str]:
    workflow = yaml.safe_load((repo / ".github" / "workflows" / "autograding.yml").read_text())
    script = next(s for s in workflow["jobs"]["grade"]["steps"] if s.get("id") == "grade")["run"]
    output, summary = tmp_path / "github_output", tmp_path / "summary"
    env = dict(os.environ, GITHUB_OUTPUT=str(output), GITHUB_STEP_SUMMARY=str(summary),
               PATH=f"{BIN}:{os.environ['PATH']}")
    subprocess.run(["bash", "-e", "-c", script], cwd=repo, env=env, check=True, timeout=600)
    encoded = output.read_text().split("result=", 1)[1].strip()
    return json.loads(base64.b64decode(encoded)), summary.read_text()


def test_workflow_grading_step_runs_locally(template_repo, tmp_path):
    result, summary = _run_grade_step(template_repo, tmp_path)
    assert result["version"] == 1 and result["status"] == "fail" and result["max_score"] == 100
    assert {t["status"] for t in result["tests"]} == {"fail"}
    assert "| ❌ `forward.values` | 0 / 8 |" in summary
    assert (template_repo / "junit.xml").read_text().startswith("<?xml")


# ----------------------------------------------------------------------------- batch


def make_class(root: Path, count: int) -> dict[str, str]:
    """A mix of correct, stub, buggy, broken and hostile submissions; nbgrader layout for half."""
    solution = SOLUTION.read_text()
    kinds = {
        "correct": solution,
        "stub": RELEASE.read_text(),
        "buggy": mutate(solution, [("param -= lr * grads[name]", "param -= grads[name]")]),
        "syntax": "def broken(:\n",
        "hostile": solution.replace("import numpy as np\n", "import numpy as np\nimport os\nos._exit(1)\n", 1),
    }
    plan = {}
    for i in range(count):
        kind = list(kinds)[i % len(kinds)]
        student = f"s{i:02d}_{kind}"
        folder = root / student / ("mlp_backprop" if i % 2 else "")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "mlp.py").write_text(kinds[kind])
        plan[student] = kind
    return plan


def test_batch_grades_resumes_and_writes_csv(tmp_path):
    subs, out = tmp_path / "submitted", tmp_path / "out"
    plan = make_class(subs, 6)
    config = tmp_path / "fast.toml"
    config.write_text(FAST_CONFIG)
    assert cli(["batch", str(subs), "--jobs", "2", "--out", str(out), "--config", str(config)]) == 0
    rows = {r["student"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert set(rows) == set(plan)
    assert "gradient.correctness" in next(iter(rows.values()))
    for student, kind in plan.items():
        total = float(rows[student]["total"])
        assert (total == 90) == (kind == "correct"), (student, total)
        if kind in ("stub", "syntax", "hostile"):
            assert total == 0, (student, total)
    assert 0 < float(rows["s02_buggy"]["total"]) < 90
    # resume: a finished student is skipped; a removed result and a changed submission are graded again
    (out / "results" / "s00_correct.json").unlink()
    stamp = (out / "results" / "s01_stub.json").stat().st_mtime_ns
    (subs / "s03_syntax" / "mlp_backprop" / "mlp.py").write_text(SOLUTION.read_text())
    assert cli(["batch", str(subs), "--jobs", "2", "--out", str(out), "--config", str(config)]) == 0
    assert (out / "results" / "s01_stub.json").stat().st_mtime_ns == stamp
    rows = {r["student"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert float(rows["s00_correct"]["total"]) == 90 and float(rows["s03_syntax"]["total"]) == 90
    assert cli(["batch", str(subs), "--jobs", "2", "--out", str(out), "--config", str(config), "--force"]) == 0
    assert (out / "results" / "s01_stub.json").stat().st_mtime_ns != stamp


def test_batch_killed_half_way_resumes_without_losing_work(tmp_path):
    import signal
    import time

    subs, out = tmp_path / "submitted", tmp_path / "out"
    plan = make_class(subs, 6)
    config = tmp_path / "fast.toml"
    config.write_text(FAST_CONFIG)
    cmd = [str(BIN / "mlp-grade"), "batch", str(subs), "--jobs", "1", "--out", str(out), "--config", str(config)]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list((out / "results").glob("*.json"))) < 2:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}
    assert 2 <= len(finished) < len(plan), "the run was meant to be killed half-way"
    for path in (out / "results").glob("*.json"):
        json.loads(path.read_text())  # every result on disk is whole
    subprocess.run(cmd, check=True, timeout=600, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}
    assert set(after) == {f"{s}.json" for s in plan}
    assert all(after[name] == stamp for name, stamp in finished.items()), "finished students were regraded"
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert len(rows) == len(plan)
