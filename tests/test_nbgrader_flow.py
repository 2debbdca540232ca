"""The real nbgrader flow end to end, in a temporary course and exchange.

generate_assignment -> release_assignment -> fetch_assignment + submit for
four students (reference solution, untouched release, a buggy module, a
module whose import never finishes) -> collect -> autograde ->
generate_feedback -> export. Scores are read from grades.csv and the
gradebook; release/ and the feedback must hold no solution line and no
hidden-check source.
"""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import RELEASE, ROOT, SOLUTION, mnist_available, mutate
from test_build import solution_lines

NBGRADER = Path(sys.executable).with_name("nbgrader")
A = "mlp_backprop"
COURSE = "mlp_course"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not NBGRADER.exists(), reason="nbgrader is not installed (pip install '.[all]')"),
              pytest.mark.skipif(not mnist_available(), reason="MNIST not found: set MLP_DATA_DIR")]


def nbgrader(*args: str, cwd: Path, env: dict) -> str:
    proc = subprocess.run([str(NBGRADER), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    base = tmp_path_factory.mktemp("nbgrader")
    course_dir, exchange = base / "course", base / "exchange"
    fast = base / "grading.toml"
    fast.write_text('[sandbox]\ntimeout_s = 5\n')
    env = dict(os.environ, MLP_NOTEBOOK_QUICK="1", MLP_GRADER_CONFIG=str(fast),
               PATH=f"{NBGRADER.parent}:{os.environ['PATH']}")
    subprocess.run([sys.executable, "-m", "autograder", "nbgrader-course", str(course_dir), "--exchange",
                    str(exchange), "--course-id", COURSE, "--root", str(ROOT)], check=True, env=env)
    config = course_dir / "nbgrader_config.py"
    config.write_text(config.read_text() + "\nc.Execute.timeout = 60\n")
    nbgrader("generate_assignment", A, "--force", cwd=course_dir, env=env)
    nbgrader("release_assignment", A, "--force", cwd=course_dir, env=env)
    solution = SOLUTION.read_text()
    modules = {
        "alice": solution,
        "bob": None,  # untouched release
        "carol": mutate(solution, [('"b1": grad_hidden.sum(axis=0) / batch_sz', '"b1": grad_hidden.sum(axis=0)'),
                                   ("param -= lr * grads[name]", "param -= 0.5 * lr * grads[name]")]),
        "dave": solution.replace("import numpy as np\n", "import numpy as np\nwhile True:\n    pass\n", 1),
    }
    flags = [f"--Exchange.root={exchange}", f"--course={COURSE}"]
    for student, module in modules.items():
        home = base / "students" / student
        home.mkdir(parents=True)
        nbgrader("fetch_assignment", A, *flags, cwd=home, env=env)
        if module is not None:
            (home / A / "mlp.py").write_text(module)
        nbgrader("submit", A, *flags, f"--CourseDirectory.student_id={student}", cwd=home, env=env)
    nbgrader("collect", A, cwd=course_dir, env=env)
    nbgrader("autograde", A, "--create", "--force", cwd=course_dir, env=env)
    nbgrader("generate_feedback", A, "--force", cwd=course_dir, env=env)
    nbgrader("export", cwd=course_dir, env=env)
    return course_dir


def scores(course_dir: Path) -> dict[str, float]:
    with (course_dir / "grades.csv").open() as f:
        return {row["student_id"]: float(row["raw_score"] or 0) for row in csv.DictReader(f)}


def autograded_points(course_dir: Path) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        out = {}
        for student in ("alice", "bob", "carol", "dave"):
            sub = gb.find_submission(A, student)
            out[student] = sum(g.auto_score or 0 for nb in sub.notebooks for g in nb.grades)
        return out


def test_scores_full_zero_partial_and_timeout(course):
    auto = autograded_points(course)
    assert auto["alice"] == 100, auto
    assert auto["bob"] == 0, auto
    assert 0 < auto["carol"] < 100, auto
    assert auto["dave"] == 0, auto
    assert set(scores(course)) >= {"alice", "bob", "carol", "dave"}
    assert scores(course)["alice"] >= 100


def test_student_module_was_graded_not_the_instructors(course):
    graded = (course / "autograded" / "alice" / A / "mlp.py").read_text()
    assert graded == SOLUTION.read_text()
    assert (course / "autograded" / "bob" / A / "mlp.py").read_text() == RELEASE.read_text()


def test_no_solution_in_release_or_feedback(course):
    secret = solution_lines()
    released = [p for p in (course / "release").rglob("*") if p.is_file()]
    assert len(released) >= 3
    for path in released:
        assert not [line for line in secret if line in path.read_text(errors="replace")], f"solution line in {path}"
    pages = list((course / "feedback").rglob("*.html"))
    assert len(pages) == 4
    for page in pages:
        student = page.relative_to(course / "feedback").parts[0]
        own = {line.strip() for line in (course / "submitted" / student / A / "mlp.py").read_text().splitlines()}
        text = page.read_text()
        # a student's own code may come back to them; nothing else of the solution may
        assert not [line for line in secret - own if line in text], f"solution line in {page}"


def test_feedback_shows_check_results_but_no_hidden_source(course):
    html = (course / "feedback" / "carol" / A / f"{A}.html").read_text()
    assert "gradient.batch_averaging" in html, "feedback should show the check lines"
    for hidden in ("BEGIN HIDDEN TESTS", "def probe_", "reference.forward"):
        assert hidden not in html
    timeout_html = (course / "feedback" / "dave" / A / f"{A}.html").read_text()
    assert "did not return within" in timeout_html
