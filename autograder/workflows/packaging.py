"""The artefacts an instructor hands out: nbgrader course, Gradescope bundle, student template repo.

Each reads the repository checkout (``root``): the release from
``assignment/``, the annotated notebook from ``source/``. None of them copies
``solution/`` or an annotated ``.py``.
"""
from __future__ import annotations

import json
import shutil
import stat
import zipfile
from pathlib import Path

from .. import build, i18n
from ..i18n import N_, _

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
PACKAGE_DIR = Path(__file__).resolve().parents[1]
A = build.ASSIGNMENT


def _copy_release(root: Path, dest: Path, lang: str = build.DEFAULT_LANG) -> None:
    release = build.release_dir(root, lang)
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(release.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            target = dest / path.relative_to(release)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def nbgrader_course(root: Path, dest: Path, exchange: Path | None = None, course_id: str = "mlp_course",
                    lang: str = build.DEFAULT_LANG) -> Path:
    """Lay out an nbgrader course: ``source/mlp_backprop/`` + ``nbgrader_config.py``.

    The notebook is the annotated source in ``lang`` (nbgrader strips it); ``mlp.py`` is
    the release stub, since nbgrader copies .py files verbatim. The assignment is
    ``mlp_backprop`` in every language; a Korean course also grades in Korean.
    """
    source = dest / "source" / A
    _copy_release(root, source, lang)
    (source / f"{A}.ipynb").write_bytes(build.annotated_notebook(root, lang))
    exchange = exchange or dest / "exchange"
    exchange.mkdir(parents=True, exist_ok=True)
    config = (TEMPLATES / "nbgrader_config.py").read_text()
    config = (config.replace("__ROOT__", repr(str(dest.resolve()))).replace("__COURSE_ID__", repr(course_id))
              .replace("__EXCHANGE__", repr(str(exchange.resolve()))))
    if lang != build.DEFAULT_LANG:
        config += f"\n# The course's language: autograde writes the check lines in it.\nc.GradeCells.lang = {lang!r}\n"
    (dest / "nbgrader_config.py").write_text(config)
    return dest


#: the Classroom workflow's own words (step names, what its grading step says when the grader did not report)
WORKFLOW_STEPS = {"INSTALL": N_("Install the course grader"), "GRADE": N_("Grade mlp.py"),
                  "UPLOAD": N_("Upload the JUnit report"), "REPORT": N_("Report to GitHub Classroom")}
WORKFLOW_NOT_GRADED = N_("the grader did not grade this check (mlp-grade exit status {status}): see the {step} step")
WORKFLOW_FAILED_TITLE = N_("The grader failed")
WORKFLOW_FAILED = N_("mlp-grade exited with status {status}. Of the {runners} results for GitHub Classroom, "
                     "{missing} are errors written by this step")


def _bash_message(template: str, **shell: str) -> str:
    """``template`` in the current language, for a bash double-quoted string whose ``{name}`` fields are the
    shell expressions ``shell`` gives (``$status``): the words are escaped, the expressions are not. The text
    also goes into the reporter's JSON as it is, so a translation may hold no double quote or backslash."""
    words = _(template)
    if '"' in words or "\\" in words:
        raise ValueError(f"the translation of {template!r} must hold no double quote or backslash: {words!r}")
    escaped = words.replace("$", "\\$").replace("`", "\\`")
    return escaped.format(**shell)


def _command_value(text: str, property_: bool = False) -> str:
    """``text`` escaped for a GitHub workflow command (``::error title=<property>::<message>``)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_ else text


def classroom_workflow(config: dict | None = None, lang: str = build.DEFAULT_LANG) -> str:
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
    text = text.replace("__CLASSROOM_LANG__", lang)  # the language of the feedback
    with i18n.language(lang):
        steps = {key: _(name) for key, name in WORKFLOW_STEPS.items()}
        for key, name in steps.items():
            text = text.replace(f"__CLASSROOM_STEP_{key}__", json.dumps(name, ensure_ascii=False))
        text = text.replace("__CLASSROOM_NOT_GRADED__", _bash_message(WORKFLOW_NOT_GRADED, status="$status",
                                                                      step=steps["GRADE"]))
        text = text.replace("__CLASSROOM_FAILED_TITLE__", _command_value(_(WORKFLOW_FAILED_TITLE), property_=True))
        text = text.replace("__CLASSROOM_FAILED__", _command_value(_bash_message(
            WORKFLOW_FAILED, status="$status", runners="${#runners[@]}", missing="$missing")))
    if "__CLASSROOM" in text:
        raise RuntimeError("a placeholder of the Classroom workflow template was not filled")
    return text


def release_repo(root: Path, dest: Path, config: dict | None = None, lang: str = build.DEFAULT_LANG) -> Path:
    """The student template repository: release files, workflow, README, .gitignore (in ``lang``)."""
    _copy_release(root, dest, lang)
    workflow = dest / ".github" / "workflows" / "autograding.yml"
    workflow.parent.mkdir(parents=True, exist_ok=True)
    workflow.write_text(classroom_workflow(config, lang))
    readme = "student_README.md" if lang == build.DEFAULT_LANG else f"student_README.{lang}.md"
    shutil.copyfile(TEMPLATES / readme, dest / "README.md")
    (dest / ".gitignore").write_text("__pycache__/\n.ipynb_checkpoints/\n*.json\n*.xml\nsummary.md\nclassroom.out\n")
    return dest


def _package_files(root: Path):
    yield root / "pyproject.toml", "pyproject.toml"
    yield root / "README.md", "README.md"
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path, "autograder/" + path.relative_to(PACKAGE_DIR).as_posix()


def _with_report_lang(text: str, lang: str) -> str:
    """The grading TOML ``text`` with ``[report] lang = "<lang>"`` (set or replaced): the feedback's language."""
    import re
    import tomllib

    from ..config import ConfigError

    line = f'lang = "{lang}"  # mlp-grade gradescope-zip --lang {lang}'
    lines = text.split("\n")
    header = next((i for i, s in enumerate(lines) if s.split("#")[0].strip() == "[report]"), None)
    if header is None:
        lines = [*(lines if text.strip() else []), *([""] if text.strip() else []), "[report]", line, ""]
    else:
        end = next((i for i in range(header + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
        keys = [i for i in range(header + 1, end) if re.match(r"\s*lang\s*=", lines[i])]
        if keys:
            lines[keys[0]] = line
        else:
            lines.insert(header + 1, line)
    merged = "\n".join(lines)
    try:
        ok = (tomllib.loads(merged).get("report") or {}).get("lang") == lang
    except tomllib.TOMLDecodeError:
        ok = False
    if not ok:
        raise ConfigError(f"cannot set [report] lang = {lang!r} in the grading config: set it there yourself")
    return merged


def gradescope_zip(root: Path, out: Path, config: Path | None = None, lang: str | None = None) -> Path:
    """Gradescope autograder bundle: setup.sh, run_autograder, the grader package (no solution).

    ``config`` (a grading TOML) is bundled as ``grading.toml``; its ``[report]
    hidden_visibility`` must be one Gradescope understands (ConfigError if not).
    ``lang`` ('en', 'ko') is written into the bundled config as ``[report] lang``:
    the language of the students' feedback.
    """
    import tempfile

    from ..config import ConfigError, load_config
    from ..report.formats import hidden_visibility

    bundled = None if config is None else Path(config).read_text(encoding="utf-8")
    if lang is not None:
        if lang not in build.LANGUAGES:
            raise ConfigError(f"unknown language {lang!r} (known: {', '.join(build.LANGUAGES)})")
        bundled = _with_report_lang(bundled or "", lang)
    with tempfile.TemporaryDirectory() as tmp:
        checked = config
        if bundled is not None:
            checked = Path(tmp) / "grading.toml"
            checked.write_text(bundled, encoding="utf-8")
        try:
            hidden_visibility(load_config(checked), strict=True)
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
        if bundled is not None:
            zf.writestr("grading.toml", bundled)
    return out
