"""source/ -> assignment/ + solution/: up to date, no solution line in the release, stubs raise."""
from __future__ import annotations

import ast
import importlib.util
import json
import re
import shutil

import pytest

from autograder import build
from autograder.cli import main as cli
from conftest import RELEASE, ROOT

SOURCE = ROOT / "source" / build.ASSIGNMENT
HANGUL = re.compile("[\uac00-\ud7a3]")


def solution_lines() -> set[str]:
    """Every substantial line inside a solution region of the source files."""
    lines, given = set(), set()
    for path in SOURCE.rglob("*"):
        if path.suffix == ".py":
            texts = [path.read_text()]
        elif path.suffix == ".ipynb":
            texts = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]
        else:
            continue
        for text in texts:
            split = text.split("\n")
            inside = set()
            for region in build.find_regions(split):
                if region.kind == "solution":
                    inside |= set(range(region.start + 1, region.end))
            given |= {s.strip() for i, s in enumerate(split) if i not in inside}
            lines |= {split[i].strip() for i in inside if len(split[i].strip()) > 12}
    # a line that the given code also has (``rng = ...`` in __init__) is no leak
    return lines - given


def test_generated_trees_are_up_to_date():
    assert build.check(ROOT) == [], "run `mlp-grade build` and commit assignment/ and solution/"


def test_check_mode_fails_when_out_of_date(tmp_path, capsys):
    copy = tmp_path / "repo"
    for part in ("source", "assignment", "solution"):
        shutil.copytree(ROOT / part, copy / part)
    assert cli(["build", "--check", "--root", str(copy)]) == 0
    target = copy / "source" / build.ASSIGNMENT / "mlp.py"
    target.write_text(target.read_text().replace("He initialisation", "He init"))
    assert cli(["build", "--check", "--root", str(copy)]) == 1
    assert "out of date" in capsys.readouterr().out
    assert cli(["build", "--root", str(copy)]) == 0
    assert cli(["build", "--check", "--root", str(copy)]) == 0


def test_no_solution_line_in_the_release():
    secret = solution_lines()
    assert len(secret) > 20
    for path in (ROOT / "assignment").rglob("*"):
        if path.is_file():
            text = path.read_text()
            leaked = [line for line in secret if line in text]
            assert leaked == [], f"{path} contains solution lines: {leaked[:3]}"


def test_release_stubs_raise_not_implemented():
    spec = importlib.util.spec_from_file_location("release_mlp", RELEASE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.MLP(4, 3, 2, seed=0)
    assert set(model.params) == {"W1", "b1", "W2", "b2"}
    calls = [lambda: module.make_labels_onehot([0, 1], 2), lambda: model.forward(None),
             lambda: model.backward(None, 1), lambda: module.SoftmaxCrossEntropy(model).forward(None, None),
             lambda: module.SoftmaxCrossEntropy(model).compute_grad(None, 1),
             lambda: module.train_mlp_neuralnet(model, None, None, None, 0.1, 1, 1), lambda: module.predict(model, None)]
    for call in calls:
        with pytest.raises(NotImplementedError, match="not implemented yet"):
            call()


def test_solution_has_no_markers():
    for path in (ROOT / "solution").rglob("*"):
        if path.is_file():
            assert "### BEGIN SOLUTION" not in path.read_text() and "### END SOLUTION" not in path.read_text()


def test_unbalanced_markers_are_reported():
    with pytest.raises(build.MarkerError, match="never closed"):
        build.strip("x = 1\n### BEGIN SOLUTION\ny = 2\n", release=True)
    with pytest.raises(build.MarkerError, match="without"):
        build.strip("### END SOLUTION\n", release=True)


# ----------------------------------------------------------------------------------------- languages

LANG_MARKS = ("### BEGIN LANG", "### END LANG", "# [en]", "# [ko]", '"lang": "')


@pytest.mark.parametrize("lang", build.LANGUAGES)
def test_release_stubs_raise_in_every_language(lang):
    spec = importlib.util.spec_from_file_location(f"release_mlp_{lang}", build.release_dir(ROOT, lang) / "mlp.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from autograder import i18n
    from autograder.checks.base import NOT_IMPLEMENTED

    with pytest.raises(NotImplementedError) as raised:
        module.MLP(4, 3, 2, seed=0).forward(None)
    with i18n.language(lang):  # the grader's own words, in the release's language
        assert str(raised.value) == i18n._(NOT_IMPLEMENTED).format(function="MLP.forward")


def _signatures(path) -> list[str]:
    """Every def/class with its arguments, in order, and every non-docstring statement: the code, not the prose
    (a stub's NotImplementedError message is prose: it is in the release's language)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and ast.get_docstring(node) is not None:
            node.body = node.body[1:]
        if (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                and getattr(node.exc.func, "id", None) == "NotImplementedError"):
            node.exc.args = []
    return [ast.dump(tree)]


@pytest.mark.parametrize("tree", ["assignment", "solution"])
def test_korean_tree_has_the_same_code_and_korean_prose(tree):
    en = (build.release_dir if tree == "assignment" else build.solution_dir)(ROOT, "en")
    ko = (build.release_dir if tree == "assignment" else build.solution_dir)(ROOT, "ko")
    assert sorted(p.name for p in en.iterdir() if p.is_file()) == sorted(p.name for p in ko.iterdir() if p.is_file())
    for name in ("mlp.py", "test_mlp_public.py"):
        assert _signatures(en / name) == _signatures(ko / name), f"{name}: the code differs between en and ko"
    ko_mlp = ko / "mlp.py"
    docstrings = [ast.get_docstring(n) for n in ast.walk(ast.parse(ko_mlp.read_text()))
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef))]
    documented = [d for d in docstrings if d]
    assert len(documented) >= 10 and all(HANGUL.search(d) for d in documented), "every ko docstring is Korean"
    assert not HANGUL.search((en / "mlp.py").read_text()), "no Korean in the English mlp.py"


def test_no_language_marker_reaches_a_generated_file():
    for lang in build.LANGUAGES:
        for folder in (build.release_dir(ROOT, lang), build.solution_dir(ROOT, lang)):
            for path in folder.rglob("*"):
                if path.is_file():
                    text = path.read_text()
                    assert not [m for m in LANG_MARKS if m in text], path


def test_source_python_stays_valid_python():
    for path in SOURCE.rglob("*.py"):
        ast.parse(path.read_text(), str(path))


def test_select_language_blocks_comment_lines_and_tails():
    text = "\n".join([
        "### BEGIN LANG en", '"""Doc."""', "### END LANG en",
        "    ### BEGIN LANG ko", '    """문서."""', "    ### END LANG ko",
        "x = 1  # shared", "    # [en] english comment", "    # [ko] 한국어 주석", "# [ko]",
        'print("hi")  # [en]', 'print("안녕")  # [ko]', "y = [1]  # [1] is no tag"])
    assert build.select_language(text, "en").split("\n") == [
        '"""Doc."""', "x = 1  # shared", "    # english comment", 'print("hi")', "y = [1]  # [1] is no tag"]
    assert build.select_language(text, "ko").split("\n") == [
        '    """문서."""', "x = 1  # shared", "    # 한국어 주석", "#", 'print("안녕")', "y = [1]  # [1] is no tag"]
    # markdown: blocks only, a '# [ko] ...' line is a heading
    assert build.select_language("# [ko] title", "en", line_tags=False) == "# [ko] title"


@pytest.mark.parametrize("text, match", [
    ("### BEGIN LANG ko\nx = 1\n", "never closed"),
    ("### END LANG ko\n", "without BEGIN"),
    ("### BEGIN LANG en\n### BEGIN LANG ko\n", "inside the open"),
    ("### BEGIN LANG fr\n### END LANG fr\n", "unknown language 'fr'"),
    ("# [kr] typo\n", "unknown language 'kr'"),
])
def test_language_marker_errors(text, match):
    with pytest.raises(build.LanguageError, match=match):
        build.select_language(text, "en", where="f.py")


def _source_copy(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "source", copy / "source")
    return copy, copy / "source" / build.ASSIGNMENT


def test_languages_must_share_the_code_of_a_python_file(tmp_path):
    copy, source = _source_copy(tmp_path)
    mlp = source / "mlp.py"
    mlp.write_text(mlp.read_text().replace("        self.data = None\n",
                                           "        self.data = None  # [en]\n        self.data = 0  # [ko]\n", 1))
    with pytest.raises(build.LanguageError, match="mlp.py: the code of 'ko' differs from 'en'"):
        build.targets(copy)
    # a translated comment or docstring is no difference
    mlp.write_text((ROOT / "source" / build.ASSIGNMENT / "mlp.py").read_text().replace(
        "        self.data = None\n", "        # [en] no input yet\n        # [ko] 아직 입력 없음\n        self.data = None\n", 1))
    build.targets(copy)


def _edit_cells(source, edit):
    path = source / f"{build.ASSIGNMENT}.ipynb"
    nb = json.loads(path.read_text())
    edit(nb["cells"])
    path.write_text(json.dumps(nb))


def _grade_cell(cells, grade_id):
    return next(c for c in cells if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


@pytest.mark.parametrize("case, match", [
    ("tagged code cell", "a code cell is shared by every language"),
    ("different check", "differs from 'en' \\(only comments may\\)"),
    ("different code", "differs from 'en' \\(only comments and strings may\\)"),
    ("different points", "the nbgrader cells of 'ko'"),
])
def test_languages_must_share_the_code_and_grade_cells_of_the_notebook(tmp_path, case, match):
    copy, source = _source_copy(tmp_path)

    def edit(cells):
        if case == "tagged code cell":
            next(c for c in cells if c["cell_type"] == "code")["metadata"]["lang"] = "ko"
        elif case == "different check":  # the Korean grade cell would check something else
            cell = _grade_cell(cells, "part1_forward")
            *head, last = "".join(cell["source"]).split("\n")
            cell["source"] = "\n".join([*head, last + "  # [en]", last.replace("'onehot'", "'train'") + "  # [ko]"])
        elif case == "different code":
            cell = next(c for c in cells if c["cell_type"] == "code" and "QUICK = " in "".join(c["source"]))
            cell["source"] = "".join(cell["source"]) + "\nN_TRIALS = 1  # [en]\nN_TRIALS = 2  # [ko]\n"
        else:
            ko_answer = next(c for c in cells if c["metadata"].get("lang") == "ko" and "nbgrader" in c["metadata"])
            ko_answer["metadata"]["nbgrader"]["points"] += 1

    _edit_cells(source, edit)
    with pytest.raises(build.LanguageError, match=match):
        build.targets(copy)


def test_check_mode_sees_a_stale_korean_tree(tmp_path, capsys):
    copy = tmp_path / "repo"
    for part in ("source", "assignment", "solution"):
        shutil.copytree(ROOT / part, copy / part)
    target = copy / "source" / build.ASSIGNMENT / "mlp.py"
    target.write_text(target.read_text().replace("He 초깃값", "He 초기화"))
    assert cli(["build", "--check", "--root", str(copy)]) == 1
    stale = capsys.readouterr().out
    assert "assignment/ko/mlp_backprop/mlp.py" in stale and "solution/ko/mlp_backprop/mlp.py" in stale
    assert "assignment/mlp_backprop/mlp.py" not in stale, "the English tree did not change"


# ---------------------------------------------------------------------- releases in every language


def test_korean_solution_grades_full_and_korean_release_grades_zero():
    from autograder import grade
    from conftest import FAST

    solution = grade(build.solution_dir(ROOT, "ko") / "mlp.py", only=FAST)
    assert solution.score == solution.max_score > 0, [c.name for c in solution.checks if not c.passed]
    release = grade(build.release_dir(ROOT, "ko") / "mlp.py", only=["forward", "gradient.shapes"])
    assert release.score == 0


def test_release_repo_in_korean(tmp_path):
    dest = tmp_path / "repo"
    assert cli(["release", str(dest), "--lang", "ko", "--root", str(ROOT)]) == 0
    for name in ("mlp.py", "mlp_backprop.ipynb", "test_mlp_public.py", "pytest.ini"):
        assert (dest / name).read_bytes() == (build.release_dir(ROOT, "ko") / name).read_bytes(), name
    readme = (dest / "README.md").read_text()
    assert HANGUL.search(readme) and "--lang en" in readme and "mlp-grade.toml" in readme
    assert (dest / "mlp-grade.toml").read_bytes() == (build.release_dir(ROOT, "ko") / "mlp-grade.toml").read_bytes()
    assert (dest / ".github" / "workflows" / "autograding.yml").is_file()
    secret = solution_lines()
    for path in dest.rglob("*"):
        if path.is_file():
            assert not [line for line in secret if line in path.read_text()], f"solution line in {path}"


def test_nbgrader_course_in_korean_holds_the_korean_notebook_and_release_stub(tmp_path):
    assert cli(["nbgrader-course", str(tmp_path / "course"), "--lang", "ko", "--root", str(ROOT)]) == 0
    source = tmp_path / "course" / "source" / build.ASSIGNMENT
    assert (source / "mlp.py").read_bytes() == (build.release_dir(ROOT, "ko") / "mlp.py").read_bytes()
    assert (source / f"{build.ASSIGNMENT}.ipynb").read_bytes() == build.annotated_notebook(ROOT, "ko")
    assert "### BEGIN SOLUTION" in (source / f"{build.ASSIGNMENT}.ipynb").read_text(), "nbgrader strips it"
    assert "c.GradeCells.lang = 'ko'" in (tmp_path / "course" / "nbgrader_config.py").read_text()
    # the English course: the English notebook, no language forced on autograde
    assert cli(["nbgrader-course", str(tmp_path / "en"), "--root", str(ROOT)]) == 0
    assert (tmp_path / "en" / "source" / build.ASSIGNMENT / f"{build.ASSIGNMENT}.ipynb").read_bytes() == \
        build.annotated_notebook(ROOT, "en")
    assert "GradeCells.lang" not in (tmp_path / "en" / "nbgrader_config.py").read_text()
    with pytest.raises(SystemExit):
        cli(["nbgrader-course", str(tmp_path / "fr"), "--lang", "fr", "--root", str(ROOT)])


def _bundled_config(bundle) -> str | None:
    import zipfile

    with zipfile.ZipFile(bundle) as zf:
        return zf.read("grading.toml").decode() if "grading.toml" in zf.namelist() else None


@pytest.mark.parametrize("given, kept", [
    (None, None),
    ('[grader]\nskip = ["accuracy"]\n', ("grader", "skip", ["accuracy"])),
    ('[report]\nhidden_visibility = "after_published"\nlang = "en"\n\n[sandbox]\ntimeout_s = 5\n',
     ("report", "hidden_visibility", "after_published")),
])
def test_gradescope_bundle_carries_the_feedback_language(tmp_path, given, kept):
    import tomllib

    from autograder.config import load_config

    args = ["gradescope-zip", str(tmp_path / "bundle.zip"), "--root", str(ROOT)]
    if given is not None:
        (tmp_path / "grading.toml").write_text(given)
        args += ["--config", str(tmp_path / "grading.toml")]
    assert cli([*args, "--lang", "ko"]) == 0
    text = _bundled_config(tmp_path / "bundle.zip")
    assert tomllib.loads(text)["report"]["lang"] == "ko"
    (tmp_path / "bundled.toml").write_text(text)
    config = load_config(tmp_path / "bundled.toml")
    assert config["report"]["lang"] == "ko"
    if kept:
        table, key, value = kept
        assert config[table][key] == value
    # without --lang the bundle is what it was: the given config verbatim, or none
    assert cli(args) == 0
    assert _bundled_config(tmp_path / "bundle.zip") == given
