"""The class report: one self-contained HTML page and a Markdown summary from the batch output.

Checked structurally (no browser here; ``python -m benchmarks.render_report``
takes a Chromium screenshot): no external resource, the embedded figures are
PNGs, the tables hold the right counts, messages with different numbers group
into one diagnosis, timeouts and grader errors are listed.
"""
from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from autograder.cli import main as cli
from autograder.config import load_config
from autograder.workflows import class_report
from conftest import RELEASE, SOLUTION

CHECKS = [("interface.MLP", 5.0), ("gradient.batch_averaging", 6.0), ("gradient.correctness", 12.0),
          ("train.learning_rate", 3.0), ("forward.shape", 4.0), ("accuracy.mnist", 10.0)]
NO_DIVISION = ("MLP.backward with batch_sz != N: W1 relative error {err} (threshold 1e-05); your W1 gradient is "
               "{n} (batch_sz) times too large: divide by batch_sz once")
ACCURACY = "test accuracy {acc:.2f}% (1 epoch, lr 0.5, batch 128, 784-128-10, 7 s)"


def make_result(student: str, lost: dict[str, tuple[float, str]] | None = None, seconds: float = 10.0,
                status: dict[str, str] | None = None, accuracy: float | None = 96.2) -> dict:
    """A result as ``mlp-grade batch`` writes it: every check of CHECKS, full points unless in ``lost``
    (check -> (score, message))."""
    checks = []
    for name, points in CHECKS:
        score, message = (lost or {}).get(name, (points, ""))
        if name == "accuracy.mnist" and not message and accuracy is not None:
            message = ACCURACY.format(acc=accuracy)
        checks.append({"name": name, "title": f"title of {name}", "score": score, "max_score": points,
                       "status": (status or {}).get(name, "passed" if score >= points else "failed"),
                       "message": message, "visibility": "visible", "seconds": 0.1})
    return {"student": student, "submission": f"submitted/{student}", "suite": "graded", "checks": checks,
            "notes": [], "seconds": seconds, "isolation": {"level": "strict", "summary": "isolation strict"},
            "lang": "en", "score": sum(c["score"] for c in checks), "max_score": sum(p for _n, p in CHECKS),
            "sha256": "0" * 64}


def synthetic_class(root: Path) -> Path:
    """grades/results/*.json of a class: 3 students forgot the batch division (different sizes drawn),
    2 got the learning rate wrong, one timed out, one met a grader error, one is very slow."""
    results = {
        "ada": make_result("ada", accuracy=97.1),
        "ben": make_result("ben", accuracy=95.4),
        "cy": make_result("cy", {"gradient.batch_averaging": (0.0, NO_DIVISION.format(err="8.46e-01", n=12))}),
        "dee": make_result("dee", {"gradient.batch_averaging": (0.0, NO_DIVISION.format(err="9.68e-01", n=31))},
                           accuracy=94.0),
        "eli": make_result("eli", {"gradient.batch_averaging": (0.0, NO_DIVISION.format(err="7.5e-01", n=7))},
                           seconds=11.0),
        "fay": make_result("fay", {"train.learning_rate": (0.0, "every update should be param -= lr * grad: the "
                                                                "learning rate is ignored"),
                                   "accuracy.mnist": (0.0, "same cause as in train.learning_rate")}, accuracy=None),
        "gus": make_result("gus", {"train.learning_rate": (0.0, "every update should be param -= lr * grad: the "
                                                                "learning rate is ignored"),
                                   "accuracy.mnist": (2.5, "test accuracy 81.20% (1 epoch, lr 0.5, batch 128, "
                                                           "784-128-10, 9 s): partial credit; 95% earns full points")}),
        "hal": make_result("hal", {"forward.shape": (0.0, "MLP.forward did not return within 10 s (infinite loop in "
                                                          "MLP.forward?)"),
                                   "gradient.correctness": (0.0, "not run: MLP.forward never returned in "
                                                                 "forward.shape (infinite loop?); fix that first"),
                                   "accuracy.mnist": (0.0, "not run: MLP.forward never returned in forward.shape "
                                                           "(infinite loop?); fix that first")}, accuracy=None),
        # student code can put any text in a message: it must reach the page as text, never as markup
        "ivy": make_result("ivy", {"gradient.correctness": (0.0, "the grader failed on this check: KeyError "
                                                                 "'<script>alert(1)</script><img src=//evil.example/x>'")},
                           status={"gradient.correctness": "error"}),
        "jon": make_result("jon", seconds=400.0, accuracy=96.0),
        "kim": make_result("kim", seconds=9.0, accuracy=96.5),
        "lea": make_result("lea", seconds=10.5, accuracy=96.3),
    }
    folder = root / "grades" / "results"
    folder.mkdir(parents=True)
    for student, result in results.items():
        (folder / f"{student}.json").write_text(json.dumps(result))
    (folder / "zed.json").write_text("{not json")
    return root / "grades"


class Page(HTMLParser):
    """Tags, attributes, table rows and text of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags, self.urls, self.ids, self.rows, self.text = [], [], {}, {}, []
        self._table, self._row, self._cell = None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        for key in ("src", "href", "action", "data", "poster"):
            if key in attrs:
                self.urls.append(attrs[key])
        if "id" in attrs:
            self.ids[attrs["id"]] = (tag, attrs)
        if tag == "table":
            self._table = attrs.get("id")
            self.rows.setdefault(self._table, [])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join(" ".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table in self.rows:
            self.rows[self._table].append(self._row)
            self._row = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    grades = synthetic_class(root)
    assert cli(["report", str(grades), "--no-similarity"]) == 0
    html = (grades / "report" / "class_report.html").read_text()
    return grades, html, parse(html), (grades / "report" / "class_report.md").read_text()


def test_the_page_is_self_contained(report):
    _grades, html, page, _md = report
    assert html.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in html
    # every address in the markup, as a browser's parser reads it (text and titles may mention anything)
    assert all(u.startswith(("data:image/png;base64,", "#")) for u in page.urls), page.urls
    assert {"script", "iframe", "object", "embed", "link", "img"} & set(page.tags) <= {"img"}, set(page.tags)
    assert "<script" not in html and "@import" not in html and "url(" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # ivy's message, shown as text
    assert "<link" not in html  # no stylesheet or font fetched


def test_the_page_embeds_the_histograms_as_pngs(report):
    _grades, _html, page, _md = report
    for ident in ("score-histogram", "accuracy-histogram", "time-histogram"):
        tag, attrs = page.ids[ident]
        assert tag == "img" and attrs["alt"]
        png = base64.b64decode(attrs["src"].removeprefix("data:image/png;base64,"), validate=True)
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000


def test_the_headline_and_the_pass_rate_table(report):
    _grades, html, page, _md = report
    assert "<b>12</b><span>students graded</span>" in html  # zed.json is unreadable
    rates = {row[0].split()[0]: row for row in page.rows["pass-rates"][1:]}
    assert list(rates) == [name for name, _points in CHECKS]
    assert rates["gradient.batch_averaging"][2] == "9 / 12" and rates["gradient.batch_averaging"][4] == "75%"
    assert rates["train.learning_rate"][2] == "10 / 12" and rates["interface.MLP"][2] == "12 / 12"
    assert rates["gradient.correctness"][2] == "10 / 12"  # hal (not run) and ivy (grader error)


def test_messages_differing_only_in_numbers_are_one_diagnosis(report):
    _grades, _html, page, _md = report
    rows = page.rows["diagnoses"][1:]
    first = rows[0]
    assert first[0] == "3" and first[1] == "gradient.batch_averaging" and "times too large" in first[2]
    assert "cy" in first[2] and "dee" in first[2] and "eli" in first[2]
    assert first[3] == "18"
    lr = next(r for r in rows if r[1] == "train.learning_rate")
    # fay's accuracy check only points back ("same cause as in"): its points count here, not as a row
    assert lr[0] == "2" and lr[3] == "16" and "also in: accuracy.mnist" in lr[2]
    assert not [r for r in rows if r[2].startswith("same cause as in")]


def test_normalised_messages():
    norm = class_report.normalise_message
    assert norm(NO_DIVISION.format(err="8.46e-01", n=12)) == norm(NO_DIVISION.format(err="1.5e-02", n=7))
    assert norm("(N=7, D=14, H=23, C=4) the W1 gradient has shape (23, 14), expected (14, 23)") == \
        "(N=#, D=#, H=#, C=#) the W1 gradient has shape (#, #), expected (#, #)"
    assert norm("raised ValueError: bad [mlp.py line 231, in train_mlp_neuralnet: param -= lr * grads[name]]") == \
        "raised ValueError: bad [in train_mlp_neuralnet]"
    assert norm("ValueError 예외가 발생했습니다: bad [mlp.py 231번째 줄, train_mlp_neuralnet 안: param -= lr * grads[name]]") \
        == "ValueError 예외가 발생했습니다: bad [in train_mlp_neuralnet]"  # the trailer in Korean (checks/base.py)
    assert "W1" in norm("W1 relative error 1e-3") and "b2" in norm("b2 is not added")


def test_accuracy_is_read_from_the_accuracy_message(report):
    parse_accuracy = class_report.parse_accuracy
    assert parse_accuracy("test accuracy 96.37% (1 epoch, lr 0.5, batch 128, 784-128-10, 12 s)") == 96.37
    assert parse_accuracy("test accuracy 8.92% (...) is below the minimum 80%: if ...") == 8.92
    assert parse_accuracy("training on MNIST raised ValueError: 100% wrong") is None
    assert parse_accuracy("") is None
    _grades, _html, page, _md = report
    table = dict((row[0], row[1]) for row in page.rows["accuracy-table"])
    assert table["students with a test accuracy"] == "10" and table["median"] == "96.20 %"
    accuracies = [97.1, 95.4, 96.2, 94.0, 96.2, 81.2, 96.2, 96.0, 96.5, 96.3]  # as in synthetic_class
    upper = float("inf")
    for threshold, fraction in load_config()["accuracy"]["tiers"]:  # the configured tiers, best first
        expected = sum(1 for a in accuracies if threshold * 100 <= a < upper)
        assert table[f"≥ {threshold:.0%} ({fraction:.0%} of the points)"] == str(expected)
        upper = threshold * 100
    assert table[f"below {threshold:.0%} (no points)"] == str(sum(1 for a in accuracies if a < upper))


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_every_timeout_message_is_recognised_in_every_language(lang):
    from autograder import i18n
    from autograder.grading import NOT_RUN
    from autograder.sandbox.runner import TIMEOUTS

    with i18n.language(lang):
        for template in TIMEOUTS:
            said = i18n._("{subject} {problem}").format(
                subject="MLP.forward", problem=i18n._(template).format(seconds="3", function="MLP.forward"))
            assert class_report.is_timeout(said), said
            assert class_report.is_timeout(said + " (limit lowered after the timeout in forward.shape)"), said
        not_run = i18n._(NOT_RUN).format(function="MLP.forward", check="forward.shape")
        assert not class_report.is_timeout(not_run), not_run
        assert not class_report.is_timeout(i18n._("test accuracy {accuracy} ({setting})").format(
            accuracy="95.00%", setting="1 epoch"))


def test_timeouts_grader_errors_and_unreadable_results_are_listed(report):
    _grades, _html, page, _md = report
    problems = [tuple(row[:3]) for row in page.rows["problems"][1:]]
    assert ("hal", "timeout", "forward.shape") in problems
    assert ("ivy", "grader error", "gradient.correctness") in problems
    assert ("zed.json", "unreadable result", "") in problems
    assert not [p for p in problems if p[0] in ("ada", "cy", "fay")]


def test_grading_time_outliers(report):
    _grades, _html, page, _md = report
    assert [row[0] for row in page.rows["time-outliers"][1:]] == ["jon"]


def test_the_markdown_summary(report):
    _grades, _html, _page, md = report
    assert md.startswith("# Class report\n")
    assert "| `gradient.batch_averaging` | 6 | 9/12 | 75% | 3 |" in md
    assert re.search(r"^\| 3 \| `gradient.batch_averaging` \| .*times too large", md, re.M)
    assert "| hal | timeout | `forward.shape` |" in md


def test_the_students_table_lists_everyone_lowest_first(report):
    _grades, _html, page, _md = report
    rows = page.rows["students"][1:]
    assert len(rows) == 12 and rows[0][0] == "hal" and "forward.shape" in rows[0][4]


def test_the_report_holds_the_similarity_section_for_the_instructor(tmp_path):
    from test_similarity import disguise

    subs = tmp_path / "submitted"
    texts = {"ann": SOLUTION.read_text(), "bob": disguise(SOLUTION.read_text(), seed=7),
             "cat": (Path(__file__).parent / "alternatives" / "einsum_logsumexp.py").read_text(),
             "dan": RELEASE.read_text()}
    results = tmp_path / "grades" / "results"
    results.mkdir(parents=True)
    for student, text in texts.items():
        (subs / student).mkdir(parents=True)
        (subs / student / "mlp.py").write_text(text)
        result = make_result(student)
        result["submission"] = str(subs / student)
        (results / f"{student}.json").write_text(json.dumps(result))
    written = class_report.build(tmp_path / "grades", config=load_config())  # folders from the results
    html = written["html"].read_text()
    page = parse(html)
    flagged = [row[:2] for row in page.rows["similarity-pairs"][1:] if row[-1] == "flagged"]
    assert flagged == [["ann", "bob"]]
    assert '<table class="side">' in html and "ann</b> ↔ <b>bob" in html
    assert json.loads(written["similarity"].read_text())["pairs"][0]["flagged"] is True
    assert "ann ↔ bob" in written["markdown"].read_text()


def test_report_refuses_a_folder_without_results(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli(["report", str(tmp_path)])
    assert exc.value.code == 2 and "mlp-grade batch" in capsys.readouterr().err


@pytest.mark.slow
def test_report_of_a_real_batch(tmp_path):
    """mlp-grade batch on a small class, then mlp-grade report on its output."""
    from test_workflows import FAST_CONFIG, make_class

    subs, out = tmp_path / "submitted", tmp_path / "out"
    plan = make_class(subs, 5)
    config = tmp_path / "fast.toml"
    config.write_text(FAST_CONFIG)
    assert cli(["batch", str(subs), "--jobs", "2", "--out", str(out), "--config", str(config)]) == 0
    assert cli(["report", str(out), "--submissions", str(subs), "--config", str(config)]) == 0
    html = (out / "report" / "class_report.html").read_text()
    page = parse(html)
    assert f"<b>{len(plan)}</b><span>students graded</span>" in html
    assert "accuracy.mnist" not in [row[0].split()[0] for row in page.rows["pass-rates"][1:]]
    assert "The accuracy check was not run" in html
    diagnoses = page.rows["diagnoses"][1:]
    assert any(r[1] == "train.learning_rate" and "learning rate is ignored" in r[2] for r in diagnoses)
    assert any("not implemented" in r[2] for r in diagnoses)  # the stub
    assert page.ids["score-histogram"][0] == "img"
    assert not re.search(r"(?i)(src|href)\s*=\s*[\"']?\s*(https?:)?//", html)
