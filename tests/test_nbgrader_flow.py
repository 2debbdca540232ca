"""The real nbgrader flow end to end, in a temporary course and exchange.

generate_assignment -> release_assignment -> fetch_assignment + submit ->
collect -> autograde -> generate_feedback -> export, for honest students
(reference solution, untouched release, a buggy module, a module whose
import never finishes) and students who attack the kernel-side scoring with
the untouched stub (silenced outputs, a replaced ``check``, a faked
``grade``, a cell returning 1000, forged outputs in the grade cells).
Autograde does not execute the notebook: the course's ``GradeCells``
preprocessor grades ``mlp.py`` in the nbgrader process, so every attacker
scores what the untouched stub scores. Scores are read from grades.csv and
the gradebook; release/ and the feedback must hold no solution line and no
hidden-check source.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from conftest import RELEASE, ROOT, SOLUTION, mnist_available, mutate
from test_build import solution_lines

NBGRADER = Path(sys.executable).with_name("nbgrader")
A = "mlp_backprop"
COURSE = "mlp_course"
OLD_CELL_TIMEOUT_S = 900  # what the course allowed per executed cell before autograde stopped executing
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not NBGRADER.exists(), reason="nbgrader is not installed (pip install '.[all]')"),
              pytest.mark.skipif(not mnist_available(), reason="MNIST not found: set MLP_DATA_DIR")]

# --- the attacks, each on the untouched release stub -------------------------------------------

#: in an editable cell: no cell shows an output any more, and nbgrader gives full marks for no output
SILENCE = 'get_ipython().ast_node_interactivity = "none"\n'
#: in mlp.py, at import (the notebook imports it in the kernel): every check(...) returns the cell's maximum
REPLACE_CHECK = ("try:\n    import autograder.notebook as n; n.check = n.cell_points\n"
                 "except Exception:\n    pass\n")
#: in mlp.py, at import: the grader's API marks every check passed
FAKE_GRADE = """try:
    import autograder.grading as _g, autograder.notebook as _n
    _real_grade = _g.grade

    def _all_passed(*args, **kwargs):
        result = _real_grade(*args, **kwargs)
        for c in result.checks:
            c.score, c.status = c.max_score, "passed"
        return result

    _g.grade = _n.grade = _all_passed
except Exception:
    pass
"""
#: in an editable cell: check(...) prints a huge number and returns 1000 (above every cell's maximum)
RETURN_1000 = ("import autograder.notebook as _n\n"
               "_n.check = lambda *names, **kw: (print('PASS', 10 ** 300), 1000)[1]\n"
               "print(10 ** 300)\n1000\n")
HONEST_ANSWER = "Averaging keeps the step size independent of the batch size (alice's own words)."
STUDENTS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan")
ATTACKERS = ("erin", "frank", "grace", "heidi", "ivan")


def nbgrader(*args: str, cwd: Path, env: dict) -> str:
    proc = subprocess.run([str(NBGRADER), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def with_stub_prefix(code: str) -> str:
    """The untouched release stub with ``code`` run at import, right after numpy."""
    stub = RELEASE.read_text()
    return mutate(stub, [("import numpy as np\n", "import numpy as np\n" + code)])


def edit_notebook(path: Path, student: str) -> None:
    """What a student can do to the fetched notebook file."""
    nb = nbformat.read(path, as_version=4)
    meta = lambda cell: cell.metadata.get("nbgrader", {})  # noqa: E731
    editable_code = [c for c in nb.cells if c.cell_type == "code" and meta(c).get("solution")]
    assert editable_code, "the notebook has no editable (solution) code cell"
    if student == "erin":
        editable_code[0].source += "\n" + SILENCE
    elif student == "heidi":
        editable_code[0].source += "\n" + RETURN_1000
    elif student == "ivan":
        # outputs saved in the file: full points in each grade cell, and one of the student's own
        for cell in nb.cells:
            if cell.cell_type == "code" and meta(cell).get("grade"):
                points = meta(cell)["points"]
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"PASS everything {points}\n"),
                                nbformat.v4.new_output("execute_result", data={"text/plain": repr(points)},
                                                       execution_count=1)]
        editable_code[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="ivan's own output\n")]
    elif student == "alice":
        answer = next(c for c in nb.cells if meta(c).get("grade_id") == "q_batch_average")
        answer.source = HONEST_ANSWER
    nbformat.write(nb, path)


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
    nbgrader("generate_assignment", A, "--force", cwd=course_dir, env=env)
    nbgrader("release_assignment", A, "--force", cwd=course_dir, env=env)
    solution = SOLUTION.read_text()
    modules = {
        "alice": solution,
        "bob": None,  # untouched release
        "carol": mutate(solution, [('"b1": grad_hidden.sum(axis=0) / batch_sz', '"b1": grad_hidden.sum(axis=0)'),
                                   ("param -= lr * grads[name]", "param -= 0.5 * lr * grads[name]")]),
        "dave": solution.replace("import numpy as np\n", "import numpy as np\nwhile True:\n    pass\n", 1),
        "erin": None,
        "frank": with_stub_prefix(REPLACE_CHECK),
        "grace": with_stub_prefix(FAKE_GRADE),
        "heidi": None,
        "ivan": None,
    }
    assert tuple(modules) == STUDENTS
    flags = [f"--Exchange.root={exchange}", f"--course={COURSE}"]
    for student, module in modules.items():
        home = base / "students" / student
        home.mkdir(parents=True)
        nbgrader("fetch_assignment", A, *flags, cwd=home, env=env)
        if module is not None:
            (home / A / "mlp.py").write_text(module)
        edit_notebook(home / A / f"{A}.ipynb", student)
        nbgrader("submit", A, *flags, f"--CourseDirectory.student_id={student}", cwd=home, env=env)
    nbgrader("collect", A, cwd=course_dir, env=env)
    timings, logs = {}, {}
    started = time.monotonic()
    logs["dave"] = nbgrader("autograde", A, "--create", "--force", "--student=dave", cwd=course_dir, env=env)
    timings["dave"] = time.monotonic() - started
    logs["others"] = nbgrader("autograde", A, "--create", "--force", "--CourseDirectory.student_id_exclude=dave",
                              cwd=course_dir, env=env)
    timings["all"] = time.monotonic() - started
    print(f"\nautograde: dave (import never returns) {timings['dave']:.1f} s, "
          f"all {len(STUDENTS)} students {timings['all']:.1f} s")
    (base / "timings.json").write_text(json.dumps(timings))
    nbgrader("generate_feedback", A, "--force", cwd=course_dir, env=env)
    nbgrader("export", cwd=course_dir, env=env)
    return {"dir": course_dir, "timings": timings, "logs": logs}


def scores(course_dir: Path) -> dict[str, float]:
    with (course_dir / "grades.csv").open() as f:
        return {row["student_id"]: float(row["raw_score"] or 0) for row in csv.DictReader(f)}


def gradebook_grades(course_dir: Path) -> dict[str, dict[str, tuple]]:
    """student -> grade_id -> (auto_score, needs_manual_grade)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        out = {}
        for student in STUDENTS:
            sub = gb.find_submission(A, student)
            out[student] = {g.name: (g.auto_score, g.needs_manual_grade) for nb in sub.notebooks for g in nb.grades}
        return out


def autograded_points(course_dir: Path) -> dict[str, float]:
    return {student: sum(score or 0 for score, _ in grades.values())
            for student, grades in gradebook_grades(course_dir).items()}


def autograded_notebook(course_dir: Path, student: str):
    return nbformat.read(course_dir / "autograded" / student / A / f"{A}.ipynb", as_version=4)


def grade_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]


def test_the_course_does_not_execute_notebooks_at_autograde(course):
    text = (course["dir"] / "nbgrader_config.py").read_text()
    assert "autograder.workflows.nbgrader_grading.GradeCells" in text
    assert "nbgrader.preprocessors.Execute" not in text and "Execute.timeout" not in text
    for kept in ("SaveAutoGrades", "LimitOutput", "CheckCellMetadata", "AssignLatePenalties"):
        assert f"nbgrader.preprocessors.{kept}" in text


def test_scores_full_zero_partial_and_timeout(course):
    auto = autograded_points(course["dir"])
    assert auto["alice"] == 100, auto
    assert auto["bob"] == 0, auto
    assert 0 < auto["carol"] < 100, auto
    assert auto["dave"] == 0, auto
    assert set(scores(course["dir"])) >= set(STUDENTS)
    assert scores(course["dir"])["alice"] >= 100


@pytest.mark.parametrize("student", ATTACKERS)
def test_kernel_tricks_score_what_the_untouched_stub_scores(course, student):
    grades = gradebook_grades(course["dir"])
    auto = {s: sum(v or 0 for v, _ in g.values()) for s, g in grades.items()}
    assert auto[student] == auto["bob"] == 0, auto
    # per cell too: every autograded cell was scored (no crash, no missing score) and got 0
    nb = autograded_notebook(course["dir"], student)
    for cell in grade_cells(nb):
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        assert grades[student][grade_id] == (0, False), (grade_id, grades[student][grade_id])
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        assert "FAIL " in text and "PASS everything" not in text and str(10 ** 300) not in text, text
    assert scores(course["dir"])[student] == 0


def test_grade_cells_hold_the_graders_output_for_every_student(course):
    for student in STUDENTS:
        nb = autograded_notebook(course["dir"], student)
        cells = grade_cells(nb)
        assert len(cells) == 5
        for cell in cells:
            kinds = [o.output_type for o in cell.outputs]
            assert kinds == ["stream", "execute_result"], (student, cell.outputs)
            assert cell.outputs[0].name == "stdout"
            points = float(cell.outputs[1].data["text/plain"])
            assert 0 <= points <= cell.metadata["nbgrader"]["points"]
            assert "recorded by the course's grader" in cell.outputs[0].text
    # the student's own cells are kept as submitted but were never run
    erin = autograded_notebook(course["dir"], "erin")
    assert any(SILENCE.strip() in c.source for c in erin.cells)
    assert all(c.execution_count is None for c in erin.cells if c.cell_type == "code")
    # nbgrader's sanitize step still clears every submitted output (the submitted/ copy keeps them)
    ivan = autograded_notebook(course["dir"], "ivan")
    assert "ivan's own output" not in json.dumps([c.get("outputs", []) for c in ivan.cells])


def test_the_module_is_graded_once_per_notebook(course):
    logs = course["logs"]["dave"] + course["logs"]["others"]
    assert logs.count("once for 5 cells") == len(STUDENTS), logs


def test_written_answers_keep_their_text_for_manual_grading(course):
    nb = autograded_notebook(course["dir"], "alice")
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "q_batch_average")
    assert answer.source == HONEST_ANSWER
    grades = gradebook_grades(course["dir"])
    assert grades["alice"]["q_batch_average"] == (None, True)  # a human grades it
    assert grades["bob"]["q_batch_average"] == (0, False)  # unanswered: nbgrader's own 0


def test_a_module_that_never_imports_costs_seconds(course):
    timings = course["timings"]
    print(f"autograde: dave {timings['dave']:.1f} s, all {len(STUDENTS)} students {timings['all']:.1f} s")
    # before, the kernel waited for the 900 s cell timeout on `import mlp`; now one sandboxed probe
    # times out (5 s in this course's grading.toml) and every check reports it
    assert timings["dave"] < OLD_CELL_TIMEOUT_S / 3, timings
    assert timings["all"] < OLD_CELL_TIMEOUT_S, timings
    nb = autograded_notebook(course["dir"], "dave")
    text = "".join(o.get("text", "") for c in grade_cells(nb) for o in c.outputs)
    assert "did not return within" in text


def test_student_module_was_graded_not_the_instructors(course):
    course_dir = course["dir"]
    graded = (course_dir / "autograded" / "alice" / A / "mlp.py").read_text()
    assert graded == SOLUTION.read_text()
    assert (course_dir / "autograded" / "bob" / A / "mlp.py").read_text() == RELEASE.read_text()


def test_no_solution_in_release_or_feedback(course):
    course_dir = course["dir"]
    secret = solution_lines()
    released = [p for p in (course_dir / "release").rglob("*") if p.is_file()]
    assert len(released) >= 3
    for path in released:
        assert not [line for line in secret if line in path.read_text(errors="replace")], f"solution line in {path}"
    pages = list((course_dir / "feedback").rglob("*.html"))
    assert len(pages) == len(STUDENTS)
    for page in pages:
        student = page.relative_to(course_dir / "feedback").parts[0]
        own = {line.strip() for line in (course_dir / "submitted" / student / A / "mlp.py").read_text().splitlines()}
        text = page.read_text()
        # a student's own code may come back to them; nothing else of the solution may
        assert not [line for line in secret - own if line in text], f"solution line in {page}"


def test_feedback_shows_check_results_but_no_hidden_source(course):
    course_dir = course["dir"]
    html = (course_dir / "feedback" / "carol" / A / f"{A}.html").read_text()
    assert "gradient.batch_averaging" in html, "feedback should show the check lines"
    for hidden in ("BEGIN HIDDEN TESTS", "def probe_", "reference.forward"):
        assert hidden not in html
    timeout_html = (course_dir / "feedback" / "dave" / A / f"{A}.html").read_text()
    assert "did not return within" in timeout_html
