"""The student notebook: its nbgrader cells, executed for real (nbclient), validated by the real nbgrader.

The bilingual source notebook (``source/mlp_backprop/mlp_backprop.ipynb``) is inspected as JSON, in each
language (:func:`autograder.build.annotated_notebook`: what an nbgrader course's ``source/`` holds); the
generated solution and release notebooks of every language are executed next to their own ``mlp.py`` in a
temporary folder with ``MLP_NOTEBOOK_QUICK=1`` (small experiments) and the environment's ``MLP_DATA_DIR``.
A Korean nbgrader course is generated and its release validated by the real nbgrader.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from autograder import build
from autograder.grading import select
from autograder.notebook import cell_points
from conftest import ROOT, mnist_available

NAME = "mlp_backprop.ipynb"
SOURCE_NB = ROOT / "source" / "mlp_backprop" / NAME
LANGS = build.LANGUAGES
HANGUL = re.compile("[\uac00-\ud7a3]")
#: what the warm-up prints when it passes, per language
WARMUP_OK = {"en": "warm-up: price and all five gradients are right", "ko": "준비 운동 통과: 가격과 기울기 다섯 개가 모두 맞습니다"}
QUICK_MODE = {"en": "quick mode", "ko": "빠른 모드"}
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


def annotated(lang: str):
    """The annotated source notebook in ``lang`` (solution markers kept)."""
    return nbformat.reads(build.annotated_notebook(ROOT, lang).decode(), as_version=4)


def generated(tree: str, lang: str) -> Path:
    """The folder of the generated ``tree`` ('solution' or 'assignment') in ``lang``."""
    return (build.release_dir if tree == "assignment" else build.solution_dir)(ROOT, lang)


def copy_tree(tree: str, dest: Path, lang: str = "en") -> Path:
    """The generated notebook of ``tree`` ('solution' or 'assignment') in ``lang`` with its mlp.py, in ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("mlp.py", NAME):
        shutil.copyfile(generated(tree, lang) / name, dest / name)
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


@pytest.mark.parametrize("lang", LANGS)
def test_grade_cells_cover_every_check_once_with_the_cli_points(lang):
    nb = annotated(lang)
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


@pytest.mark.parametrize("lang", LANGS)
def test_nbgrader_metadata_is_well_formed(lang):
    nb = annotated(lang)
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


@pytest.mark.parametrize("lang", LANGS)
def test_release_notebook_has_stubs_and_no_outputs(lang):
    nb = nbformat.read(generated("assignment", lang) / NAME, as_version=4)
    warmup = next(c for c in nb.cells if "class MulLayer" in c.source)
    assert warmup.source.count("raise NotImplementedError()") == 4
    assert all(c.source == "YOUR ANSWER HERE" for c in answer_cells(nb))
    assert all(not c.outputs and c.execution_count is None for c in nb.cells if c.cell_type == "code")


def test_source_notebook_is_valid_and_bilingual():
    nb = nbformat.read(SOURCE_NB, as_version=4)
    nbformat.validate(nb)  # unique cell ids across both languages, among others
    tags = [c.metadata.get("lang") for c in nb.cells]
    assert set(tags) == {None, *LANGS}
    assert all(c.cell_type == "markdown" for c, tag in zip(nb.cells, tags) if tag), "code cells are shared"
    for lang in LANGS:
        assert tags.count(lang) == tags.count("en"), "every markdown cell exists in every language"


@pytest.mark.parametrize("tree", ["assignment", "solution"])
def test_grade_cells_and_nbgrader_metadata_are_identical_in_every_language(tree):
    """The same check(...) calls, grade ids, points and cell order: a course grades either edition alike."""
    nbs = {lang: nbformat.read(generated(tree, lang) / NAME, as_version=4) for lang in LANGS}

    def graded(nb):
        return [(c.cell_type, c.metadata["nbgrader"]) for c in nb.cells if "nbgrader" in c.metadata]

    def grade_calls(nb):
        return [(c.metadata["nbgrader"]["grade_id"], c.metadata["nbgrader"]["points"], checks_called(c))
                for c in grade_cells(nb)]

    def code_lines(nb):
        """Each code cell without its comment lines and with its strings blanked: the code itself."""
        blank = re.compile(r"(\"[^\"]*\"|'[^']*')")
        return [[blank.sub("''", line.split("  # ")[0]).rstrip() for line in c.source.split("\n")
                 if line.strip() and not line.strip().startswith("#")] for c in nb.cells if c.cell_type == "code"]

    en = nbs["en"]
    assert len(grade_calls(en)) == 5
    for lang, nb in nbs.items():
        assert graded(nb) == graded(en), lang
        assert grade_calls(nb) == grade_calls(en), lang
        assert [c.source.split("\n")[-1] for c in grade_cells(nb)] == [c.source.split("\n")[-1] for c in grade_cells(en)]
        assert code_lines(nb) == code_lines(en), lang
        assert nb.metadata == en.metadata


def test_korean_notebook_is_korean_and_explains_the_math():
    """The Korean edition: Korean prose in every markdown cell, the derivations, glossary and policy in both."""
    for lang in LANGS:
        nb = nbformat.read(generated("solution", lang) / NAME, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        # the derivation of p - onehot, the chain rule as formulas, the ReLU mask, the relative error
        for formula in (r"\frac{\partial \ell_i}{\partial s_{ik}} = p_{ik} - t_{ik}", r"\frac{1}{N}\, h^\top G",
                        r"\frac{\partial L_{\text{sum}}}{\partial h} &= G\, W_2^\top", r"\mathbf{1}[h > 0]",
                        r"\frac{1}{N}\, X^\top \left(\left(G\, W_2^\top\right) \odot M\right)",
                        r"\lVert a - n \rVert"):
            assert formula in text, (lang, formula)
        for term in ("순전파", "역전파", "연쇄 법칙", "기울기", "미니배치", "에폭", "학습률", "손실 함수", "교차 엔트로피",
                     "수치 미분", "상대 오차", "가중치", "편향", "활성화 함수"):
            assert term in text, (lang, term)  # the glossary, in both editions
        assert "밑바닥부터 시작하는 딥러닝" in text and "5.4" in text and "5.6.3" in text, lang
        markdown = [c for c in nb.cells if c.cell_type == "markdown" and c.source != "YOUR ANSWER HERE"]
        if lang == "ko":
            assert all(HANGUL.search(c.source) for c in markdown), "every Korean markdown cell is in Korean"
            assert "한국어와 영어" in text and "English or Korean" not in text
        else:
            assert "English or Korean" in text


def test_emphasis_next_to_hangul_renders():
    """CommonMark (Jupyter's renderer) closes ``**`` after punctuation only before whitespace or punctuation:
    in ``**`forward`**는`` or ``**과적합(overfitting)**의`` the last ``**`` cannot close and the asterisks show."""
    punct = r"""[!-)+-/:-@\[-`{-~]"""  # ASCII punctuation but '*'
    stuck = re.compile(rf"{punct}\*+[\uac00-\ud7a3]")
    for lang in LANGS:
        nb = nbformat.read(generated("solution", lang) / NAME, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                text = re.sub(r"\$\$.*?\$\$|\$[^$\n]+\$|```.*?```", "", cell.source, flags=re.S)
                assert not stuck.findall(text), (lang, cell.get("id"), stuck.findall(text))


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


def execute_solution(folder: Path, lang: str = "en"):
    """The solution notebook executed top to bottom in quick mode, written back: (notebook, path, seconds)."""
    path = copy_tree("solution", folder, lang)
    nb = nbformat.read(path, as_version=4)
    started = time.monotonic()
    client_for(nb, path).execute()
    seconds = time.monotonic() - started
    nbformat.write(nb, path)
    return nb, path, seconds


@pytest.mark.slow
@needs_mnist
@needs_nbgrader
@pytest.mark.parametrize("lang", LANGS)
def test_solution_notebook_runs_end_to_end_with_plots_full_marks_and_validates(tmp_path, monkeypatch, lang):
    # one execution serves both the output assertions and `nbgrader validate` (which executes it once
    # more); each execution trains on MNIST twice (Part 5 and the accuracy check)
    monkeypatch.setenv("MLP_NOTEBOOK_QUICK", "1")
    nb, path, seconds = execute_solution(tmp_path, lang)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "every code cell ran"
    assert not [o for c in code for o in outputs_of(c, "error")]
    text = "".join(o.get("text", "") for c in code for o in outputs_of(c, "stream"))
    assert WARMUP_OK[lang] in text
    assert QUICK_MODE[lang] in text
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4, "averaging demo, loss/accuracy curves, misclassified digits, hyperparameter plots"
    for cell in grade_cells(nb):
        meta = cell.metadata["nbgrader"]
        result = outputs_of(cell, "execute_result")
        assert result, (meta["grade_id"], cell.outputs)
        assert float(result[0]["data"]["text/plain"]) == meta["points"], (meta["grade_id"], cell.outputs)
        assert not [o for o in outputs_of(cell, "stream") if o.name == "stderr"], "nbgrader zeroes stderr"
    print(f"quick solution notebook ({lang}) executed in {seconds:.0f} s")

    # the real `nbgrader validate` on the executed notebook (it executes it once more)
    proc = validate(path)
    out = proc.stdout + proc.stderr
    assert "Success! Your notebook passes all the tests." in proc.stdout, out
    assert not metadata_problems(proc), out


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGS)
def test_release_notebook_stops_at_the_first_stub(tmp_path, monkeypatch, lang):
    monkeypatch.setenv("MLP_NOTEBOOK_QUICK", "1")
    path = copy_tree("assignment", tmp_path, lang)
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


@pytest.mark.slow
@needs_mnist
@needs_nbgrader
def test_korean_nbgrader_course_generates_and_validates(tmp_path):
    """`mlp-grade nbgrader-course --lang ko`, then the real `nbgrader generate_assignment` and `validate`.

    Light: no students, no autograde (tests/test_nbgrader_flow.py runs the whole flow on the English course,
    whose grade cells and metadata are those of the Korean one).
    """
    from test_build import solution_lines

    course, exchange = tmp_path / "course", tmp_path / "exchange"
    env = dict(os.environ, MLP_NOTEBOOK_QUICK="1", PATH=f"{NBGRADER.parent}:{os.environ['PATH']}")
    subprocess.run([sys.executable, "-m", "autograder", "nbgrader-course", str(course), "--exchange", str(exchange),
                    "--lang", "ko", "--root", str(ROOT)], check=True, env=env, timeout=120)
    assert "c.GradeCells.lang = 'ko'" in (course / "nbgrader_config.py").read_text()
    source_nb = nbformat.read(course / "source" / "mlp_backprop" / NAME, as_version=4)
    assert not [c for c in source_nb.cells if "lang" in c.metadata], "one language per course"
    proc = subprocess.run([str(NBGRADER), "generate_assignment", "mlp_backprop", "--force"], cwd=course, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    release = course / "release" / "mlp_backprop"
    assert (release / "mlp.py").read_text() == (build.release_dir(ROOT, "ko") / "mlp.py").read_text()
    nb = nbformat.read(release / NAME, as_version=4)
    assert HANGUL.search(nb.cells[0].source) and WARMUP_OK["ko"] in "".join(c.source for c in nb.cells)
    ours = nbformat.read(build.release_dir(ROOT, "en") / NAME, as_version=4)
    assert [(c.metadata["nbgrader"]["grade_id"], c.metadata["nbgrader"]["points"], checks_called(c))
            for c in grade_cells(nb)] == [(c.metadata["nbgrader"]["grade_id"], c.metadata["nbgrader"]["points"],
                                           checks_called(c)) for c in grade_cells(ours)]
    assert all(c.source == "YOUR ANSWER HERE" for c in answer_cells(nb))
    secret = solution_lines()
    for path in release.rglob("*"):
        if path.is_file():
            assert not [line for line in secret if line in path.read_text()], f"solution line in {path}"

    # nbgrader validate on the released (untouched) Korean notebook: every grade cell fails and, since
    # nbgrader's release carries the answer cells' checksums, every written answer is "no response"
    proc = validate(release / NAME)
    out = proc.stdout + proc.stderr
    assert f"VALIDATION FAILED ON {len(grade_cells(nb)) + len(answer_cells(nb))} CELL(S)" in proc.stdout, out
    assert proc.stdout.count("You did not provide a response.") == len(answer_cells(nb)) == 4, out
    assert proc.stdout.count("Partial credit; passed some but not all of the tests") == len(grade_cells(nb)), out
    assert not metadata_problems(proc), out
    assert "HAVE CHANGED" not in proc.stdout, out
