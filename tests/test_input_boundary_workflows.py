"""Hostile submission files through the instructor workflows: Gradescope, Classroom, Dask, nbgrader.

The same hostile kinds as ``test_input_boundary.py`` (links to a private file
and to ``/dev/zero``, a FIFO, a sparse 200 MB file, linked folders), through
the real scripts: Gradescope's ``run_autograder``, the Classroom workflow's
grading step, ``mlp-grade batch --dask`` on a ``LocalCluster``, and the course's
``nbgrader collect`` on a hand-placed inbound folder (the inbound folder is
writable by every student). Each must give 0 points with the reason, or, for
nbgrader, refuse to collect with the reason in the log, and nothing of a link's
target may appear in any output. ``GradeCells`` grades through ``grade()``,
whose refusals ``test_input_boundary.py`` covers; here it is run once on a
linked ``mlp.py`` to check the cell outputs say the reason.
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SOLUTION
from test_input_boundary import CANARY, FAST, REASONS, SMALL_KB, hostile, private, run_measured  # noqa: F401
from test_workflows import BIN, gradescope_root, run_grade_step, template_repo  # noqa: F401 - fixtures

NBGRADER = Path(sys.executable).with_name("nbgrader")
A = "mlp_backprop"
STAMP = "2026-12-06 10:00:00.000000 UTC"


# ----------------------------------------------------------------------------- Gradescope


@pytest.mark.parametrize("kind", ["link_private", "link_zero", "fifo", "big", "linked_folder"])
def test_gradescope_run_autograder_refuses_hostile_files(kind, gradescope_root, private):  # noqa: F811
    root = gradescope_root
    shutil.rmtree(root / "submission", ignore_errors=True)
    if (root / "submission").is_symlink():
        (root / "submission").unlink()
    shutil.rmtree(root / "results", ignore_errors=True)
    made = hostile(root / "staging", kind, private)
    made.rename(root / "submission")  # Gradescope's folder itself, as the student's upload made it
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), MLP_GRADE=str(BIN / "mlp-grade"))
    status, output, peak = run_measured([str(root / "source" / "run_autograder")], timeout=120, env=env)
    assert status == 0, output
    text = (root / "results" / "results.json").read_text()
    results = json.loads(text)
    assert results["score"] == 0 and REASONS[kind] in results["tests"][0]["output"], results["tests"][0]
    assert CANARY not in text + output and peak < SMALL_KB


# ----------------------------------------------------------------------------- Classroom


@pytest.mark.parametrize("kind", ["link_private", "fifo", "big"])
def test_classroom_grading_step_refuses_hostile_files(kind, template_repo, private, tmp_path):  # noqa: F811
    repo = tmp_path / "repo"
    shutil.copytree(template_repo, repo, symlinks=True)
    (repo / "mlp.py").unlink()
    made = hostile(tmp_path / "staging", kind, private)
    os.rename(made / "mlp.py", repo / "mlp.py")
    proc, read, summary = run_grade_step(repo, tmp_path)
    assert all(result["tests"][0]["score"] == 0 for _, result in read), read
    shown = json.dumps(read) + summary + proc.stdout + proc.stderr
    assert REASONS[kind] in shown and CANARY not in shown


# ----------------------------------------------------------------------------- Dask


def test_batch_on_dask_refuses_hostile_files_and_grades_the_others(private, tmp_path):
    distributed = pytest.importorskip("distributed")
    subs, out = tmp_path / "submitted", tmp_path / "grades"
    for kind in REASONS:
        hostile(subs, kind, private)
    (subs / "honest").mkdir()
    (subs / "honest" / "mlp.py").write_text(SOLUTION.read_text())
    config = tmp_path / "fast.toml"
    config.write_text(FAST)
    with distributed.LocalCluster(processes=True, n_workers=1, threads_per_worker=1, dashboard_address=None,
                                  host="127.0.0.1") as cluster:
        status, output, _ = run_measured([sys.executable, "-m", "autograder", "batch", str(subs), "--out", str(out),
                                          "--config", str(config), "--dask", cluster.scheduler_address], timeout=300)
    assert status == 0, output
    results = {p.stem: json.loads(p.read_text()) for p in (out / "results").glob("*.json")}
    for kind, reason in REASONS.items():
        assert results[kind]["score"] == 0 and reason in results[kind]["refused"], results[kind]
    assert results["honest"]["score"] == results["honest"]["max_score"] > 0
    assert CANARY not in output + "".join(p.read_text() for p in out.rglob("*") if p.is_file())


# ----------------------------------------------------------------------------- nbgrader


def _someone_else() -> str:
    """A user of this machine other than the one running the tests (whose files would not be theirs)."""
    me = os.geteuid()
    for name in ("nobody", "root", "daemon"):
        try:
            if pwd.getpwnam(name).pw_uid != me:
                return name
        except KeyError:
            continue
    pytest.skip("no other user on this machine")


@pytest.mark.skipif(not NBGRADER.exists(), reason="nbgrader is not installed (pip install '.[all]')")
def test_nbgrader_collect_never_brings_a_link_target_into_submitted(private, tmp_path):
    course, exchange = tmp_path / "course", tmp_path / "exchange"
    env = dict(os.environ, PATH=f"{NBGRADER.parent}:{os.environ['PATH']}")
    subprocess.run([sys.executable, "-m", "autograder", "nbgrader-course", str(course), "--exchange", str(exchange),
                    "--course-id", "mlp_course", "--root", str(ROOT)], check=True, env=env, capture_output=True)
    inbound = exchange / "mlp_course" / "inbound"
    inbound.mkdir(parents=True)
    other = _someone_else()
    placed = {}
    for student, kind in [("mallory", "link_private"), ("zed", "link_zero"), ("fiona", "fifo"),
                          ("linus", "linked_folder"), ("ines", "link_inside"), (other, "honest_but_not_theirs")]:
        name = f"{student}+{A}+{STAMP}"
        if kind == "honest_but_not_theirs":  # a regular file, owned by the user running the tests, not by `other`
            (inbound / name).mkdir()
            (inbound / name / "mlp.py").write_text(SOLUTION.read_text())
        else:
            made = hostile(tmp_path / "staging", kind, private)
            os.rename(made, inbound / name)
        if not (inbound / name).is_symlink():
            (inbound / name / "timestamp.txt").write_text(STAMP)
        placed[student] = kind
    (inbound / f"honest+{A}+{STAMP}").mkdir()
    (inbound / f"honest+{A}+{STAMP}" / "mlp.py").write_text(SOLUTION.read_text())
    (inbound / f"honest+{A}+{STAMP}" / "timestamp.txt").write_text(STAMP)
    proc = subprocess.run([str(NBGRADER), "collect", A], cwd=course, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = proc.stdout + proc.stderr
    submitted = course / "submitted"
    assert (submitted / "honest" / A / "mlp.py").read_text() == SOLUTION.read_text()
    for student in placed:
        assert not (submitted / student / A).exists(), f"{student}'s submission ({placed[student]}) was collected"
        assert f"Refused the submission of {student}" in log, log
    assert "mlp.py is a symbolic link" in log and "mlp.py is a named pipe (FIFO)" in log
    assert "mlp_backprop is a symbolic link" in log and f"not to {other}" in log
    everything = log + "".join(p.read_text(errors="replace") for p in submitted.rglob("*") if p.is_file())
    assert CANARY not in everything


@pytest.mark.skipif(not NBGRADER.exists(), reason="nbgrader is not installed (pip install '.[all]')")
def test_grade_cells_says_the_reason_in_the_cells(private, tmp_path):
    import nbformat

    from autograder.workflows.nbgrader_grading import GradeCells

    folder = tmp_path / "autograded"
    folder.mkdir()
    (folder / "mlp.py").symlink_to(private / "secret.txt")
    cell = nbformat.v4.new_code_cell("check('interface')", metadata={"nbgrader": {
        "grade": True, "solution": False, "grade_id": "interface", "points": 5, "locked": True,
        "schema_version": 3}})
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb, _ = GradeCells().preprocess(nb, {"metadata": {"path": str(folder)}})
    text = json.dumps(nb.cells[0].outputs)
    assert REASONS["link_private"] in text and CANARY not in text
    assert nb.cells[0].outputs[-1]["data"]["text/plain"] == "0.0"
