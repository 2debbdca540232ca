"""Instructor artefacts: Gradescope bundle, student template repo + its workflow, batch grading."""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from autograder.cli import main as cli
from autograder.config import ConfigError
from autograder.report.classroom import PARTIAL, runner_ids
from conftest import BIN, FAST, RELEASE, ROOT, SOLUTION, mutate
from test_build import solution_lines
from test_report_formats import (CLASSROOM, GRADESCOPE, JUNIT_XSD, ReporterError, assert_reporter_agrees, js_str,
                                 real_reporter, reporter_annotation, reporter_failure, reporter_read)

# the module-scoped bundle and template repo are built once: --dist=loadfile keeps this file on one worker
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
    """Field by field against the schema written from Gradescope's specification."""
    GRADESCOPE.validate(results)
    for test in results["tests"]:
        assert 0 <= test["score"] <= test["max_score"]


def test_gradescope_bundle_has_no_solution(gradescope_root):
    no_solution_in(gradescope_root / "source")


@pytest.mark.slow
def test_gradescope_run_autograder_on_solution_and_stub(gradescope_root):
    full = run_gradescope(gradescope_root, SOLUTION.parent)
    assert_gradescope_schema(full)
    assert full["score"] == sum(t["max_score"] for t in full["tests"]) == 100
    stub = run_gradescope(gradescope_root, RELEASE.parent)
    assert_gradescope_schema(stub)
    assert stub["score"] == 0


def test_gradescope_writes_results_even_when_the_grader_is_missing(gradescope_root, tmp_path):
    (gradescope_root / "submission").mkdir(exist_ok=True)
    shutil.rmtree(gradescope_root / "results", ignore_errors=True)
    env = dict(os.environ, AUTOGRADER_ROOT=str(gradescope_root), MLP_GRADE=str(tmp_path / "missing"))
    subprocess.run([str(gradescope_root / "source" / "run_autograder")], env=env, check=True)
    results = json.loads((gradescope_root / "results" / "results.json").read_text())
    assert_gradescope_schema(results)
    assert results["score"] == 0 and "failed to run" in results["output"]


def test_gradescope_stub_results_follow_the_spec(gradescope_root):
    results = run_gradescope(gradescope_root, RELEASE.parent)
    assert_gradescope_schema(results)
    assert "max_score" not in results and results["score"] == 0
    visibility = {t["name"].split(":")[0]: t["visibility"] for t in results["tests"]}
    assert visibility["accuracy.mnist"] == "after_due_date" and visibility["forward.shape"] == "visible"
    assert "isolation" in results["extra_data"] and "isolation" not in results["output"]


def test_gradescope_bundle_refuses_an_unknown_hidden_visibility(tmp_path):
    config = tmp_path / "grading.toml"
    config.write_text('[report]\nhidden_visibility = "later"\n')
    from autograder.workflows.packaging import gradescope_zip

    with pytest.raises(ConfigError, match="hidden_visibility"):
        gradescope_zip(ROOT, tmp_path / "bundle.zip", config)


def test_gradescope_bundle_honours_the_instructor_s_hidden_visibility(tmp_path):
    config = tmp_path / "grading.toml"
    config.write_text('[report]\nhidden_visibility = "after_published"\n[grader]\nskip = ["accuracy"]\n')
    root = tmp_path / "autograder"
    bundle = tmp_path / "autograder.zip"
    assert cli(["gradescope-zip", str(bundle), "--root", str(ROOT), "--config", str(config)]) == 0
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root / "source")
    os.chmod(root / "source" / "run_autograder", 0o755)
    results = run_gradescope(root, RELEASE.parent)
    assert_gradescope_schema(results)
    assert {t["visibility"] for t in results["tests"]} == {"visible", "after_published"}


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


def load_workflow(repo: Path) -> dict:
    return yaml.safe_load((repo / ".github" / "workflows" / "autograding.yml").read_text())


def test_workflow_is_valid_and_trusts_nothing_in_the_repo(template_repo):
    workflow = load_workflow(template_repo)
    steps = workflow["jobs"]["grade"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert "classroom-resources/autograding-grading-reporter@v1" in uses
    install = next(s for s in steps if s.get("name") == "Install the course grader")
    assert "MLP_GRADER_SPEC" in install["run"] and "pip install -e" not in install["run"]
    grade_step = next(s for s in steps if s.get("id") == "grade")
    assert "test_mlp_public" not in grade_step["run"], "the score must not come from files the student edits"
    assert grade_step["if"] == "${{ !cancelled() }}" and grade_step["shell"] == "bash"
    assert "rm -f classroom.out" in grade_step["run"], "a committed classroom.out must not stand in for a result"


def test_workflow_lists_one_runner_per_check_and_wires_each_result(template_repo):
    steps = load_workflow(template_repo)["jobs"]["grade"]["steps"]
    grade_step = next(s for s in steps if s.get("id") == "grade")
    reporter = next(s for s in steps if "grading-reporter" in s.get("uses", ""))
    runners = reporter["with"]["runners"].split(",")
    assert runners == runner_ids() and runners[0] == PARTIAL
    assert grade_step["env"]["MLP_CLASSROOM_RUNNERS"] == reporter["with"]["runners"]
    assert reporter["env"] == {f"{r.upper()}_RESULTS": f"${{{{ steps.grade.outputs.{r} }}}}" for r in runners}
    points = [float(x) for x in str(grade_step["env"]["MLP_CLASSROOM_POINTS"]).split(",")]
    assert len(points) == len(runners) and sum(points) == 100 and points[0] == 0
    assert reporter["if"] == "always()"


def _runner_env(reporter: dict, outputs: dict[str, str]) -> dict[str, str]:
    """The reporter step's env as GitHub Actions evaluates it: a missing step output is an empty string."""
    env = {}
    for key, expression in reporter["env"].items():
        match = re.fullmatch(r"\$\{\{ steps\.grade\.outputs\.(\w+) \}\}", expression)
        assert match, expression
        env[key] = outputs.get(match.group(1), "")
    return env


def run_grade_step(repo: Path, tmp_path: Path, path_first: Path | None = None, env: dict | None = None):
    """Run the workflow's grading step as GitHub does (`shell: bash`), then read it as the reporter does.

    ``env``: the runner's environment (default this one, with ``path_first`` and this venv's scripts on PATH).
    Returns (exit status, the runners' results as the reporter reads them, the job summary).
    """
    workflow = load_workflow(repo)
    steps = workflow["jobs"]["grade"]["steps"]
    grade_step = next(s for s in steps if s.get("id") == "grade")
    reporter = next(s for s in steps if "grading-reporter" in s.get("uses", ""))
    script = tmp_path / "grade_step.sh"
    script.write_text(grade_step["run"])
    output, summary = tmp_path / "github_output", tmp_path / "summary"
    output.write_text("")
    summary.write_text("")
    if env is None:
        path = f"{BIN}:{os.environ['PATH']}" if path_first is None else f"{path_first}:{BIN}:{os.environ['PATH']}"
        env = dict(os.environ, PATH=path)
    env = dict(env, GITHUB_OUTPUT=str(output), GITHUB_STEP_SUMMARY=str(summary),
               **{k: str(v) for k, v in grade_step["env"].items()})
    # `shell: bash` runs `bash --noprofile --norc -eo pipefail {0}`
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=repo, env=env,
                          timeout=900, capture_output=True, text=True)
    outputs = {}
    for line in output.read_text().splitlines():
        name, _, value = line.partition("=")
        assert name not in outputs, f"output {name} written twice"
        outputs[name] = value
    read = reporter_read(reporter["with"]["runners"], _runner_env(reporter, outputs))
    for _, result in read:
        CLASSROOM.validate(result)
    return proc, read, summary.read_text()


def test_an_empty_result_is_what_made_the_reporter_record_nothing(template_repo):
    reporter = next(s for s in load_workflow(template_repo)["jobs"]["grade"]["steps"]
                    if "grading-reporter" in s.get("uses", ""))
    with pytest.raises(ReporterError, match="Unexpected end of JSON input"):
        reporter_read(reporter["with"]["runners"], _runner_env(reporter, {}))


def test_workflow_grading_step_runs_locally(template_repo, tmp_path):
    proc, read, summary = run_grade_step(template_repo, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [r for r, _ in read] == runner_ids()
    assert_reporter_agrees(read, 0, 100)
    assert reporter_failure(read) == "Some tests failed."
    by_runner = dict(read)
    assert by_runner["forwardValues"]["status"] == "fail" and by_runner["forwardValues"]["max_score"] == 8
    assert "| ❌ `forward.values` | 0 / 8 |" in summary
    junit = (template_repo / "junit.xml").read_text()
    assert junit.startswith("<?xml")
    JUNIT_XSD.validate(junit)
    output = real_reporter(read)
    if output is not None:
        assert "Points 0/100" in output


def _shim(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "mlp-grade"
    shim.write_text(body)
    shim.chmod(0o755)
    return folder


def test_workflow_hands_the_reporter_an_error_result_when_the_grader_exits_3(template_repo, tmp_path):
    forged = template_repo / "classroom.out"  # committed by a student: must not be used
    forged.write_text("".join(f"{r}=eyJ2ZXJzaW9uIjoxfQ==\n" for r in runner_ids()))
    try:
        shims = _shim(tmp_path / "shims", "#!/bin/sh\necho 'mlp-grade: simulated failure' >&2\nexit 3\n")
        proc, read, _ = run_grade_step(template_repo, tmp_path, path_first=shims)
    finally:
        forged.unlink(missing_ok=True)
    assert proc.returncode == 3, "the step must fail visibly"
    assert "::error title=The grader failed::" in proc.stdout
    assert {result["status"] for _, result in read} == {"error"}
    assert_reporter_agrees(read, 0, 100)  # recorded: 0 of the 100 points, status error
    assert reporter_annotation(read) == (0, 100)
    assert reporter_failure(read) == "Some tests errored."
    assert "exit status 3" in read[1][1]["tests"][0]["message"]
    output = real_reporter(read)
    if output is not None:
        assert "Points 0/100" in output and "Some tests errored." in output


def test_workflow_keeps_the_report_of_a_grader_error_and_fails(template_repo, tmp_path):
    """A real grader error (exit 3, reports written): that check says error, the rest is graded."""
    patch = tmp_path / "grader_error.py"
    patch.write_text(
        "import sys\n"
        "from autograder.checks import PIPELINE, GraderError\n"
        "def broken(self, ctx):\n"
        "    raise GraderError('simulated: the grader lost its reference data')\n"
        "for check in PIPELINE:\n"
        "    if check.name == 'loss.value':\n"
        "        type(check).run = broken\n"
        "from autograder.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n")
    shims = _shim(tmp_path / "shims", f'#!/bin/sh\nexec "{sys.executable}" "{patch}" "$@"\n')
    proc, read, summary = run_grade_step(template_repo, tmp_path, path_first=shims)
    assert proc.returncode == 3, proc.stderr
    by_runner = dict(read)
    assert by_runner["lossValue"]["status"] == "error" and by_runner["lossValue"]["max_score"] == 5
    assert "simulated" in by_runner["lossValue"]["tests"][0]["message"]
    assert by_runner["forwardShape"]["status"] == "fail"
    assert_reporter_agrees(read, 0, 100)
    assert "⚠️ `loss.value`" in summary
    junit = (template_repo / "junit.xml").read_text()
    JUNIT_XSD.validate(junit)
    assert '<error type="grader error"' in junit
    assert js_str(reporter_annotation(read)[1]) == "100"


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
