"""The artefacts an instructor hands out: nbgrader course, Gradescope bundle, student template repo.

Each reads the repository checkout (``root``): the release from
``assignment/``, the annotated notebook from ``source/``. None of them copies
``solution/`` or an annotated ``.py``.
"""
from __future__ import annotations

import shutil
import stat
import zipfile
from pathlib import Path

from .. import build

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
PACKAGE_DIR = Path(__file__).resolve().parents[1]
A = build.ASSIGNMENT


def _copy_release(root: Path, dest: Path) -> None:
    release = root / "assignment" / A
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(release.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            target = dest / path.relative_to(release)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def nbgrader_course(root: Path, dest: Path, exchange: Path | None = None, course_id: str = "mlp_course") -> Path:
    """Lay out an nbgrader course: ``source/mlp_backprop/`` + ``nbgrader_config.py``.

    The notebook is the annotated source (nbgrader strips it); ``mlp.py`` is
    the release stub, since nbgrader copies .py files verbatim.
    """
    source = dest / "source" / A
    _copy_release(root, source)
    shutil.copyfile(root / "source" / A / f"{A}.ipynb", source / f"{A}.ipynb")
    exchange = exchange or dest / "exchange"
    exchange.mkdir(parents=True, exist_ok=True)
    config = (TEMPLATES / "nbgrader_config.py").read_text()
    config = (config.replace("__ROOT__", repr(str(dest.resolve()))).replace("__COURSE_ID__", repr(course_id))
              .replace("__EXCHANGE__", repr(str(exchange.resolve()))))
    (dest / "nbgrader_config.py").write_text(config)
    return dest


def classroom_workflow(config: dict | None = None) -> str:
    """The student repository's workflow: one GitHub Classroom reporter runner per check.

    Fills the template's runner list (:func:`autograder.report.classroom.runner_ids`,
    every check of the pipeline), each runner's ``<RUNNER>_RESULTS`` variable for
    the reporter, and the points of each check (``config``, default the
    built-in one) for the result the workflow writes itself when the grader fails.
    """
    from ..config import load_config
    from ..report.classroom import PARTIAL, pipeline_names, runner_id, runner_ids

    config = config or load_config()
    names = pipeline_names()
    runners = runner_ids(names)
    skip = config["grader"]["skip"]
    points = {runner_id(n): (0 if any(n == s or n.startswith(s + ".") for s in skip) else config["points"].get(n, 0))
              for n in names}
    points[PARTIAL] = 0
    env = "\n".join(f"          {r.upper()}_RESULTS: ${{{{ steps.grade.outputs.{r} }}}}" for r in runners)
    text = (TEMPLATES / "classroom" / "autograding.yml").read_text()
    text = text.replace("          # __CLASSROOM_RESULTS__", env)
    text = text.replace("__CLASSROOM_RUNNERS__", ",".join(runners))
    text = text.replace("__CLASSROOM_POINTS__", ",".join(f"{points[r]:g}" for r in runners))
    assert "__CLASSROOM" not in text, "a placeholder of the Classroom workflow template was not filled"
    return text


def release_repo(root: Path, dest: Path, config: dict | None = None) -> Path:
    """The student template repository: release files, workflow, README, .gitignore."""
    _copy_release(root, dest)
    workflow = dest / ".github" / "workflows" / "autograding.yml"
    workflow.parent.mkdir(parents=True, exist_ok=True)
    workflow.write_text(classroom_workflow(config))
    shutil.copyfile(TEMPLATES / "student_README.md", dest / "README.md")
    (dest / ".gitignore").write_text("__pycache__/\n.ipynb_checkpoints/\n*.json\n*.xml\nsummary.md\nclassroom.out\n")
    return dest


def _package_files(root: Path):
    yield root / "pyproject.toml", "pyproject.toml"
    yield root / "README.md", "README.md"
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path, "autograder/" + path.relative_to(PACKAGE_DIR).as_posix()


def gradescope_zip(root: Path, out: Path, config: Path | None = None) -> Path:
    """Gradescope autograder bundle: setup.sh, run_autograder, the grader package (no solution).

    ``config`` (a grading TOML) is bundled as ``grading.toml``; its ``[report]
    hidden_visibility`` must be one Gradescope understands (ConfigError if not).
    """
    from ..config import ConfigError, load_config
    from ..report.formats import hidden_visibility

    try:
        hidden_visibility(load_config(config), strict=True)
    except ValueError as exc:
        raise ConfigError(f"{config}: {exc}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    executable = (stat.S_IFREG | 0o755) << 16
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("setup.sh", "run_autograder"):
            info = zipfile.ZipInfo(name)
            info.external_attr = executable
            zf.writestr(info, (TEMPLATES / "gradescope" / name).read_text())
        for path, arc in _package_files(root):
            zf.write(path, f"package/{arc}")
        if config is not None:
            zf.write(config, "grading.toml")
    return out
