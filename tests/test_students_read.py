"""What students read agrees with what the grader does, in both languages.

* the notebook's statements of the grader's numbers (gradient threshold, the accuracy check's settings and
  tiers, points) are filled in from the grading config at build time (``{{grader:...}}``), and the
  notebook's own gradient-check helper reads the threshold from the config;
* the Korean release grades in Korean without any setting (its ``mlp-grade.toml``, read as data);
* a grading in Korean leaves no English word in any report format, except code identifiers, proper
  names and the student's own text;
* the catalogue uses the notebook glossary's term for every concept the glossary names.
"""
from __future__ import annotations

import ast
import base64
import builtins
import json
import os
import re
import shutil
import subprocess
import sys
import tokenize
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from autograder import build, grade, i18n
from autograder.config import load_config
from autograder.notebook import report_lines
from autograder.report import render
from conftest import ROOT, SOLUTION, mutate

HANGUL = re.compile("[\uac00-\ud7a3]")
BIN = Path(sys.executable).parent
SOURCE_DIR = ROOT / "source" / build.ASSIGNMENT
NOTEBOOK = f"{build.ASSIGNMENT}.ipynb"


def cells(nb_bytes: bytes, kind: str | None = None) -> list[str]:
    nb = json.loads(nb_bytes)
    return ["".join(c["source"]) for c in nb["cells"] if kind is None or c["cell_type"] == kind]


# ----------------------------------------------------------------------------- the grader's numbers


def sentinel_config() -> dict:
    """The default config with every number the notebook states changed to a value found nowhere else."""
    return load_config(overrides={
        "gradient": {"threshold": 1e-9},
        "accuracy": {"hidden": 96, "lr": 0.37, "batch_sz": 77, "num_epochs": 3,
                     "tiers": [[0.917, 1.0], [0.613, 0.4], [0.411, 0.15]]},
        "points": {"accuracy.mnist": 13},
    })


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict[str, bytes]]:
    """The annotated notebooks, language -> 'default' / 'sentinel' -> notebook JSON."""
    default, sentinel = build.localize(SOURCE_DIR), build.localize(SOURCE_DIR, sentinel_config())
    return {lang: {"default": default[lang][NOTEBOOK], "sentinel": sentinel[lang][NOTEBOOK]}
            for lang in build.LANGUAGES}


@pytest.mark.parametrize("lang", build.LANGUAGES)
def test_the_gradient_threshold_students_read_is_the_graders(rendered, lang):
    default, sentinel = cells(rendered[lang]["default"], "markdown"), cells(rendered[lang]["sentinel"], "markdown")
    table = [c for c in sentinel if "`suspicious`" in c]
    assert len(table) == 1, "one cell reads the relative error"
    rows = [line for line in table[0].splitlines() if "`suspicious`" in line or "`fine`" in line]
    assert len(rows) == 2 and all("10^{-9}" in row for row in rows), rows
    assert "10^{-9}" in table[0].split("|")[0], "the threshold is said before the table too"
    # nothing in the notebook states a threshold other than the grader's (the former '1e-4 is fine')
    for text in default + sentinel:
        assert "10^{-4}" not in text and "1e-4" not in text, text[:200]


@pytest.mark.parametrize("lang", build.LANGUAGES)
def test_the_accuracy_check_students_read_is_the_graders(rendered, lang):
    (cell,) = [c for c in cells(rendered[lang]["sentinel"], "markdown") if "784-96-10" in c]
    percent = " %" if lang == "en" else "%"
    for value in ("0.37", "77", "3", "13", *(f"{p}{percent}" for p in ("91.7", "61.3", "40", "41.1", "15"))):
        assert value in cell, (value, cell)
    for default in ("93.5", " 90", " 80", "0.5,", "128", "50", "25"):
        assert default not in cell, (default, cell)
    (cell,) = [c for c in cells(rendered[lang]["default"], "markdown") if "784-128-10, " in c and "93.5" in c]
    assert f"93.5{percent}" in cell and (lang == "en" or " %" not in cell)


@pytest.mark.parametrize("lang", build.LANGUAGES)
def test_the_points_students_read_are_the_graders(rendered, lang):
    intro = cells(rendered[lang]["sentinel"], "markdown")[0]
    assert "103" in intro and "100" not in intro  # the total of the points, 13 for accuracy instead of 10
    nb = json.loads(rendered[lang]["default"])
    graded = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade") and c["cell_type"] == "code"]
    said = [re.search(r"\((\d+) points\)|\((\d+)점\)", "".join(c["source"])) for c in graded]
    assert all(said) and [float(next(g for g in m.groups() if g)) for m in said] == \
        [c["metadata"]["nbgrader"]["points"] for c in graded]


def _verdict_of_the_notebook():
    """The notebook's own ``verdict`` helper and the THRESHOLD it reads, run alone (not the whole cell)."""
    (code,) = [c for c in cells(build.annotated_notebook(ROOT, "en"), "code") if "def verdict" in c]
    tree = ast.parse(code)
    (helper,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "verdict"]
    floats = {n.value for n in ast.walk(helper) if isinstance(n, ast.Constant) and isinstance(n.value, float)}
    assert load_config()["gradient"]["threshold"] not in floats, "the helper reads the threshold, never states it"
    keep = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
            or (isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "THRESHOLD" for t in n.targets))
            or (isinstance(n, ast.FunctionDef) and n.name == "verdict")]
    namespace = {"os": os}
    exec(compile(ast.Module(body=keep, type_ignores=[]), "<notebook>", "exec"), namespace)  # noqa: S102
    return namespace["verdict"]


def test_the_notebook_gradient_check_fails_what_the_grader_fails(tmp_path, monkeypatch):
    monkeypatch.delenv("MLP_GRADER_CONFIG", raising=False)
    verdict = _verdict_of_the_notebook()
    threshold = load_config()["gradient"]["threshold"]
    assert verdict(threshold * 0.9) == "fine" and verdict(threshold * 1.1) == "suspicious"
    (tmp_path / "grading.toml").write_text("[gradient]\nthreshold = 1e-9\n")
    monkeypatch.setenv("MLP_GRADER_CONFIG", str(tmp_path / "grading.toml"))  # an instructor's config
    assert _verdict_of_the_notebook()(1e-8) == "suspicious"


def test_placeholders_are_filled_or_refused():
    config = load_config()
    assert build.fill_facts("{{grader:gradient.threshold|pow10}} {{grader:gradient.threshold}}", "en", config) == \
        "10^{-5} 1e-5"
    assert build.fill_facts("{{grader:accuracy.tiers.0.0|pct}}", "ko", config) == "93.5%"
    assert build.fill_facts("{{grader:points.accuracy.mnist}}/{{grader:points.total}}", "en", config) == "10/100"
    for bad in ("{{grader:gradient.nothing}}", "{{grader:accuracy.dataset}}", "{{grader:gradient.step|roman}}",
                "{{grader:accuracy.lr|pow10}}", "{{grader:cell.points}}"):
        with pytest.raises(build.FactError):
            build.fill_facts(bad, "en", config)
    for tree in build.targets(ROOT).values():
        for rel, content in tree.items():
            assert b"{{grader:" not in content, rel


# ----------------------------------------------------------------------------- the Korean release speaks Korean


def _plain_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in i18n.ENV_VARS and k != "MLP_GRADER_CONFIG"}
    return dict(env, LANG="C.UTF-8", **extra)


def test_the_korean_release_grades_in_korean_without_any_setting(tmp_path):
    release = tmp_path / "release"
    shutil.copytree(build.release_dir(ROOT, "ko"), release)
    cli = [str(BIN / "mlp-grade"), "--only", "interface.predict", "forward.shape", "--color", "never"]
    korean = subprocess.run([*cli, str(release)], capture_output=True, text=True, env=_plain_env(), timeout=300)
    assert korean.returncode == 0 and "합계: 0 / 4" in korean.stdout and "실패" in korean.stdout, korean.stdout
    english = subprocess.run([*cli, str(release / "mlp.py"), "--lang", "en"], capture_output=True, text=True,
                             env=_plain_env(), timeout=300)
    assert "Total: 0 / 4" in english.stdout and not HANGUL.search(english.stdout), english.stdout
    chosen = subprocess.run([*cli, str(release)], capture_output=True, text=True,
                            env=_plain_env(MLP_GRADER_LANG="en"), timeout=300)
    assert "Total: 0 / 4" in chosen.stdout, "a language the student chose wins over the release's"
    for folder in (build.release_dir(ROOT, "en"),):
        out = subprocess.run([*cli, str(folder)], capture_output=True, text=True, env=_plain_env(), timeout=300)
        assert "Total: 0 / 4" in out.stdout and not HANGUL.search(out.stdout), out.stdout
    # the public checks students run with pytest, in the release folder as it is handed out
    public = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "test_mlp_public.py", "-x"],
                            cwd=release, capture_output=True, text=True, env=_plain_env(), timeout=600)
    assert public.returncode == 1 and "아직 구현되지 않았습니다" in public.stdout, public.stdout[-2000:]
    assert "is not implemented yet" not in public.stdout


def test_the_release_file_chooses_the_language_and_nothing_else(submit, tmp_path, monkeypatch):
    for var in (*i18n.ENV_VARS, "MLP_GRADER_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    stub = (build.release_dir(ROOT, "ko") / "mlp.py").read_text()
    marker = '[report]\nlang = "ko"\n[points]\n"interface.predict" = 50\n'
    folder = submit(stub, extra={i18n.RELEASE_FILE: marker})
    result = grade(folder, only=["interface.predict"])  # what check() and test_mlp_public.py call
    assert result.lang == "ko" and result.max_score == 1, "the file sets the language, never the points"
    assert grade(folder / "mlp.py", only=["interface.predict"], lang="en").lang == "en"
    assert grade(folder, only=["interface.predict"], config=load_config(overrides={"report": {"lang": "en"}})).lang \
        == "en", "the instructor's config wins"
    # a file that is not a small regular TOML file is no setting at all
    odd = submit(stub, name="odd")
    (odd / i18n.RELEASE_FILE).symlink_to(folder / i18n.RELEASE_FILE)
    big = submit(stub, name="big", extra={i18n.RELEASE_FILE: marker + "#" * 5000})
    broken = submit(stub, name="broken", extra={i18n.RELEASE_FILE: "[report\nlang = ko"})
    unknown = submit(stub, name="unknown", extra={i18n.RELEASE_FILE: '[report]\nlang = "xx"\n'})
    for path in (odd, big, broken, unknown, tmp_path / "missing" / "mlp.py"):
        assert i18n.release_language(path) is None, path
    assert i18n.release_language(folder) == i18n.release_language(folder / "mlp.py") == "ko"


# ----------------------------------------------------------------------------- no English in Korean feedback

#: words that are not translated: names of things (the data set, the layer, services, file formats) and units;
#: single letters of the notebook's notation (N, D, H, C) and the formulas' p and x
NOTATION = set("NDHCBGLTpx")
PROPER = {"MNIST", "ReLU", "Leaky", "GitHub", "Classroom", "JUnit", "CPU", "MB", "NaN", "inf"}
#: what a student's code says for itself in the submissions below
STUDENT_TEXT = "내 코드가 멈췄습니다"


def identifiers() -> set[str]:
    """Code identifiers: every name in the reference mlp.py and the grader's check names, Python's builtins
    (exception types) and numpy's names."""
    import numpy as np

    names = set(dir(builtins)) | set(dir(np)) | {"np", "py", "mlp", "mlp_backprop", "dtype", "ndarray", "axis"}
    with SOLUTION.open() as f:
        for token in tokenize.generate_tokens(f.readline):
            if token.type == tokenize.NAME:
                names.add(token.string)
            elif token.type == tokenize.STRING and token.string.strip("'\"").isidentifier():
                names.add(token.string.strip("'\""))  # keys such as params["W1"]
    from autograder.grading import select

    for c in select("graded"):
        names |= set(re.split(r"[._]", c.name)) | {c.name}
    names |= {"partialCredit", "GraderError"}
    return names


WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
GLOSS = re.compile(r"(?<=[\uac00-\ud7a3])\((?:[A-Za-z][A-Za-z -]*)\)")  # 형상(shape): the glossary's own gloss


def english_words(text: str, known: set[str], submission: str = "") -> list[str]:
    """The words of ``text`` that are neither identifiers nor proper names (the student's text removed)."""
    for said in (submission, STUDENT_LINE, STUDENT_TEXT):
        text = text.replace(said, " ") if said else text
    if submission:  # the report's heading names the submission's folder: the student's own word
        text = re.sub(rf"(?<![\w.]){re.escape(Path(submission).name)}(?![\w.])", " ", text)
    text = re.sub(r"`[^`]*`", " ", GLOSS.sub(" ", text))
    words = []
    for word in WORD.findall(text):
        parts = word.split(".")
        if (len(word) == 1 and word in NOTATION) or word in known or word in PROPER or all(p in known or p in PROPER for p in parts):
            continue
        words.append(word)
    return words


def student_facing(result, fmt: str) -> list[str]:
    """The texts of one report format that students read (not keys, tags or attribute names)."""
    out = render(result, fmt, config=load_config())
    if fmt in ("text", "markdown"):
        return [out]
    if fmt == "json":
        doc = json.loads(out)
        return [doc["output"]] + [t[k] for t in doc["tests"] for k in ("name", "output")]
    if fmt == "junit":
        root = ET.fromstring(out.split("?>", 1)[1])
        return [node.get("message", "") + "\n" + (node.text or "") for node in root.iter()
                if node.tag in ("failure", "error", "skipped")]
    runners = (json.loads(out)["results"].values() if fmt == "classroom" else
               [json.loads(base64.b64decode(line.split("=", 1)[1])) for line in out.splitlines()])
    return [t[k] for r in runners for t in r["tests"] for k in ("name", "message", "test_code")]


STUDENT_LINE = f'raise ValueError("{STUDENT_TEXT}")'  # the student's code, quoted after its line number
RAISES = ('        p = self.params\n', f'        {STUDENT_LINE}\n        p = self.params\n')


@pytest.fixture(scope="module")
def korean_results(tmp_path_factory):
    """Korean gradings that say every kind of thing: stubs, a student exception with its line, partial credit,
    diagnoses, a check the grader failed on."""
    from autograder.grading import CheckResult, Result

    folder = tmp_path_factory.mktemp("subs")
    solution = SOLUTION.read_text()
    raising = folder / "raising"
    raising.mkdir()
    (raising / "mlp.py").write_text(mutate(solution, [RAISES]))
    partial = folder / "partial"
    partial.mkdir()
    (partial / "mlp.py").write_text(mutate(solution, [('"b1": grad_hidden.sum(axis=0) / batch_sz',
                                                       '"b1": grad_hidden.sum(axis=1) / batch_sz')]))
    only = ["interface", "onehot", "forward", "predict", "loss.value", "gradient.shapes", "gradient.batch_averaging",
            "compute_grad", "train.learning_rate", "train.partial_batch"]
    results = [grade(build.release_dir(ROOT, "ko"), only=only, lang="ko"),
               grade(raising, only=only, lang="ko"), grade(partial, only=only, lang="ko")]
    with i18n.language("ko"):
        broken = CheckResult("loss.value", i18n._("SoftmaxCrossEntropy.forward is the mean cross-entropy"), 0.0, 5.0,
                             "error", i18n._("the grader could not run this check: {error}").format(error="GraderError"),
                             "visible", 0.1)
    results.append(Result("sub", "graded", [broken], lang="ko"))  # grader_error: a check in error
    return results


@pytest.mark.parametrize("fmt", ["text", "json", "junit", "classroom", "classroom-outputs", "markdown", "notebook"])
def test_korean_feedback_has_no_english_words(korean_results, fmt):
    known = identifiers()
    said, problems = [], []
    for result in korean_results:
        texts = (report_lines(result.checks, result.lang) if fmt == "notebook" else student_facing(result, fmt))
        for text in texts:
            said.append(text)
            words = english_words(text, known, result.submission)
            if words:
                problems.append(f"{sorted(set(words))} in {text[:300]!r}")
    joined = "\n".join(said)
    # the submissions did say all of these things, so the scan saw them
    assert "아직 구현되지 않았습니다" in joined and STUDENT_TEXT in joined and "번째 줄" in joined
    assert "ValueError" in joined and ("부분" in joined or fmt in ("json", "junit", "markdown"))
    assert not problems, "\n".join(problems)


def test_the_scan_finds_english():
    known = identifiers()
    assert english_words("MLP.forward: 아직 구현되지 않았습니다 [mlp.py 12번째 줄, forward 안]", known) == []
    assert {"is", "implemented", "yet", "line"} <= set(english_words("MLP.forward is not implemented yet "
                                                                       "[mlp.py line 12, in forward]", known))
    assert english_words("합계: 0 / 19   (0.7 s)", known) == ["s"]
    assert english_words("형상(wrong)이 틀렸습니다 (wrong)", known) == ["wrong"]  # a gloss only after Hangul


def test_the_korean_workflow_speaks_korean(tmp_path):
    import yaml

    from autograder.workflows.packaging import release_repo

    repo = release_repo(ROOT, tmp_path / "repo", lang="ko")
    assert (repo / i18n.RELEASE_FILE).read_text() == (build.release_dir(ROOT, "ko") / i18n.RELEASE_FILE).read_text()
    steps = yaml.safe_load((repo / ".github" / "workflows" / "autograding.yml").read_text())["jobs"]["grade"]["steps"]
    named = [s["name"] for s in steps if "name" in s]
    assert len(named) == 4 and all(HANGUL.search(n) for n in named), named
    grade_step = next(s for s in steps if s.get("id") == "grade")
    script = tmp_path / "step.sh"
    script.write_text(grade_step["run"])
    shims = tmp_path / "shims"
    shims.mkdir()
    (shims / "mlp-grade").write_text("#!/bin/sh\nexit 3\n")
    (shims / "mlp-grade").chmod(0o755)
    output = tmp_path / "out"
    env = dict(os.environ, GITHUB_OUTPUT=str(output), GITHUB_STEP_SUMMARY=str(tmp_path / "summary"),
               PATH=f"{shims}:{os.environ['PATH']}", **{k: str(v) for k, v in grade_step["env"].items()})
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3
    (error,) = [line for line in proc.stdout.splitlines() if line.startswith("::error")]
    known = identifiers() | {"mlp-grade"}
    words = error.replace("::error title=", " ").replace("::", " ").replace("mlp-grade", " ")  # the command's syntax
    assert HANGUL.search(error) and english_words(words, known) == [], error
    results = [json.loads(base64.b64decode(line.split("=", 1)[1])) for line in output.read_text().splitlines()]
    message = results[1]["tests"][0]["message"]
    assert "종료 코드 3" in message and english_words(message.replace("mlp-grade", " "), known) == [], message


# ----------------------------------------------------------------------------- one term per concept

#: words the course does not use, with the term it uses (the book's and the notebook's)
NOT_OURS = {"테스트 정확도": "시험 정확도", "테스트 데이터": "시험 데이터", "중앙 차분": "중심 차분",
            "내가 만든": "제출한", "내 forward": "제출한 forward", "학습 데이터": "훈련 데이터"}


def glossary() -> list[tuple[list[str], list[str]]]:
    """(English terms, Korean terms) of each concept in the Korean notebook's glossary (the one source)."""
    (table,) = [c for c in cells(build.annotated_notebook(ROOT, "ko"), "markdown") if c.startswith("### 용어 정리")]
    concepts = []
    for line in table.splitlines():
        columns = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(columns) != 3 or columns[0] in ("한국어", "---"):
            continue
        korean, english = columns[0].split(" / "), columns[1].split(" / ")
        assert len(korean) == len(english), line
        for ko, en in zip(korean, english):
            terms = [re.sub(r"\s*\([^)]*\)|[⊙]", "", t).strip() for t in en.split(",")]
            concepts.append((terms, [re.sub(r"\s*\([^)]*\)", "", t).strip() for t in ko.split(",")]))
    return concepts


def test_the_catalogue_says_what_the_glossary_says():
    with i18n.po_file("ko").open("rb") as f:
        catalogue = [m for m in read_po(f, locale="ko") if m.id]
    concepts = glossary()
    assert len(concepts) >= 35 and (["centred difference"], ["중심 차분"]) in concepts
    problems = []
    for message in catalogue:
        english = " ".join(message.id) if isinstance(message.id, tuple) else message.id
        korean = " ".join(message.string) if isinstance(message.string, tuple) else message.string
        prose = re.sub(r"[\w.]+\([^)]*\)|\w+\.\w+|\w+_\w+", " ", english)  # code: softmax(scores), MLP.forward
        for terms, ko_terms in concepts:
            if any(re.search(rf"(?<![\w-]){re.escape(t)}(?:s|d|ed|es)?(?![\w-])", prose, re.I) for t in terms):
                if not any(k in korean for k in ko_terms):
                    problems.append(f"{terms[0]} -> {ko_terms[0]}: {korean!r} ({english!r})")
        problems += [f"{bad} -> {good}: {korean!r}" for bad, good in NOT_OURS.items() if bad in korean]
        if re.search(r"\d %", korean):
            problems.append(f"a space before %: {korean!r}")
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------- one notation


@pytest.mark.parametrize("lang", build.LANGUAGES)
def test_one_notation_for_the_batch(lang):
    """N is the batch's number of samples and batch_sz the divisor, equal in training; no third name (B)."""
    folder = build.solution_dir(ROOT, lang)
    for name in (NOTEBOOK, "mlp.py"):
        text = (folder / name).read_text()
        assert not re.search(r"(?<![A-Za-z0-9_\\])B(?![A-Za-z0-9_])", text), (lang, name)
    intro = cells((folder / NOTEBOOK).read_bytes(), "markdown")[0]
    assert "batch_sz" in intro and "N = `batch_sz`" in intro, "the notation is stated once, at the top"
