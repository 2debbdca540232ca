"""Feedback in Korean: the catalogue is complete and in sync, and a Korean report says what the English one says.

* catalogue: every English message has a non-fuzzy Korean form with the same
  ``{placeholders}``, the same clauses (``"; "``, which ``feedback.say_once``
  splits on) and the same literal numbers; re-extracting the sources gives no
  new message and leaves none over;
* language: ``grade(..., lang=)``, ``[report] lang``, ``$MLP_GRADER_LANG`` /
  ``LC_ALL`` / ``LANG``, per call (threads grading in two languages at once);
* reports: the buggy corpus graded in both languages gets the same scores, and
  every number of each English message is in the Korean one, in Hangul.
"""
from __future__ import annotations

import ast
import concurrent.futures as cf
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from autograder import grade, i18n
from autograder.config import load_config
from autograder.feedback import ECHO, JOIN, say_once
from autograder.grading import NOT_RUN, CheckResult, Result, select
from autograder.report import render
from autograder.report.formats import not_run
from autograder.sandbox import runner
from conftest import FAST, RELEASE, ROOT, mutate
from test_buggy_variants import VARIANTS

LOCALE = ROOT / "autograder" / "locale"
HANGUL = re.compile("[\uac00-\ud7a3]")
NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def _catalog(path: Path, locale: str | None = None):
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def _forms(message_id) -> tuple[str, ...]:
    return message_id if isinstance(message_id, tuple) else (message_id,)


def _outside_placeholders(text: str) -> str:
    return re.sub(r"\{[^{}]*\}", " ", text)


@pytest.fixture(scope="module")
def korean():
    return _catalog(i18n.po_file("ko"), "ko")


@pytest.fixture(scope="module")
def extracted() -> set:
    """What ``pybabel extract -F autograder/locale/babel.cfg ... autograder`` finds in the sources now."""
    from babel.messages import frontend

    parse = getattr(frontend, "parse_mapping_cfg", None) or frontend.parse_mapping
    with (LOCALE / "babel.cfg").open() as f:
        method_map, options_map = parse(f)
    return {found[2] for found in extract_from_dir(str(ROOT / "autograder"), method_map, options_map)}


# ----------------------------------------------------------------------------- the catalogue


def test_every_message_has_its_korean_form(korean):
    problems = []
    for message in korean:
        if not message.id:
            continue
        strings = _forms(message.string)
        if message.fuzzy or not strings or not all(s.strip() for s in strings):
            problems.append(f"{'fuzzy' if message.fuzzy else 'untranslated'}: {message.id!r}")
    assert not problems, "\n".join(problems)
    assert len([m for m in korean if m.id]) >= 150


def test_placeholders_clauses_and_numbers_are_kept(korean):
    """Same {names} (translators reorder them), same '; ' clauses (say_once compares clauses), same numbers.
    (``feedback.JOIN``, the '; ' itself, is how a language shows the clauses: Korean writes a full stop.)"""
    problems = []
    for message in korean:
        if not message.id or message.id == JOIN:
            continue
        english = _forms(message.id)
        for text in _forms(message.string):
            for source in english:
                if i18n.placeholders(source) != i18n.placeholders(text):
                    problems.append(f"placeholders {sorted(i18n.placeholders(source))} vs "
                                    f"{sorted(i18n.placeholders(text))}: {source!r} -> {text!r}")
                if source.count("; ") != text.count("; "):
                    problems.append(f"'; ' clauses {source.count('; ')} vs {text.count('; ')}: {text!r}")
                numbers = set(NUMBER.findall(_outside_placeholders(source)))
                lost = numbers - set(NUMBER.findall(_outside_placeholders(text)))
                if lost:
                    problems.append(f"numbers {sorted(lost)} lost: {source!r} -> {text!r}")
            if re.search(r"[a-z]{3,}", _outside_placeholders(english[0])) and not HANGUL.search(text):
                problems.append(f"no Hangul: {text!r}")
    assert not problems, "\n".join(problems)


def test_catalogues_are_in_sync_with_the_sources(korean, extracted):
    """Re-extracting gives no new message and none is left over: run the commands in autograder/i18n.py."""
    template = {m.id for m in _catalog(LOCALE / f"{i18n.DOMAIN}.pot") if m.id}
    translated = {m.id for m in korean if m.id}
    assert extracted - template == set(), "new messages: run pybabel extract (see autograder/i18n.py)"
    assert template - extracted == set(), "messages no longer in the sources: run pybabel extract"
    assert translated == template, ("run pybabel update and translate: missing "
                                    f"{sorted(map(str, template - translated))}, left over "
                                    f"{sorted(map(str, translated - template))}")
    assert not korean.obsolete, f"obsolete entries: {list(korean.obsolete)}"


def test_catalogue_is_package_data():
    text = (ROOT / "pyproject.toml").read_text()
    assert '"locale/*/LC_MESSAGES/*.po"' in text and "Babel" in text


def test_korean_keeps_the_prefixes_the_grader_relies_on():
    """failure() does not repeat a subject its message starts with: the Korean forms keep those starts."""
    with i18n.language("ko"):
        importing = i18n._("importing mlp.py")
        assert i18n._("importing mlp.py failed: {message}").startswith(importing)
        assert HANGUL.search(importing)
        for message in ("{function} is not implemented yet", "{function} is not implemented yet ({detail})"):
            assert i18n._(message).startswith("{function}"), message
            assert i18n._(message) != message


def _skeleton(node: ast.expr) -> str | None:
    """A string expression of child.py with every interpolated value replaced by '{}'."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_skeleton(v) if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _skeleton(node.left), _skeleton(node.right)
        return None if left is None else left + (right if right is not None else "{}")
    return None


def test_every_message_of_the_sandbox_driver_is_in_the_catalogue():
    """child.py runs without the catalogues and writes English: runner.py must know each of its sentences."""
    tree = ast.parse((ROOT / "autograder" / "sandbox" / "child.py").read_text())
    said = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ProbeFailure" and node.args:
            said.add(_skeleton(node.args[0]))
    describe = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "describe")
    described = {_skeleton(n.value) for n in ast.walk(describe) if isinstance(n, ast.Return)} - {None}
    assert None not in said and len(said) >= 10
    known = {re.sub(r"\{[^{}]*\}", "{}", t) for t in runner.CHILD_MESSAGES}
    assert said <= known, f"not in runner.CHILD_MESSAGES: {said - known}"
    values = {re.sub(r"\{[^{}]*\}", "{}", t) for t in runner.CHILD_VALUES["value"]}
    assert described <= values, f"describe() phrases not in runner.CHILD_VALUES: {described - values}"
    source = (ROOT / "autograder" / "sandbox" / "child.py").read_text()
    assert all(f'"{what}"' in source for what in runner.CHILD_VALUES["what"])
    assert re.sub(r"\{[^{}]*\}", "{}", runner.CHILD_EXIT) == 'exit code {}' and 'f"exit code {exc.code!r}"' in source


def test_driver_messages_are_said_again_in_korean_with_their_values():
    english = ("SoftmaxCrossEntropy.compute_grad returned dict with keys 'W1', 'x'; "
               "expected a dict with keys 'W1', 'b1', 'W2', 'b2'")
    with i18n.language("ko"):
        korean = i18n.retranslate(english, runner.CHILD_MESSAGES, runner.CHILD_VALUES)
        unknown = i18n.retranslate("whatever the student's code said", runner.CHILD_MESSAGES, runner.CHILD_VALUES)
    assert HANGUL.search(korean) and "키가 'W1', 'x'인 dict" in korean and korean.count("; ") == 1, korean
    assert unknown == "whatever the student's code said"
    assert i18n.retranslate(english, runner.CHILD_MESSAGES, runner.CHILD_VALUES) == english  # English: unchanged


# ----------------------------------------------------------------------------- choosing the language


@pytest.mark.parametrize("environ, expected", [
    ({}, "en"),
    ({"LANG": "C.UTF-8"}, "en"),
    ({"LANG": "en_US.UTF-8"}, "en"),
    ({"LANG": "ko_KR.UTF-8"}, "ko"),
    ({"LANG": "ko_KR.eucKR"}, "ko"),
    ({"LC_ALL": "ko_KR.UTF-8", "LANG": "C.UTF-8"}, "ko"),
    ({"LC_ALL": "C.UTF-8", "LANG": "ko_KR.UTF-8"}, "en"),  # LC_ALL wins, as in POSIX
    ({"LC_MESSAGES": "ko_KR.UTF-8", "LANG": "en_US.UTF-8"}, "ko"),
    ({"MLP_GRADER_LANG": "ko", "LC_ALL": "C"}, "ko"),
    ({"MLP_GRADER_LANG": "auto", "LANG": "ko_KR.UTF-8"}, "ko"),
])
def test_the_locale_gives_the_default(environ, expected):
    assert i18n.from_environment(environ) == expected
    assert i18n.choose(None, load_config(), environ) == expected


def test_explicit_language_then_config_then_locale():
    korean_env, english_env = {"LANG": "ko_KR.UTF-8"}, {"LANG": "C.UTF-8"}
    assert i18n.choose("en", load_config(overrides={"report": {"lang": "ko"}}), korean_env) == "en"
    assert i18n.choose(None, load_config(overrides={"report": {"lang": "ko"}}), english_env) == "ko"
    assert i18n.choose(None, load_config(overrides={"report": {"lang": "auto"}}), korean_env) == "ko"
    assert i18n.choose("ko-KR", None, english_env) == "ko" and i18n.choose("kr", None, english_env) == "ko"
    with pytest.raises(ValueError, match="unknown language"):
        i18n.choose("fr", None, english_env)
    with pytest.raises(ValueError, match="unknown language"):
        grade(RELEASE.parent, only=["interface.predict"], lang="klingon")


def test_english_by_default_and_korean_from_the_locale(monkeypatch):
    for var in i18n.ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    english = grade(RELEASE.parent, only=["interface.predict"])
    assert english.lang == "en" and not HANGUL.search(english.checks[0].message + english.checks[0].title)
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    korean = grade(RELEASE.parent, only=["interface.predict"])
    assert korean.lang == "ko" and HANGUL.search(korean.checks[0].message) and HANGUL.search(korean.checks[0].title)
    assert i18n.current() == "en"  # nothing leaks out of a grading


def test_the_language_is_per_call_not_per_process():
    """Two graders in threads of one process, one in each language, at the same time."""
    only = ["interface", "onehot", "gradient.shapes", "train.epochs"]
    with cf.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(grade, RELEASE.parent, only=only, lang=lang) for lang in ("ko", "en") * 2]
        results = [f.result() for f in futures]
    for result in results:
        texts = [c.title + c.message for c in result.checks]
        korean = [bool(HANGUL.search(t)) for t in texts]
        assert all(korean) if result.lang == "ko" else not any(korean), (result.lang, texts)
    assert [c.score for c in results[0].checks] == [c.score for c in results[1].checks]


# ----------------------------------------------------------------------------- Korean reports say the same


BILINGUAL = ["relu_mask_missing", "no_batch_division", "divides_by_N", "loss_summed", "softmax_overflow",
             "forward_no_b2", "onehot_transposed", "compute_grad_pre_averaged", "train_with_replacement",
             "train_full_batch_size_for_last", "train_skips_biases", "b1_wrong_axis"]


@pytest.mark.parametrize("variant", BILINGUAL)
def test_buggy_variants_get_the_same_diagnosis_in_korean(variant, submit, solution_text):
    folder = submit(mutate(solution_text, VARIANTS[variant][0]))
    english, korean = grade(folder, only=FAST, lang="en"), grade(folder, only=FAST, lang="ko")
    assert (english.lang, korean.lang) == ("en", "ko")
    assert [(c.name, c.score, c.status) for c in english.checks] == [(c.name, c.score, c.status)
                                                                     for c in korean.checks]
    for en, ko in zip(english.checks, korean.checks):
        assert HANGUL.search(ko.title), ko.title
        if not en.message:
            assert not ko.message, (en.name, ko.message)
            continue
        assert HANGUL.search(ko.message), (en.name, ko.message)
        lost = set(NUMBER.findall(en.message)) - set(NUMBER.findall(ko.message))
        assert not lost, f"{en.name}: {sorted(lost)} missing from {ko.message!r} (English: {en.message!r})"
    caught = VARIANTS[variant][1]
    assert korean[caught].score < korean[caught].max_score
    text = render(korean, "text")
    assert "합계" in text and "자동 채점기" in text


def test_korean_reports_in_every_format(submit, solution_text):
    from autograder.notebook import report_lines

    result = grade(submit(mutate(solution_text, VARIANTS["relu_mask_missing"][0])), only=["gradient", "train"],
                   lang="ko")
    text = render(result, "text")
    assert "합계:" in text and "ReLU 마스크(hidden > 0)를 곱하지 않았습니다" in text, text
    gradescope = json.loads(render(result, "json", config=load_config()))
    assert gradescope["output"].startswith("지금 공개된 검사")
    assert any("ReLU 마스크" in test["output"] for test in gradescope["tests"])
    junit = render(result, "junit")
    assert "점: " in ET.fromstring(junit.split("?>", 1)[1]).find(".//failure").get("message")
    assert "| 검사 | 점수 | 피드백 |" in render(result, "markdown")
    classroom = json.loads(render(result, "classroom"))
    assert "ReLU 마스크" in json.dumps(classroom, ensure_ascii=False)
    assert all(HANGUL.search(test["name"]) for test in classroom["results"]["partialCredit"]["tests"])
    lines = report_lines(result.checks, result.lang)
    assert lines[-1].startswith("=> ") and lines[-1].endswith("점")
    english = render(grade(RELEASE.parent, only=["interface.predict"]), "text")
    assert "Total:" in english and not HANGUL.search(english)


def test_checks_not_run_are_recognised_in_korean():
    """JUnit's <skipped> finds grading.py's 'not run' and feedback's 'same cause as in' in Korean too."""
    with i18n.language("ko"):
        reason = i18n._(NOT_RUN).format(function="MLP.forward", check="forward.shape")
        checks = [CheckResult(c.name, i18n._(c.title), 0.0, 1.0, "failed", reason, c.visibility, 0.0)
                  for c in select("graded", ["forward.values", "predict.values"])]
        say_once(checks)
    assert HANGUL.search(checks[1].message) and i18n.parse(ECHO, checks[1].message) is not None
    assert set(not_run(checks)) == {"forward.values", "predict.values"}
    xml = render(Result("sub", "graded", checks, lang="ko"), "junit")
    assert xml.count("<skipped") == 2


def test_cli_lang(capsys):
    from autograder.cli import main

    assert main([str(RELEASE.parent), "--only", "interface.predict", "--lang", "ko", "--color", "never"]) == 0
    out = capsys.readouterr().out
    assert "합계: 0 / 1" in out and "아직 구현되지 않았습니다" in out, out
    with pytest.raises(SystemExit) as exit_info:
        main([str(RELEASE.parent), "--lang", "xx"])
    assert exit_info.value.code == 2


def test_notebook_check_in_korean(capsys):
    from autograder.notebook import check

    assert check("interface.predict", module=RELEASE, lang="ko") == 0.0
    out = capsys.readouterr().out
    assert "실패 interface.predict 0/1: predict: 아직 구현되지 않았습니다" in out, out
    assert "=> 0 / 1점" in out, out
