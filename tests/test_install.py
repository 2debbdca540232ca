"""The package as users install it, not the editable checkout: a wheel built by pip, installed into a
fresh venv by the Classroom workflow's own install step; Gradescope's ``setup.sh`` run for real, then
``run_autograder`` with the venv it made. Each runs with a user's environment (``conftest.user_env``).

Costly (a wheel build, two venvs, pip installs from the package indexes): one wheel and one venv
per session, shared by the tests of this file (--dist=loadfile keeps them on one worker).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from conftest import BIN, ROOT, SOLUTION, assert_secret_kept, failed, run_as_user, user_env
from test_data import closed_port_url
from test_report_formats import GRADESCOPE, assert_reporter_agrees
from test_workflows import load_workflow, run_grade_step

pytestmark = pytest.mark.slow

#: files of autograder/ that only developers use (not needed by an installed grader)
DEVELOPER_ONLY = {"autograder/locale/babel.cfg"}
#: the system's tools and Python, without this test venv's scripts
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def step(workflow: dict, name: str) -> dict:
    return next(s for s in workflow["jobs"]["grade"]["steps"] if s.get("name") == name)


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The wheel pip builds from the package's files (copied: the build leaves nothing in the checkout)."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "autograder", src / "autograder", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    proc = run_as_user([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", base / "dist", src],
                       base / "home")
    assert proc.returncode == 0, failed(proc)
    (built,) = (base / "dist").glob("mlp_backprop_grader-*.whl")
    return built


@pytest.fixture(scope="session")
def student_repo(tmp_path_factory) -> Path:
    """The student template repository, written by the installed `mlp-grade release` from the checkout."""
    repo = tmp_path_factory.mktemp("student") / "repo"
    proc = run_as_user([BIN / "mlp-grade", "release", repo], repo.parent / "home", cwd=ROOT)
    assert proc.returncode == 0, failed(proc)
    return repo


@pytest.fixture(scope="session")
def fresh_venv(wheel, student_repo, tmp_path_factory) -> Path:
    """A fresh venv (no system site-packages) where the Classroom workflow's install step installed the
    wheel, as actions/setup-python's `python` on the runner's PATH would, with the wheel as MLP_GRADER_SPEC."""
    base = tmp_path_factory.mktemp("fresh")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    install = step(load_workflow(student_repo), "Install the course grader")
    assert install["env"] == {"MLP_GRADER_SPEC": "${{ vars.MLP_GRADER_SPEC }}"}, install["env"]
    script = base / "install_step.sh"
    script.write_text(install["run"])
    env = user_env(base / "home", path=f"{venv / 'bin'}:{SYSTEM_PATH}", MLP_GRADER_SPEC=str(wheel))
    proc = run_as_user(["bash", "-e", script], base / "home", env=env, cwd=student_repo)  # run's default shell
    assert proc.returncode == 0, failed(proc)
    return venv


def test_the_wheel_holds_every_file_the_grader_reads_and_grades_in_both_languages(wheel, fresh_venv, tmp_path):
    packaged = set(zipfile.ZipFile(wheel).namelist())
    needed = {p.relative_to(ROOT).as_posix() for p in (ROOT / "autograder").rglob("*")
              if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"} - DEVELOPER_ONLY
    assert {"autograder/default_config.toml", "autograder/locale/ko/LC_MESSAGES/mlp_grader.po",
            "autograder/templates/gradescope/setup.sh"} <= needed
    assert not needed - packaged, f"missing from the wheel: {sorted(needed - packaged)}"

    home = tmp_path / "home"
    env = user_env(home, path=f"{fresh_venv / 'bin'}:{SYSTEM_PATH}")  # the fresh venv's python and mlp-grade
    where = run_as_user(["python", "-c", "import autograder; print(autograder.__file__)"], home, cwd=tmp_path,
                        env=env)
    assert where.stdout.startswith(str(fresh_venv)), f"not the installed wheel: {failed(where)}"
    (tmp_path / "sub").mkdir()
    shutil.copy(SOLUTION, tmp_path / "sub" / "mlp.py")
    for lang, total in (("en", "Total: 19 / 19"), ("ko", "합계: 19 / 19")):
        proc = run_as_user(["mlp-grade", "sub", "--only", "interface", "forward", "--lang", lang], home,
                           cwd=tmp_path, env=env)
        assert proc.returncode == 0 and total in proc.stdout, failed(proc)
    assert "MLP.forward가 ReLU(data @ W1 + b1) @ W2 + b2를 계산한다" in proc.stdout, failed(proc)
    assert_secret_kept(home)
    # the templates, from the installed package
    proc = run_as_user(["mlp-grade", "release", tmp_path / "repo", "--lang", "ko", "--root", ROOT], home,
                       cwd=tmp_path, env=env)
    assert proc.returncode == 0, failed(proc)
    assert (tmp_path / "repo" / ".github" / "workflows" / "autograding.yml").is_file()
    assert "역전파" in (tmp_path / "repo" / "README.md").read_text(encoding="utf-8"), "not the Korean README"


def setup_python(workflow: dict) -> dict:
    return next(s for s in workflow["jobs"]["grade"]["steps"] if s.get("uses", "").startswith("actions/setup-python"))


def python_version_problem(workflow: dict) -> str | None:
    """Why the Python the workflow asks actions/setup-python for cannot run the package, if it cannot."""
    wanted = str(setup_python(workflow)["with"]["python-version"])
    with (ROOT / "pyproject.toml").open("rb") as f:
        requires = tomllib.load(f)["project"]["requires-python"]
    return None if SpecifierSet(requires).contains(wanted) else f"python-version {wanted!r} is not {requires}"


def test_the_classroom_workflow_installs_the_wheel_and_grades_with_it(fresh_venv, student_repo, tmp_path):
    workflow = load_workflow(student_repo)
    assert python_version_problem(workflow) is None, python_version_problem(workflow)
    setup_python(workflow)["with"]["python-version"] = "3.10"
    assert python_version_problem(workflow), "a Python below requires-python went unnoticed"
    repo = tmp_path / "repo"
    shutil.copytree(student_repo, repo)
    shutil.copy(SOLUTION, repo / "mlp.py")
    env = user_env(tmp_path / "home", path=f"{fresh_venv / 'bin'}:{SYSTEM_PATH}")
    proc, read, summary = run_grade_step(repo, tmp_path, env=env)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert_reporter_agrees(read, 100, 100)
    assert "| ✅ `accuracy.mnist` |" in summary, summary
    assert_secret_kept(tmp_path / "home")


def test_gradescope_setup_then_run_autograder_with_the_venv_setup_made(tmp_path):
    """setup.sh as Gradescope runs it at image build (MNIST from MLP_DATA_DIR, no download), then
    run_autograder with nothing but what setup.sh installed (MNIST from the cache setup.sh filled)."""
    if not os.environ.get("MLP_DATA_DIR"):
        pytest.skip("MLP_DATA_DIR is not set: setup.sh would download MNIST")
    root, home = tmp_path / "autograder", tmp_path / "home"
    proc = run_as_user([BIN / "mlp-grade", "gradescope-zip", tmp_path / "autograder.zip"], home, cwd=ROOT)
    assert proc.returncode == 0, failed(proc)
    with zipfile.ZipFile(tmp_path / "autograder.zip") as zf:
        zf.extractall(root / "source")
    venv = tmp_path / "opt" / "mlp-grade"
    env = user_env(home, path=SYSTEM_PATH, AUTOGRADER_ROOT=str(root), MLP_GRADE_VENV=str(venv),
                   MLP_DATA_MIRRORS=closed_port_url())
    setup = run_as_user(["bash", "./setup.sh"], home, env=env, cwd=root / "source", timeout=900)
    assert setup.returncode == 0, failed(setup)
    where = run_as_user([venv / "bin" / "python", "-c", "import autograder; print(autograder.__file__)"], home,
                        env=env, cwd=tmp_path)
    assert where.stdout.startswith(str(venv)), f"the grader is not installed in the venv: {failed(where)}"

    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    shutil.copytree(SOLUTION.parent, root / "submission", ignore=shutil.ignore_patterns("__pycache__"))
    env.pop("MLP_DATA_DIR")  # grading reads MNIST from the cache setup.sh filled
    run = run_as_user(["bash", root / "run_autograder"], home, env=env, cwd=root, timeout=900)
    assert run.returncode == 0, failed(run)
    results = json.loads((root / "results" / "results.json").read_text())
    GRADESCOPE.validate(results)
    assert results["score"] == 100, f"{results.get('output')}\n{failed(run)}"
    assert results["extra_data"]["isolation"]["level"], results["extra_data"]
    assert_secret_kept(home)
