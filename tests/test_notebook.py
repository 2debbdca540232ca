"""The student notebook: its nbgrader cells, executed for real (nbclient), validated by the real nbgrader.

The source notebook (``source/mlp_backprop/mlp_backprop.ipynb``) is inspected as JSON; the generated
solution and release notebooks are executed next to their own ``mlp.py`` in a temporary folder with
``MLP_NOTEBOOK_QUICK=1`` (small experiments) and the environment's ``MLP_DATA_DIR``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from autograder.grading import select
from autograder.notebook import cell_points
from conftest import ROOT, mnist_available

NAME = "mlp_backprop.ipynb"
SOURCE_NB = ROOT / "source" / "mlp_backprop" / NAME
NBGRADER = Path(sys.executable).with_name("nbgrader")
# nbgrader's default is 30 s per cell, too short for the cells that train on MNIST; the course
# configuration (autograder/templates/nbgrader_config.py) sets the same 900 s.
VALIDATE = [str(NBGRADER), "validate", "--Execute.timeout=900"]
CELL_TIMEOUT = 600

needs_mnist = pytest.mark.skipif(not mnist_available(), reason="MNIST not found: set MLP_DATA_DIR to a folder "
                                                                "holding mnist/ (the notebook trains on it)")
needs_nbgrader = pytest.mark.skipif(not NBGRADER.exists(), reason="nbgrader is not installed (pip install '.[all]')")


def grade_cells(nb) -> list:
    """Autograded cells: code cells with nbgrader grade metadata."""
    return [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]


def answer_cells(nb) -> list:
    """Manually graded written answers: markdown cells with nbgrader grade metadata."""
    return [c for c in nb.cells if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")]


def checks_called(cell) -> list[str]:
    """The names passed to ``check(...)`` in a grade cell (its last line)."""
    last = cell.source.strip().splitlines()[-1]
    assert last.startswith("check(") and last.endswith(")"), f"the last expression must be check(...): {last}"
    return [name.strip().strip("'\"") for name in last[len("check("):-1].split(",")]


def copy_tree(tree: str, dest: Path) -> Path:
    """The generated notebook of ``tree`` ('solution' or 'assignment') with its mlp.py, in ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("mlp.py", NAME):
        shutil.copyfile(ROOT / tree / "mlp_backprop" / name, dest / name)
    return dest / NAME


def client_for(nb, path: Path) -> NotebookClient:
    """A python3 kernel in the notebook's folder; it inherits os.environ (MLP_NOTEBOOK_QUICK, MLP_DATA_DIR)."""
    return NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                          resources={"metadata": {"path": str(path.parent)}})


def validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*VALIDATE, str(path)], capture_output=True, text=True, timeout=1800,
                          env=dict(os.environ, MLP_NOTEBOOK_QUICK="1"))


def metadata_problems(proc: subprocess.CompletedProcess) -> list[str]:
    """What nbgrader 0.9.6 prints when the nbgrader metadata is broken (it then exits with 1)."""
    out = proc.stdout + proc.stderr
    signs = ["[ValidateApp | ERROR]", "Traceback", "metadata may be corrupted", "ValidationError"]
    return [s for s in signs if s in out] + ([f"exit status {proc.returncode}"] if proc.returncode else [])


def outputs_of(cell, kind: str) -> list:
    return [o for o in cell.get("outputs", []) if o.output_type == kind]


# --------------------------------------------------------------------------------------------------------
# fast: the source notebook as JSON


def test_grade_cells_cover_every_check_once_with_the_cli_points():
    nb = nbformat.read(SOURCE_NB, as_version=4)
    covered = []
    for cell in grade_cells(nb):
        names = checks_called(cell)
        meta = cell.metadata["nbgrader"]
        assert select("graded", names), f"{meta['grade_id']}: no check matches {names}"
        assert meta["locked"] and not meta["solution"], meta["grade_id"]
        assert meta["points"] == cell_points(*names), (meta["grade_id"], names, cell_points(*names))
        covered += [c.name for c in select("graded", names)]
    assert sorted(covered) == sorted(c.name for c in select("graded")), "every graded check exactly once"
    assert len(covered) == len(set(covered))
    assert sum(c.metadata["nbgrader"]["points"] for c in grade_cells(nb)) == 100


def test_nbgrader_metadata_is_well_formed():
    nb = nbformat.read(SOURCE_NB, as_version=4)
    assert nb.metadata.kernelspec.name == "python3" and nb.nbformat == 4
    metas = [c.metadata["nbgrader"] for c in nb.cells if "nbgrader" in c.metadata]
    ids = [m["grade_id"] for m in metas]
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    for meta in metas:
        assert meta["schema_version"] == 3
        if meta.get("task"):
            assert meta["locked"], meta["grade_id"]
    # written answers: unlocked, graded by hand, a model answer between marker lines of their own
    answers = answer_cells(nb)
    assert len(answers) >= 4
    for cell in answers:
        meta = cell.metadata["nbgrader"]
        assert meta["solution"] and not meta["locked"] and meta["points"] > 0, meta
        lines = cell.source.splitlines()
        assert lines[0] == "### BEGIN SOLUTION" and lines[-1] == "### END SOLUTION", meta["grade_id"]
    # the warm-up is a solution cell of the notebook itself
    warmup = [c for c in nb.cells if c.cell_type == "code" and "class MulLayer" in c.source]
    assert len(warmup) == 1 and warmup[0].metadata["nbgrader"]["solution"]
    assert not warmup[0].metadata["nbgrader"]["grade"]


def test_release_notebook_has_stubs_and_no_outputs():
    nb = nbformat.read(ROOT / "assignment" / "mlp_backprop" / NAME, as_version=4)
    warmup = next(c for c in nb.cells if "class MulLayer" in c.source)
    assert warmup.source.count("raise NotImplementedError()") == 4
    assert all(c.source == "YOUR ANSWER HERE" for c in answer_cells(nb))
    assert all(not c.outputs and c.execution_count is None for c in nb.cells if c.cell_type == "code")


@needs_nbgrader
def test_validate_assertions_catch_broken_metadata(tmp_path):
    """Control for the release test below: a duplicate grade id is what a metadata error looks like."""
    path = copy_tree("assignment", tmp_path)
    nb = nbformat.read(path, as_version=4)
    first, second = grade_cells(nb)[:2]
    second.metadata["nbgrader"]["grade_id"] = first.metadata["nbgrader"]["grade_id"]
    nbformat.write(nb, path)
    assert metadata_problems(validate(path))


# --------------------------------------------------------------------------------------------------------
# slow: real execution


def execute_solution(folder: Path):
    """The solution notebook executed top to bottom in quick mode, written back: (notebook, path, seconds)."""
    path = copy_tree("solution", folder)
    nb = nbformat.read(path, as_version=4)
    started = time.monotonic()
    client_for(nb, path).execute()
    seconds = time.monotonic() - started
    nbformat.write(nb, path)
    return nb, path, seconds


@pytest.mark.slow
@needs_mnist
@needs_nbgrader
def test_solution_notebook_runs_end_to_end_with_plots_full_marks_and_validates(tmp_path, monkeypatch):
    # one execution serves both the output assertions and `nbgrader validate` (which executes it once
    # more); each execution trains on MNIST twice (Part 5 and the accuracy check)
    monkeypatch.setenv("MLP_NOTEBOOK_QUICK", "1")
    nb, path, seconds = execute_solution(tmp_path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "every code cell ran"
    assert not [o for c in code for o in outputs_of(c, "error")]
    text = "".join(o.get("text", "") for c in code for o in outputs_of(c, "stream"))
    assert "warm-up: price and all five gradients are right" in text
    assert "quick mode" in text
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4, "averaging demo, loss/accuracy curves, misclassified digits, hyperparameter plots"
    for cell in grade_cells(nb):
        meta = cell.metadata["nbgrader"]
        result = outputs_of(cell, "execute_result")
        assert result, (meta["grade_id"], cell.outputs)
        assert float(result[0]["data"]["text/plain"]) == meta["points"], (meta["grade_id"], cell.outputs)
        assert not [o for o in outputs_of(cell, "stream") if o.name == "stderr"], "nbgrader zeroes stderr"
    print(f"quick solution notebook executed in {seconds:.0f} s")

    # the real `nbgrader validate` on the executed notebook (it executes it once more)
    proc = validate(path)
    out = proc.stdout + proc.stderr
    assert "Success! Your notebook passes all the tests." in proc.stdout, out
    assert not metadata_problems(proc), out


@pytest.mark.slow
def test_release_notebook_stops_at_the_first_stub(tmp_path, monkeypatch):
    monkeypatch.setenv("MLP_NOTEBOOK_QUICK", "1")
    path = copy_tree("assignment", tmp_path)
    nb = nbformat.read(path, as_version=4)
    with pytest.raises(CellExecutionError) as err:
        client_for(nb, path).execute()
    assert err.value.ename == "NotImplementedError", str(err.value)
    failed = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and outputs_of(c, "error")]
    assert len(failed) == 1
    cell = nb.cells[failed[0]]
    assert outputs_of(cell, "error")[0]["ename"] == "NotImplementedError"
    assert "mul_apple.forward(apple, n_apple)" in cell.source, "the first failure is the warm-up's MulLayer"
    before = [c for c in nb.cells[:failed[0]] if c.cell_type == "code"]
    assert len(before) >= 2 and all(c.execution_count for c in before), "setup and class definitions ran"
    assert any("class MulLayer" in c.source for c in before)
    assert all(c.execution_count is None for c in nb.cells[failed[0] + 1:] if c.cell_type == "code")


@pytest.mark.slow
@needs_mnist
@needs_nbgrader
def test_nbgrader_validate_flags_the_untouched_release(tmp_path):
    path = copy_tree("assignment", tmp_path)
    proc = validate(path)
    out = proc.stdout + proc.stderr
    graded = grade_cells(nbformat.read(path, as_version=4))
    assert f"VALIDATION FAILED ON {len(graded)} CELL(S)" in proc.stdout, out
    # each autograded cell scores 0 of its points, which nbgrader reports as partial credit
    assert proc.stdout.count("Partial credit; passed some but not all of the tests") == len(graded), out
    assert not metadata_problems(proc), out
    assert "HAVE CHANGED" not in proc.stdout, out  # no locked cell or cell type altered
