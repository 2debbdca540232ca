"""The class report: one self-contained HTML page and a Markdown summary from the batch output.

Checked structurally: no external resource, the embedded figures are PNGs, the
tables hold the right counts, messages with different numbers group into one
diagnosis, timeouts and grader errors are listed; and, on a small class graded
by ``mlp-grade batch`` and reported by ``mlp-grade report`` in subprocesses, in
a real headless Chromium (the drill-down: not-gradable group, one row per
cause, pre-sorted views, links to each student's feedback, no id twice).
"""
from __future__ import annotations

import base64
import hashlib
import html as html_module
import json
import re
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from autograder.cli import main as cli
from autograder.config import load_config
from autograder.instructor import class_report
from conftest import RELEASE, SOLUTION

CHECKS = [("interface.MLP", 5.0), ("gradient.batch_averaging", 6.0), ("gradient.correctness", 12.0),
          ("train.learning_rate", 3.0), ("forward.shape", 4.0), ("accuracy.mnist", 10.0)]
NO_DIVISION = ("MLP.backward with batch_sz != N: W1 relative error {err} (threshold 1e-05); your W1 gradient is "
               "{n} (batch_sz) times too large: divide by batch_sz once")
ACCURACY = "test accuracy {acc:.2f}% (1 epoch, lr 0.5, batch 128, 784-128-10)"


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
    rows = page.rows["students-by-score"][1:]
    assert len(rows) == 12 and rows[0][0] == "hal" and "forward.shape" in rows[0][6]
    assert rows[0][2] == "–" and rows[0][3] == "skipped"  # no accuracy (timed out); --no-similarity


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
        result["sha256"] = hashlib.sha256(text.encode()).hexdigest()  # as graded
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
    assert not any("not implemented" in r[2] for r in diagnoses)  # the stub: not gradable, listed apart
    assert any(row[1] == class_report.SKELETON_CAUSE for row in page.rows["not-gradable-list"][1:])
    assert page.ids["score-histogram"][0] == "img"
    assert not re.search(r"(?i)(src|href)\s*=\s*[\"']?\s*(https?:)?//", html)


# ----------------------------------------------------------------------------- integrity and drill-down, as run


def mlp_grade(*args: str) -> subprocess.CompletedProcess:
    """``mlp-grade`` in a subprocess, as the instructor runs it."""
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True, timeout=600)


def test_a_file_changed_after_grading_is_marked_and_not_compared(tmp_path):
    """bob was graded on the skeleton, then put a copy of ann's solution in his folder: the report must not
    flag ann for a file nobody graded, and must say so."""
    subs, results = tmp_path / "submitted", tmp_path / "grades" / "results"
    results.mkdir(parents=True)
    graded = {"ann": SOLUTION.read_text(), "bob": RELEASE.read_text(),
              "cat": (Path(__file__).parent / "alternatives" / "layers.py").read_text()}
    for student, text in graded.items():
        (subs / student).mkdir(parents=True)
        (subs / student / "mlp.py").write_text(text)
        result = make_result(student)
        result["sha256"] = hashlib.sha256(text.encode()).hexdigest()
        (results / f"{student}.json").write_text(json.dumps(result))
    (subs / "bob" / "mlp.py").write_text(SOLUTION.read_text())  # after grading
    run = mlp_grade("report", str(tmp_path / "grades"), "--submissions", str(subs))
    assert run.returncode == 0, run.stderr
    assert "1 submissions changed after grading, left out of the similarity check: bob" in run.stderr
    html = (tmp_path / "grades" / "report" / "class_report.html").read_text()
    page = parse(html)
    assert page.ids["changed-since-grading"][0] == "p" and "bob: sha256" in html
    assert not [row for row in page.rows.get("similarity-pairs", [])[1:] if row[-1] == "flagged"]
    bob = next(row for row in page.rows["students-by-name"][1:] if row[0] == "bob")
    assert bob[3] == "not compared" and bob[5].startswith("file changed after grading")
    assert "**Changed after grading** (not compared): bob" in (tmp_path / "grades" / "report" /
                                                              "class_report.md").read_text()


PROBE = """<!DOCTYPE html><html><body><pre id="out"></pre><script>
var shown = {};
function look(frame) {
  try { see(frame); } catch (e) { document.getElementById('out').textContent = 'ERROR ' + e; }
}
function see(frame) {
  var d = frame.contentDocument, r = {hash: frame.src.split('#')[1] || '', views: {}, ids: [], links: [],
          notGradable: [], diagnoses: [], passRates: []};
  d.querySelectorAll('[id]').forEach(function (e) { r.ids.push(e.id); });
  d.querySelectorAll('table.view').forEach(function (t) {
    r.views[t.id] = {display: getComputedStyle(t).display,
                     rows: Array.from(t.querySelectorAll('tr')).slice(1).map(function (tr) {
                       return Array.from(tr.cells).map(function (c) { return c.innerText.trim(); }); })};
  });
  d.querySelectorAll('#students a[href^="#student-"]').forEach(function (a) {
    var target = d.getElementById(a.getAttribute('href').slice(1));
    r.links.push([a.innerText, target ? target.querySelector('h3').innerText : null]);
  });
  var ng = d.getElementById('not-gradable-list');
  if (ng && getComputedStyle(ng).display !== 'none')
    Array.from(ng.rows).slice(1).forEach(function (tr) { r.notGradable.push([tr.cells[0].innerText, tr.cells[1].innerText]); });
  Array.from(d.getElementById('diagnoses').rows).slice(1).forEach(function (tr) {
    r.diagnoses.push([tr.cells[0].innerText, tr.cells[1].innerText, tr.cells[2].innerText]); });
  Array.from(d.getElementById('pass-rates').rows).slice(1).forEach(function (tr) {
    r.passRates.push([tr.cells[0].innerText.split('\\n')[0], tr.cells[2].innerText]); });
  shown[r.hash] = r;
  if (Object.keys(shown).length === FRAMES) document.getElementById('out').textContent = JSON.stringify(shown);
}
</script>FRAMES_HTML</body></html>"""


def in_chromium(report: Path, hashes: list[str]) -> dict:
    """What a real headless Chromium shows of ``report`` opened at each of ``hashes`` (computed styles
    included): a probe page frames it and writes what it sees into its own DOM, which Chromium dumps."""
    from benchmarks.render_report import chromium

    browser = chromium()
    if browser is None:
        pytest.skip("no chromium (apt-get install -y chromium)")
    frames = "".join(f'<iframe onload="look(this)" src="{report.name}{"#" + h if h else ""}"></iframe>' for h in hashes)
    probe = report.with_name("probe.html")
    probe.write_text(PROBE.replace("FRAMES_HTML", frames).replace("FRAMES", str(len(hashes))))
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
                              "--virtual-time-budget=10000", f"--user-data-dir={profile}", "--dump-dom",
                              probe.resolve().as_uri()], capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    assert found and found.group(1) and not found.group(1).startswith("ERROR"), dom[-2000:]
    return json.loads(html_module.unescape(found.group(1)))


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """A small class graded by mlp-grade batch (fast checks) and reported by mlp-grade report, in subprocesses:
    the reference, the same ReLU bug made by two students (one copied and disguised it), a disguised copy of
    the reference, and four submissions that cannot be graded (no file, the skeleton, empty, failing import)."""
    from test_buggy_variants import VARIANTS
    from test_similarity import disguise

    from conftest import mutate

    root = tmp_path_factory.mktemp("graded")
    subs, out = root / "submitted", root / "out"
    solution = SOLUTION.read_text()
    relu = mutate(solution, VARIANTS["relu_mask_missing"][0])
    texts = {"ref": solution, "relu_a": relu, "relu_b": disguise(relu, seed=11), "copy": disguise(solution, seed=12),
             "stub": RELEASE.read_text(), "empty": "", "broken": "import numpy as np\nraise RuntimeError('oops')\n"}
    for student, text in texts.items():
        (subs / student).mkdir(parents=True)
        (subs / student / "mlp.py").write_text(text)
    (subs / "nofile").mkdir()
    config = root / "fast.toml"
    config.write_text('[grader]\nskip = ["accuracy", "train"]\n')
    batch = mlp_grade("batch", str(subs), "--jobs", "2", "--out", str(out), "--config", str(config))
    assert batch.returncode == 0, batch.stderr
    report = mlp_grade("report", str(out), "--submissions", str(subs), "--config", str(config))
    assert report.returncode == 0, report.stderr
    return out / "report", batch.stderr, report.stderr


def test_the_progress_bar_counts_what_it_says(graded_class):
    _folder, batch_err, _report_err = graded_class
    assert "6 below full marks" in batch_err and "failed" not in batch_err  # ref and copy have full marks


def test_the_drill_down_in_a_real_browser(graded_class):
    folder, _batch_err, report_err = graded_class
    assert "checks skipped in grading" in report_err  # accuracy and train: the instructor is told
    seen = in_chromium(folder / "class_report.html", ["", "students-by-name"])
    default, by_name = seen[""], seen["students-by-name"]
    # no id twice (one section "students", its tables "students-by-...")
    assert len(default["ids"]) == len(set(default["ids"])), sorted(i for i in default["ids"]
                                                                   if default["ids"].count(i) > 1)
    # the not-gradable group, apart, with its causes; out of the pass rates (4 gradable students)
    causes = dict(default["notGradable"])
    assert sorted(causes) == ["broken", "empty", "nofile", "stub"]
    assert causes["stub"] == class_report.SKELETON_CAUSE and "RuntimeError: oops" in causes["broken"]
    assert "mlp.py is empty" in causes["empty"] and "no mlp.py found" in causes["nofile"]
    assert {graded.split(" / ")[1] for _check, graded in default["passRates"]} == {"4"}
    # one row per cause: the ReLU bug costs three gradient checks, one row for both students
    relu = [row for row in default["diagnoses"] if "ReLU mask is missing" in row[2]]
    assert len(relu) == 1 and relu[0][0] == "2", default["diagnoses"]
    assert not [row for row in default["diagnoses"] if row[1] in ("gradient.correctness", "gradient.realistic")]
    assert not [row for row in default["diagnoses"] if "not implemented" in row[2] or "empty" in row[2]]
    # the students table: one view shown at a time, sorted as labelled, every name a link to its feedback
    shown = [v for v, t in default["views"].items() if t["display"] != "none"]
    assert shown == ["students-by-score"], default["views"].keys()
    scores = [float(row[1].split(" / ")[0]) for row in default["views"]["students-by-score"]["rows"]]
    assert scores == sorted(scores) and len(scores) == 8
    assert [v for v, t in by_name["views"].items() if t["display"] != "none"] == ["students-by-name"]
    names = [row[0] for row in by_name["views"]["students-by-name"]["rows"]]
    assert names == sorted(names) == sorted(["ref", "relu_a", "relu_b", "copy", "stub", "empty", "broken", "nofile"])
    assert all(name == target for name, target in default["links"]) and \
        {name for name, _target in default["links"]} == set(names)
    rows = {row[0]: row for row in by_name["views"]["students-by-name"]["rows"]}
    # the single-bug files are the reference with one line changed: copies of it too
    assert rows["copy"][3] == "flagged with ref, relu_a, relu_b" and rows["nofile"][3] == "not compared"
    assert rows["empty"][3] == "none"
    assert {row[2] for row in rows.values()} == {"skipped"}  # the accuracy check was skipped
    assert rows["stub"][5].startswith("not gradable")


def test_the_markdown_summary_has_the_same_sections(graded_class):
    folder, _batch_err, _report_err = graded_class
    md = (folder / "class_report.md").read_text()
    html = (folder / "class_report.html").read_text()
    assert re.findall(r"^## (.+)$", md, re.M) == re.findall(r"<h2>(.+?)</h2>", html)
    assert "| stub | nothing implemented" in md and "## Feedback per student" in md
    assert re.search(r"^\| \[copy\]\(#student-copy\) \| (\d+) / \1 \| skipped \| ref, relu_a, relu_b \|", md, re.M)


def test_the_markdown_has_the_html_sections_when_the_similarity_check_cannot_run(tmp_path):
    grades = synthetic_class(tmp_path)  # results name submitted/<student> folders that do not exist
    written = class_report.build(grades, config=load_config())
    md, html = written["markdown"].read_text(), written["html"].read_text()
    assert re.findall(r"^## (.+)$", md, re.M) == re.findall(r"<h2>(.+?)</h2>", html)
    assert "Not run: the submissions were not found" in md
