"""``mlp-grade report``: one self-contained HTML page (and a Markdown summary) about a graded class.

    mlp-grade report GRADES_DIR [--out DIR] [--submissions SUBMITTED_DIR] [--skeleton FILE] [--no-similarity]
                                [--config FILE]

GRADES_DIR is the output folder of ``mlp-grade batch`` (``results/<student>.json``).
The page, ``DIR/class_report.html`` (default ``GRADES_DIR/report/``), is for the
instructor: it opens offline (figures are embedded PNGs, no script, no external
URL) and shows

* warnings: results graded with checks left out or out of another maximum than
  the config's total, files changed after grading (sha256);
* the score distribution (histogram, mean, median, full marks, zeros);
* the not-gradable submissions (no file, empty, unparsable, failing import,
  refused input, the skeleton as handed out), apart: kept out of the pass
  rates and diagnoses;
* the pass rate of every check, with the points lost there;
* the most frequent diagnoses, with how many students got each: messages are
  grouped after numbers and shapes are taken out of them, and a check that
  points back to an earlier one ("same cause as in") is merged into its row, so
  one cause is one row whatever sizes the hidden inputs had;
* the MNIST test accuracy distribution (read from the ``accuracy.mnist``
  messages) against the accuracy tiers;
* grading-time outliers;
* grader errors, timeouts or crashed workers;
* the confinement student code ran under;
* the similarity check (``similarity.py``): flagged pairs with their matched
  regions side by side, when the submissions can be read (files changed since
  grading are left out);
* every student in pre-sorted views (CSS ``:target``, no script) with score,
  accuracy, similarity flags ("skipped" where a check did not run), status and
  the checks that lost points, each linking to the student's feedback block.

``DIR/class_report.md`` holds the same sections as Markdown (no plots, no
similarity regions), and ``DIR/similarity.json`` every compared pair.
"""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import functools
import html
import io
import json
import re
import statistics
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .. import i18n
from ..checks.base import NOT_IMPLEMENTED
from ..checks.interface import STUB_FUNCTION, STUB_METHODS
from ..grading import NOT_RUN
from ..report.formats import markdown_cell
from ..sandbox.runner import TIMEOUTS
from .page import anchor, page

ACCURACY_CHECK = "accuracy.mnist"
#: the message of a student whose grading worker died (``batch._crashed``)
CRASH_PREFIX = "grading stopped:"


def is_timeout(message: str) -> bool:
    """Whether a check's message says its probe ran out of time (in any language), not that it was not run
    because a function had hung in an earlier check."""
    return any(i18n.occurs(t, message) for t in TIMEOUTS) and not i18n.occurs(NOT_RUN, message)


# ----------------------------------------------------------------------------- reading the batch output


@dataclass
class Student:
    name: str
    score: float
    max_score: float
    seconds: float
    checks: list[dict]
    submission: str = ""
    isolation: str = ""
    notes: list[str] = field(default_factory=list)
    accuracy: float | None = None
    #: why the submission was refused unread (a symbolic link, a FIFO, too large: ``autograder.submission``)
    refused: str = ""
    #: sha256 of the mlp.py that was graded (as mlp-grade batch stored it)
    sha256: str = ""
    #: why nothing could be graded ('' when something could): see :func:`not_gradable`
    cause: str = ""

    @property
    def accuracy_checked(self) -> bool:
        return any(c["name"] == ACCURACY_CHECK for c in self.checks)


@dataclass
class ClassData:
    students: list[Student]
    #: results that could not be read: file name -> why
    unreadable: dict[str, str]
    #: check name -> (title, max points), in pipeline order
    checks: dict[str, tuple[str, float]]


def load(grades_dir: Path) -> ClassData:
    folder = grades_dir / "results"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} does not exist: pass the --out folder of mlp-grade batch")
    students, unreadable, checks = [], {}, {}
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            result = Student(name=str(data.get("student") or path.stem), score=float(data["score"]),
                             max_score=float(data["max_score"]), seconds=float(data.get("seconds") or 0.0),
                             checks=list(data["checks"]), submission=str(data.get("submission") or ""),
                             isolation=str((data.get("isolation") or {}).get("level") or "unknown"),
                             notes=[str(n) for n in data.get("notes") or []], sha256=str(data.get("sha256") or ""),
                             refused=str(data.get("refused") or ""))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            unreadable[path.name] = f"{type(exc).__name__}: {exc}"
            continue
        for check in result.checks:
            checks.setdefault(check["name"], (check.get("title", check["name"]), float(check["max_score"])))
            if check["name"] == ACCURACY_CHECK:
                result.accuracy = parse_accuracy(check.get("message", ""))
        result.cause = not_gradable(result)
        students.append(result)
    return ClassData(students, unreadable, checks)


_ACCURACY = re.compile(r"(\d{1,3}(?:\.\d+)?)\s?%")


def parse_accuracy(message: str) -> float | None:
    """The test accuracy in percent of an ``accuracy.mnist`` message ('test accuracy 96.37% (...)')."""
    found = _ACCURACY.search(message or "")
    if found is None:
        return None
    head = message[:found.start()].lower()
    if "accuracy" not in head and "정확도" not in head:
        return None  # a % in an error message (student output), not the test accuracy
    return float(found.group(1))


# ----------------------------------------------------------------------------- grouping diagnoses

@functools.lru_cache(maxsize=1)
def _trailer() -> re.Pattern:
    """The ``[mlp.py line 231, in f: <code>]`` trailer of a student exception (checks/base.py ``location``),
    in every language: the one group that matched is the function."""
    from ..checks.base import LOCATION, LOCATION_CODE

    forms = []
    for template in (*i18n.forms(LOCATION_CODE), *i18n.forms(LOCATION)):
        pattern = re.escape(template)
        for field, part in (("line", r"\d+"), ("function", r"([\w.<>]+)"), ("code", r".*")):
            pattern = pattern.replace(re.escape("{" + field + "}"), part)
        forms.append(pattern)
    return re.compile(r"\s*\[(?:" + "|".join(f"(?:{f})" for f in forms) + r")\]\s*$", re.DOTALL)

_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w])")


def normalise_message(message: str) -> str:
    """The message with its numbers and shapes taken out: one cause, one key.

    '(N=7, D=14, H=23, C=4) the W1 gradient has shape (23, 14), expected (14, 23)' ->
    '(N=#, D=#, H=#, C=#) the W1 gradient has shape (#, #), expected (#, #)'; the student's
    source line quoted after '[mlp.py line 231, in f: ...]' becomes '[in f]'.
    """
    text = " ".join((message or "").split())
    text = _trailer().sub(lambda m: f" [in {next(g for g in m.groups() if g is not None)}]", text)
    return _NUMBER.sub("#", text).strip()


#: the clause a later check's message ends with when an earlier check said its hint first (feedback.ECHO)
ECHO_TEMPLATE = "same cause as in {checks}"
CLAUSE_SEPARATOR = "; "


def split_echo(message: str) -> tuple[str, list[str]]:
    """('own clauses', [checks it points back to]) of a check message (``feedback.say_once``)."""
    own, refs = [], []
    for clause in (message or "").split(CLAUSE_SEPARATOR):
        found = None
        try:
            from .. import i18n

            found = i18n.parse(ECHO_TEMPLATE, clause.strip())
        except Exception:  # noqa: BLE001 - no catalogue: English only
            match = re.fullmatch(r"same cause as in (.+)", clause.strip())
            found = {"checks": match.group(1)} if match else None
        if found is None:
            own.append(clause)
        else:
            refs += [c.strip() for c in found["checks"].split(",") if c.strip()]
    return CLAUSE_SEPARATOR.join(own).strip(), refs


#: what a release stub's functions say when graded
STUB_TEMPLATES = (NOT_IMPLEMENTED, STUB_FUNCTION, STUB_METHODS)
SKELETON_CAUSE = "nothing implemented: the skeleton as handed out"


def not_gradable(student: Student) -> str:
    """Why nothing of the submission could be graded, '' when something could: no ``mlp.py``, an empty,
    unparsable or unimportable one, input refused (one message, every other check points back to it or
    repeats it), or the release skeleton (every message says 'not implemented yet')."""
    if student.refused:
        return student.refused
    if student.score > 0 or not student.checks:
        return ""
    own = []
    for check in student.checks:
        message = check.get("message") or ""
        if check.get("status") == "error" or message.startswith(CRASH_PREFIX):
            return ""  # a grader problem, listed with them
        text, _refs = split_echo(message)
        if text:
            own.append(text)
    if not own:
        return ""
    if len({normalise_message(t) for t in own}) == 1:
        return own[0]
    clauses = [c.strip() for t in own for c in t.split(CLAUSE_SEPARATOR) if c.strip()]
    if all(any(i18n.occurs(t, c) for t in STUB_TEMPLATES) for c in clauses):
        return SKELETON_CAUSE
    return ""


@dataclass
class Diagnosis:
    check: str
    key: str
    students: list[str]
    example: str
    points_lost: float
    #: other checks that lost points for the same cause ("same cause as in <check>")
    also: Counter = field(default_factory=Counter)


def diagnoses(data: ClassData) -> list[Diagnosis]:
    """What the checks said where points were lost, grouped by check and normalised message, most students
    first: one row per cause. A check whose message points back to an earlier one ("same cause as in ...",
    with or without words of its own) adds its lost points to that earlier diagnosis instead of making a
    row of its own; the checks so merged are listed with the row."""
    groups: dict[tuple[str, str], Diagnosis] = {}
    for student in data.students:
        lost = [c for c in student.checks if float(c["score"]) < float(c["max_score"]) and c.get("message")]
        own_of: dict[str, Diagnosis] = {}
        for check in lost:  # pipeline order: a message points back to earlier checks only
            own, refs = split_echo(check["message"])
            root = next((own_of[r] for r in refs if r in own_of), None)
            if root is None:  # its own cause (or it points back to a check that lost nothing)
                key = (check["name"], normalise_message(own or check["message"]))
                root = groups.setdefault(key, Diagnosis(check["name"], key[1], [], own or check["message"], 0.0))
                if student.name not in root.students:
                    root.students.append(student.name)
            else:
                root.also[check["name"]] += 1
            root.points_lost += float(check["max_score"]) - float(check["score"])
            own_of[check["name"]] = root
    return sorted(groups.values(), key=lambda d: (-len(d.students), -d.points_lost, d.check, d.key))


# ----------------------------------------------------------------------------- figures


@dataclass
class CheckStats:
    name: str
    title: str
    points: float
    graded: int
    passed: int
    mean: float
    losing: int

    @property
    def rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


def check_stats(data: ClassData) -> list[CheckStats]:
    stats = []
    for name, (title, points) in data.checks.items():
        scores = [float(c["score"]) for s in data.students for c in s.checks if c["name"] == name]
        passed = sum(1 for s in data.students for c in s.checks if c["name"] == name and c["status"] == "passed")
        stats.append(CheckStats(name, title, points, len(scores), passed,
                                statistics.fmean(scores) if scores else 0.0,
                                sum(1 for x in scores if x < points)))
    return stats


def timeouts_and_errors(data: ClassData) -> list[tuple[str, str, str, str]]:
    """(student, kind, check, message) for grader errors, timeouts and crashed workers."""
    rows = []
    for student in data.students:
        crashed = False
        for check in student.checks:
            message = check.get("message") or ""
            if check["status"] == "error":
                rows.append((student.name, "grader error", check["name"], message))
            elif message.startswith(CRASH_PREFIX):
                if not crashed:
                    rows.append((student.name, "worker crashed", "(all checks)", message))
                crashed = True
            elif is_timeout(message):
                rows.append((student.name, "timeout", check["name"], message))
    for name, why in data.unreadable.items():
        rows.append((name, "unreadable result", "", why))
    return rows


def time_outliers(data: ClassData) -> tuple[float, list[Student]]:
    """Students graded far slower than the class: above Q3 + 3 IQR and above twice the median."""
    times = sorted(s.seconds for s in data.students)
    if len(times) < 4:
        return float("inf"), []
    q1, _median, q3 = statistics.quantiles(times, n=4)
    limit = max(q3 + 3 * (q3 - q1), 2 * statistics.median(times))
    return limit, sorted((s for s in data.students if s.seconds > limit), key=lambda s: -s.seconds)


def _figure_png(draw, width: float = 9.0, height: float = 3.0) -> str | None:
    """Base64 PNG of what ``draw(ax)`` plots (None without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        from matplotlib.figure import Figure
    except ImportError:
        return None
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    draw(ax)
    ax.spines[["top", "right"]].set_visible(False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def score_histogram(data: ClassData) -> str | None:
    scores = [s.score for s in data.students]
    top = max([s.max_score for s in data.students] or [100.0])

    def draw(ax):
        import numpy as np

        bins = np.linspace(0, top, 21)
        ax.hist(scores, bins=bins, color="#3b6fb6", edgecolor="white")
        if scores:
            ax.axvline(statistics.median(scores), color="#d1495b", linestyle="--",
                       label=f"median {statistics.median(scores):g}")
            ax.legend(frameon=False)
        ax.set_xlim(0, top)
        ax.set_xlabel(f"score (out of {top:g})")
        ax.set_ylabel("students")
        ax.yaxis.get_major_locator().set_params(integer=True)

    return _figure_png(draw)


def accuracy_histogram(data: ClassData, tiers: list[list[float]]) -> str | None:
    """Accuracies from 5 points below the lowest tier up, in 0.5 % bins; the ones below are counted."""
    values = [s.accuracy for s in data.students if s.accuracy is not None]
    if not values:
        return None
    low = max(0.0, min(t[0] for t in tiers) * 100 - 5) if tiers else max(0.0, min(values) - 1)
    shown = [v for v in values if v >= low]
    below = len(values) - len(shown)

    def draw(ax):
        import numpy as np

        ax.hist(shown, bins=np.arange(low, 100.5, 0.5), color="#2a9d8f", edgecolor="white")
        for threshold, fraction in tiers:
            ax.axvline(threshold * 100, color="#e76f51", linestyle=":", linewidth=1)
            ax.annotate(f"≥ {threshold:.0%}: {fraction:.0%} of the points", (threshold * 100, 0.98),
                        xycoords=("data", "axes fraction"), va="top", ha="right", rotation=90, fontsize=8,
                        color="#b5452b", bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1})
        ax.set_xlim(low, 100)
        ax.set_xlabel("MNIST test accuracy (%)" + (f"; {below} student{'s' if below != 1 else ''} below "
                                                   f"{low:g} % not shown" if below else ""))
        ax.set_ylabel("students")
        ax.yaxis.get_major_locator().set_params(integer=True)

    return _figure_png(draw)


def time_figure(data: ClassData, limit: float) -> str | None:
    times = [s.seconds for s in data.students]
    if not times:
        return None

    def draw(ax):
        normal = [t for t in times if t <= limit]
        slow = [t for t in times if t > limit]
        ax.hist([normal, slow], bins=30, stacked=True, color=["#8d99ae", "#d1495b"], edgecolor="white",
                label=["", "outliers"] if slow else None)
        if limit != float("inf"):
            ax.axvline(limit, color="#d1495b", linestyle=":", linewidth=1)
        if slow:
            ax.legend(frameon=False)
        ax.set_xlabel("grading time per student (s)")
        ax.set_ylabel("students")
        ax.yaxis.get_major_locator().set_params(integer=True)

    return _figure_png(draw, height=2.4)


# ----------------------------------------------------------------------------- HTML

def _img(png: str | None, alt: str, ident: str) -> str:
    if png is None:
        return (f'<p class="warn" id="{ident}">No figure: matplotlib is not installed '
                f"(<code>pip install 'mlp-backprop-grader[report]'</code>).</p>")
    return f'<img class="fig" id="{ident}" alt="{html.escape(alt)}" src="data:image/png;base64,{png}">'


def _bar(fraction: float) -> str:
    cls = "low" if fraction < 0.5 else "mid" if fraction < 0.8 else ""
    return f'<div class="bar {cls}"><i style="width:{100 * max(0.0, min(1.0, fraction)):.1f}%"></i></div>'


def _e(value: Any) -> str:
    return html.escape(str(value))


@dataclass
class Summary:
    """The figures both renderings show."""

    data: ClassData
    stats: list[CheckStats]
    diagnoses: list[Diagnosis]
    problems: list[tuple[str, str, str, str]]
    time_limit: float
    slow: list[Student]
    tiers: list[list[float]]
    missing: list[str]
    #: student -> the students it is flagged with; None when the similarity check did not run
    similar: dict[str, list[str]] | None = None
    #: the students whose file the similarity check compared
    compared: set[str] = field(default_factory=set)
    #: student -> why its file is not the one graded (sha256 differs, file gone): left out of the similarity check
    changed: dict[str, str] = field(default_factory=dict)
    #: for the instructor, at the top of both renderings and on stderr
    warnings: list[str] = field(default_factory=list)

    @property
    def scores(self) -> list[float]:
        return [s.score for s in self.data.students]

    @property
    def not_gradable(self) -> list[Student]:
        return [s for s in self.data.students if s.cause]

    def similarity_cell(self, student: str) -> str:
        """What the students table says about a student's similarity: the flagged partners, 'none',
        'not compared' or 'skipped'."""
        if self.similar is None:
            return "skipped"
        if student not in self.compared:
            return "not compared"
        return ", ".join(self.similar.get(student, [])) or "none"

    def headline(self) -> list[tuple[str, str]]:
        students, scores = self.data.students, self.scores
        top = max([s.max_score for s in students] or [0.0])
        accs = [s.accuracy for s in students if s.accuracy is not None]
        cards = [("students graded", f"{len(students)}"),
                 ("mean score", f"{statistics.fmean(scores):.1f} / {top:g}" if scores else "–"),
                 ("median score", f"{statistics.median(scores):g}" if scores else "–"),
                 ("full marks", f"{sum(1 for s in students if s.score >= s.max_score)}"),
                 ("not gradable", f"{len(self.not_gradable)}"),
                 ("score 0", f"{sum(1 for s in students if s.score == 0)}"),
                 ("median MNIST accuracy", f"{statistics.median(accs):.2f} %" if accs else "–"),
                 ("errors / timeouts", f"{len({p[0] for p in self.problems})}")]
        return cards


def summarise(data: ClassData, tiers: list[list[float]], expected: Iterable[str] = ()) -> Summary:
    """The figures of ``data``; pass rates and diagnoses leave the not-gradable submissions out."""
    limit, slow = time_outliers(data)
    have = {s.name for s in data.students}
    gradable = ClassData([s for s in data.students if not s.cause], data.unreadable, data.checks)
    return Summary(data, check_stats(gradable), diagnoses(gradable), timeouts_and_errors(data), limit, slow, tiers,
                   sorted(set(expected) - have))


def _accuracy_table(summary: Summary) -> str:
    students = summary.data.students
    accs = [s.accuracy for s in students if s.accuracy is not None]
    graded = [s for s in students if any(c["name"] == ACCURACY_CHECK for c in s.checks)]
    if not graded:
        return '<p class="muted">The accuracy check was not run in this batch (skipped in the config).</p>'
    rows = [("students with a test accuracy", len(accs)),
            ("no accuracy (training failed, timed out or not implemented)", len(graded) - len(accs))]
    if accs:
        rows += [("median", f"{statistics.median(accs):.2f} %"), ("best", f"{max(accs):.2f} %"),
                 ("worst", f"{min(accs):.2f} %")]
        upper = float("inf")
        for threshold, fraction in summary.tiers:  # best tier first
            count = sum(1 for a in accs if threshold * 100 <= a < upper)
            rows.append((f"≥ {threshold:.0%} ({fraction:.0%} of the points)", count))
            upper = threshold * 100
        if summary.tiers:
            rows.append((f"below {summary.tiers[-1][0]:.0%} (no points)", sum(1 for a in accs if a < upper)))
    return ('<table class="data" id="accuracy-table" style="max-width:560px">' +
            "".join(f'<tr><td>{_e(k)}</td><td class="num">{_e(v)}</td></tr>' for k, v in rows) + "</table>")


def _lost(student: Student) -> list[dict]:
    return [c for c in student.checks if float(c["score"]) < float(c["max_score"])]


def _losing(student: Student) -> str:
    """The checks that lost points, as the students table lists them."""
    return "all (not gradable)" if student.cause else ", ".join(c["name"] for c in _lost(student))


def student_ids(summary: Summary) -> dict[str, str]:
    """student -> the id of its feedback block (unique even when two names give the same anchor)."""
    ids: dict[str, str] = {}
    for student in summary.data.students:
        base = "student-" + (anchor(student.name) or "x")
        ident, n = base, 1
        while ident in ids.values():
            n += 1
            ident = f"{base}-{n}"
        ids[student.name] = ident
    return ids


def _accuracy_cell(student: Student) -> str:
    if not student.accuracy_checked:
        return "skipped"
    return "–" if student.accuracy is None else f"{student.accuracy:.2f} %"


def _status(summary: Summary, student: Student) -> str:
    parts = [f"not gradable: {student.cause}"] if student.cause else []
    if student.name in summary.changed:
        parts.append(f"file changed after grading ({summary.changed[student.name]})")
    return "; ".join(parts)


#: the pre-sorted views of the students table: key, label, sort key
STUDENT_VIEWS: list[tuple[str, str, Any]] = [
    ("score", "lowest score first", lambda s, sm: (s.score, s.name)),
    ("name", "by name", lambda s, sm: (s.name.casefold(), s.name)),
    ("accuracy", "best accuracy first", lambda s, sm: (-(s.accuracy if s.accuracy is not None else -1.0), s.name)),
    ("similarity", "similarity flags first",
     lambda s, sm: (not (sm.similar or {}).get(s.name), s.name)),
    ("seconds", "slowest grading first", lambda s, sm: (-s.seconds, s.name)),
]


def _students_html(summary: Summary) -> str:
    """The students table in pre-sorted views (CSS :target, no script): each name links to its feedback."""
    ids = student_ids(summary)

    def link(name: str) -> str:
        return f'<a href="#{ids[name]}">{_e(name)}</a>' if name in ids else _e(name)

    def similarity(name: str) -> str:
        cell = summary.similarity_cell(name)
        partners = (summary.similar or {}).get(name, [])
        return ("flagged with " + ", ".join(link(p) for p in partners)) if partners else _e(cell)

    rows = {s.name: (f'<tr><td>{link(s.name)}</td><td class="num">{s.score:g} / {s.max_score:g}</td>'
                     f'<td class="num">{_e(_accuracy_cell(s))}</td><td>{similarity(s.name)}</td>'
                     f'<td class="num">{s.seconds:.1f}</td><td class="msg">{_e(_status(summary, s))}</td>'
                     f'<td class="msg">{_e(_losing(s))}</td></tr>')
            for s in summary.data.students}
    head = ('<tr><th>student</th><th class="num">score</th><th class="num">accuracy</th><th>similarity</th>'
            '<th class="num">seconds</th><th>status</th><th>checks losing points</th></tr>')
    menu = " · ".join(f'<a href="#students-by-{key}">{_e(label)}</a>' for key, label, _k in STUDENT_VIEWS)
    tables = "".join(
        f'<table class="data view{" default" if i == 0 else ""}" id="students-by-{key}">'
        f'<caption>{_e(label)}</caption>{head}'
        + "".join(rows[s.name] for s in sorted(summary.data.students, key=lambda s: order(s, summary)))
        + "</table>" for i, (key, label, order) in enumerate(STUDENT_VIEWS))
    return (f"<p>Sorted: {menu}. Each name links to the student's feedback below; accuracy and similarity "
            f"say <i>skipped</i> where that check did not run.</p><div class=\"views\">{tables}</div>")


def _not_gradable_html(summary: Summary) -> str:
    ids = student_ids(summary)
    if not summary.not_gradable:
        return "<p>Every submission could be graded.</p>"
    rows = "".join(f'<tr><td><a href="#{ids[s.name]}">{_e(s.name)}</a></td><td class="msg">{_e(s.cause)}</td></tr>'
                   for s in sorted(summary.not_gradable, key=lambda s: (s.cause, s.name)))
    return (f"<p>{len(summary.not_gradable)} submission{'s' if len(summary.not_gradable) != 1 else ''} could not "
            "be graded at all (no file, empty, does not import, refused, or the skeleton as handed out): they "
            "score 0 and are left out of the pass rates and diagnoses.</p>"
            '<table class="data" id="not-gradable-list"><tr><th>student</th><th>why</th></tr>' + rows + "</table>")


def _feedback_html(summary: Summary) -> str:
    """One block per student (by name): score, status, similarity and what each check that lost points said."""
    ids = student_ids(summary)
    blocks = []
    for s in sorted(summary.data.students, key=lambda s: (s.name.casefold(), s.name)):
        lost = [] if s.cause else _lost(s)
        table = ('<table class="data"><tr><th>check</th><th class="num">points</th><th>message</th></tr>' +
                 "".join(f'<tr><td><code>{_e(c["name"])}</code></td><td class="num">{float(c["score"]):g} / '
                         f'{float(c["max_score"]):g}</td><td class="msg">{_e(c.get("message") or "")}</td></tr>'
                         for c in lost) + "</table>") if lost else "" if s.cause else "<p>Full marks.</p>"
        status = _status(summary, s)
        blocks.append(f'<div class="student" id="{ids[s.name]}"><h3>{_e(s.name)}</h3><p>{s.score:g} / '
                      f"{s.max_score:g} points · accuracy {_e(_accuracy_cell(s))} · similarity "
                      f"{_e(summary.similarity_cell(s.name))}"
                      + (f' · <span class="warn">{_e(status)}</span>' if status else "") + f"</p>{table}</div>")
    return "\n".join(blocks)


def render_html(summary: Summary, similarity_html: str | None = None, title: str = "Class report") -> str:
    data = summary.data
    cards = "".join(f"<div class=\"card\"><b>{_e(v)}</b><span>{_e(k)}</span></div>" for k, v in summary.headline())
    sections: list[tuple[str, str]] = []
    scores = summary.scores
    hist = _img(score_histogram(data), "histogram of the scores", "score-histogram")
    if scores:
        quartiles = statistics.quantiles(scores, n=4) if len(scores) >= 2 else [scores[0]] * 3
        hist += (f"<p>Mean {statistics.fmean(scores):.1f}, quartiles {quartiles[0]:g} / {quartiles[1]:g} / "
                 f"{quartiles[2]:g}, lowest {min(scores):g}, highest {max(scores):g}.</p>")
    sections.append(("Scores", hist))
    sections.append(("Not gradable", _not_gradable_html(summary)))
    rows = "".join(
        f'<tr><td><code>{_e(c.name)}</code><br><span class="muted">{_e(c.title)}</span></td>'
        f'<td class="num">{c.points:g}</td><td class="num">{c.passed} / {c.graded}</td>'
        f'<td>{_bar(c.rate)}</td><td class="num">{c.rate:.0%}</td><td class="num">{c.mean:.2f}</td>'
        f'<td class="num">{c.losing}</td></tr>' for c in summary.stats)
    left_out = (f'<p class="muted">The {len(summary.not_gradable)} not-gradable submissions are left out of the '
                f"pass rates and diagnoses.</p>" if summary.not_gradable else "")
    sections.append(("Pass rate per check", left_out +
                     '<table class="data" id="pass-rates"><tr><th>check</th><th class="num">points</th>'
                     '<th class="num">passed</th><th></th><th class="num">rate</th><th class="num">mean points</th>'
                     '<th class="num">students losing points</th></tr>' + rows + "</table>"))
    top = summary.diagnoses[:30]

    def who(d: Diagnosis) -> str:
        also = (f" · {len(d.also)} other check{'s' if len(d.also) != 1 else ''} lost points for it" if d.also else "")
        return (f'<details><summary class="muted">{len(d.students)} student{"s" if len(d.students) != 1 else ""}'
                f"{also}</summary>{_e(', '.join(sorted(d.students)))}"
                + (f"<br>also in: {_e(', '.join(sorted(d.also)))}" if d.also else "") + "</details>")

    rows = "".join(
        f'<tr><td class="num"><b>{len(d.students)}</b></td><td><code>{_e(d.check)}</code></td>'
        f'<td class="msg" title="grouped as: {_e(d.key)}">{_e(d.example)}{who(d)}</td>'
        f'<td class="num">{d.points_lost:g}</td></tr>' for d in top)
    more = (f'<p class="muted">{len(summary.diagnoses) - len(top)} rarer diagnoses not listed '
            f"(every student's in the last section).</p>" if len(summary.diagnoses) > len(top) else "")
    sections.append(("Most frequent diagnoses",
                     "<p>What the checks said where students lost points; numbers and shapes are taken out of the "
                     "messages so that one cause is one row (an example message is shown).</p>"
                     '<table class="data" id="diagnoses"><tr><th class="num">students</th><th>check</th>'
                     '<th>diagnosis</th><th class="num">points lost</th></tr>' + rows + "</table>" + more
                     if top else "<p>No check lost points.</p>"))
    accuracy = ""
    if any(s.accuracy is not None for s in data.students):
        accuracy = _img(accuracy_histogram(data, summary.tiers), "histogram of the MNIST test accuracies",
                        "accuracy-histogram")
    sections.append(("MNIST accuracy", accuracy + _accuracy_table(summary)))
    times = [s.seconds for s in data.students]
    slow_rows = "".join(f'<tr><td>{_e(s.name)}</td><td class="num">{s.seconds:.1f} s</td>'
                        f'<td class="num">{s.score:g}</td></tr>' for s in summary.slow)
    timing = _img(time_figure(data, summary.time_limit), "histogram of the grading times", "time-histogram")
    if times:
        timing += (f"<p>Median {statistics.median(times):.1f} s per student, total {sum(times) / 60:.1f} min of "
                   f"grading (CPU-bound work; wall time divides by the workers). Outliers: above "
                   f"{summary.time_limit:.1f} s (Q3 + 3 IQR, at least twice the median).</p>"
                   if summary.time_limit != float("inf") else
                   f"<p>Median {statistics.median(times):.1f} s per student.</p>")
    timing += ('<table class="data" id="time-outliers"><tr><th>student</th><th class="num">seconds</th>'
               '<th class="num">score</th></tr>' + slow_rows + "</table>" if slow_rows else "<p>No outlier.</p>")
    sections.append(("Grading time", timing))
    rows = "".join(f'<tr><td>{_e(s)}</td><td>{_e(kind)}</td><td><code>{_e(check)}</code></td>'
                   f'<td class="msg">{_e(message)}</td></tr>' for s, kind, check, message in summary.problems)
    problems = ('<table class="data" id="problems"><tr><th>student</th><th>what</th><th>check</th><th>message</th>'
                "</tr>" + rows + "</table>" if rows else "<p>No grader error, timeout or crashed worker.</p>")
    if summary.missing:
        problems += (f'<p class="warn" id="missing">No result for {len(summary.missing)} submission(s): '
                     f"{_e(', '.join(summary.missing))} (rerun mlp-grade batch).</p>")
    sections.append(("Grader errors and timeouts", problems))
    levels = Counter(s.isolation for s in data.students)
    sections.append(("Confinement", "<p>Isolation level student code ran under (instructor only): " +
                     ", ".join(f"<b>{_e(level)}</b> for {n} student{'s' if n != 1 else ''}"
                               for level, n in levels.most_common()) + ".</p>"))
    if similarity_html is not None:
        changed = ""
        if summary.changed:
            changed = ('<p class="warn" id="changed-since-grading"><b>Changed after grading</b>, not compared '
                       "(the file in the submissions folder is not the one graded; regrade or restore it): " +
                       "; ".join(f"{_e(n)}: {_e(why)}" for n, why in sorted(summary.changed.items())) + ".</p>")
        sections.append(("Similarity (instructor only)", changed + similarity_html))
    sections.append(("Students", _students_html(summary)))
    sections.append(("Feedback per student", _feedback_html(summary)))
    lead = f'<div class="cards">{cards}</div>'
    if summary.warnings:
        lead += ('<div class="warn" id="warnings"><b>Warnings:</b><ul>' +
                 "".join(f"<li>{_e(w)}</li>" for w in summary.warnings) + "</ul></div>")
    return page(title, sections, lead)


def render_markdown(summary: Summary, similarity: Any = None, title: str = "Class report",
                    similarity_note: str = "") -> str:
    """The Markdown summary; ``similarity_note``: why the similarity check, asked for, did not run."""
    ids = student_ids(summary)
    lines = [f"# {title}", ""]
    lines += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in summary.headline()] + [""]
    lines += [line for w in summary.warnings for line in (f"> **Warning:** {markdown_cell(w)}", "")]
    scores = summary.scores
    if scores:
        top = max(s.max_score for s in summary.data.students)
        width = top / 10
        counts = Counter(min(9, int(x // width)) if width else 0 for x in scores)
        lines += ["## Scores", "", "| score | students |", "|---|---:|"]
        lines += [f"| {i * width:g}–{(i + 1) * width:g} | {counts.get(i, 0)} |" for i in range(10)] + [""]
    lines += ["## Not gradable", ""]
    if summary.not_gradable:
        lines += [f"{len(summary.not_gradable)} submissions could not be graded at all; left out of the pass rates "
                  "and diagnoses.", "", "| student | why |", "|---|---|"]
        lines += [f"| {markdown_cell(s.name)} | {markdown_cell(s.cause)} |"
                  for s in sorted(summary.not_gradable, key=lambda s: (s.cause, s.name))]
    else:
        lines.append("Every submission could be graded.")
    lines.append("")
    lines += ["## Pass rate per check", ""]
    if summary.not_gradable:
        lines += [f"The {len(summary.not_gradable)} not-gradable submissions are left out.", ""]
    lines += ["| check | points | passed | rate | students losing points |",
              "|---|---:|---:|---:|---:|"]
    lines += [f"| `{c.name}` | {c.points:g} | {c.passed}/{c.graded} | {c.rate:.0%} | {c.losing} |" for c in summary.stats]
    lines += ["", "## Most frequent diagnoses", "", "| students | check | diagnosis |", "|---:|---|---|"]
    lines += [f"| {len(d.students)} | `{d.check}` | {markdown_cell(d.example)} |" for d in summary.diagnoses[:25]]
    accs = [s.accuracy for s in summary.data.students if s.accuracy is not None]
    lines += ["", "## MNIST accuracy", ""]
    lines += ([f"{len(accs)} students with a test accuracy: median {statistics.median(accs):.2f} %, best "
               f"{max(accs):.2f} %, worst {min(accs):.2f} %."] if accs else ["No test accuracy in these results."])
    lines += ["", "## Grading time", ""]
    times = [s.seconds for s in summary.data.students]
    if times:
        lines.append(f"Median {statistics.median(times):.1f} s per student; outliers (above "
                     f"{summary.time_limit:.1f} s): " + (", ".join(f"{s.name} ({s.seconds:.1f} s)" for s in summary.slow)
                                                         or "none") + ".")
    lines += ["", "## Grader errors and timeouts", ""]
    if summary.problems:
        lines += ["| student | what | check | message |", "|---|---|---|---|"]
        lines += [f"| {markdown_cell(s)} | {k} | `{c}` | {markdown_cell(m)} |" for s, k, c, m in summary.problems]
    else:
        lines.append("None.")
    if summary.missing:
        lines += ["", f"No result for: {', '.join(summary.missing)}."]
    levels = Counter(s.isolation for s in summary.data.students)
    lines += ["", "## Confinement", "", "Isolation level student code ran under: " +
              ", ".join(f"**{level}** for {n}" for level, n in levels.most_common()) + "."]
    if similarity is not None:
        lines += ["", "## Similarity (instructor only)", ""]
        flagged = similarity.flagged
        lines.append(f"{len(flagged)} flagged pairs among {len(similarity.submissions)} submissions" +
                     (":" if flagged else "."))
        lines += [f"- {p.a} ↔ {p.b}: {p.score_a:.0%} / {p.score_b:.0%} ({p.matched_tokens} tokens)" for p in flagged[:50]]
    elif similarity_note:
        lines += ["", "## Similarity (instructor only)", "", similarity_note]
    if summary.changed:
        lines += ["", f"**Changed after grading** (not compared): " +
                  ", ".join(f"{n} ({why})" for n, why in sorted(summary.changed.items())) + "."]
    lines += ["", "## Students", "", "Lowest score first; accuracy and similarity say *skipped* where the check did "
              "not run.", "", "| student | score | accuracy | similarity | seconds | status | checks losing points |",
              "|---|---:|---:|---|---:|---|---|"]
    lines += [f"| [{markdown_cell(s.name)}](#{ids[s.name]}) | {s.score:g} / {s.max_score:g} | {_accuracy_cell(s)} | "
              f"{markdown_cell(summary.similarity_cell(s.name))} | {s.seconds:.1f} | "
              f"{markdown_cell(_status(summary, s))} | {_losing(s)} |"
              for s in sorted(summary.data.students, key=lambda s: (s.score, s.name))]
    lines += ["", "## Feedback per student", ""]
    for s in sorted(summary.data.students, key=lambda s: (s.name.casefold(), s.name)):
        lines += [f'<a id="{ids[s.name]}"></a>', "", f"### {markdown_cell(s.name)}", "",
                  f"{s.score:g} / {s.max_score:g} points; accuracy {_accuracy_cell(s)}; similarity "
                  f"{summary.similarity_cell(s.name)}" + (f"; {_status(summary, s)}" if _status(summary, s) else ""), ""]
        lines += [f"- `{c['name']}` {float(c['score']):g} / {float(c['max_score']):g}: "
                  f"{markdown_cell(c.get('message') or '')}" for c in ([] if s.cause else _lost(s))]
        lines += [] if s.cause or _lost(s) else ["Full marks."]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


# ----------------------------------------------------------------------------- command


def _submission_folders(data: ClassData, grades_dir: Path, submissions: Path | None) -> dict[str, Path]:
    if submissions is not None:
        from ..workflows.batch import discover

        return discover(submissions)
    folders = {}
    for student in data.students:
        if not student.submission:
            continue
        path = Path(student.submission)
        for candidate in (path, grades_dir / path, grades_dir.parent / path):
            if candidate.exists():
                folders[student.name] = candidate
                break
    return folders


def changed_since_grading(data: ClassData, folders: dict[str, Path]) -> dict[str, str]:
    """student -> why the file now in its folder is not the one graded (the sha256 the batch stored differs)."""
    from ..workflows.batch import file_hash

    changed = {}
    for student in data.students:
        folder = folders.get(student.name)
        if folder is None or not student.sha256:
            continue
        now = file_hash(folder)
        if now != student.sha256:
            changed[student.name] = ("mlp.py is gone" if now == "missing" else
                                     f"sha256 {now[:12]}… now, {student.sha256[:12]}… graded")
    return changed


def build(grades_dir: Path, out: Path | None = None, submissions: Path | None = None,
          skeletons: list[Path] | None = None, similarity: bool = True, config: dict | None = None,
          similarity_options: dict | None = None, warnings: list[str] | None = None) -> dict[str, Path]:
    """Write the report files; return {'html', 'markdown'[, 'similarity']} -> path; ``warnings`` gets what
    the report warns about (checks skipped, files changed after grading)."""
    from ..config import load_config

    config = config or load_config()
    out = out or grades_dir / "report"
    data = load(grades_dir)
    folders = _submission_folders(data, grades_dir, submissions) if (similarity or submissions) else {}
    expected = list(folders) if submissions is not None else []
    summary = summarise(data, [list(t) for t in config["accuracy"]["tiers"]], expected)
    summary.changed = changed_since_grading(data, folders)
    from .lms import grading_gaps

    summary.warnings = grading_gaps({s.name: [c["name"] for c in s.checks] for s in data.students},
                                    [s.max_score for s in data.students], config)
    if summary.changed:
        summary.warnings.append(f"{len(summary.changed)} submissions changed after grading, left out of the "
                                f"similarity check: {', '.join(sorted(summary.changed))}")
    if warnings is not None:
        warnings.extend(summary.warnings)
    folders = {name: folder for name, folder in folders.items() if name not in summary.changed}
    sim = sim_html = None
    note = ""
    written: dict[str, Path] = {}
    out.mkdir(parents=True, exist_ok=True)
    if similarity:
        from . import similarity as sim_mod

        if len(folders) >= 2:
            sim = sim_mod.run(folders, skeletons, **(similarity_options or {}))
            sim_html = sim_mod.section_html(sim)
            summary.compared = {name for name, sub in sim.submissions.items() if not sub.error}
            summary.similar = {}
            for pair in sim.flagged:
                summary.similar.setdefault(pair.a, []).append(pair.b)
                summary.similar.setdefault(pair.b, []).append(pair.a)
            summary.similar = {name: sorted(partners) for name, partners in summary.similar.items()}
            written["similarity"] = out / "similarity.json"
            written["similarity"].write_text(json.dumps(sim.to_dict(), indent=1), encoding="utf-8")
        else:
            note = "Not run: the submissions were not found (pass --submissions, the folder given to mlp-grade batch)."
            sim_html = f'<p class="muted">{_e(note)}</p>'
    written["html"] = out / "class_report.html"
    written["html"].write_text(render_html(summary, sim_html), encoding="utf-8")
    written["markdown"] = out / "class_report.md"
    written["markdown"].write_text(render_markdown(summary, sim, similarity_note=note), encoding="utf-8")
    return written


def main(argv: list[str]) -> int:
    from ..config import ConfigError, load_config

    parser = argparse.ArgumentParser(prog="mlp-grade report", description=__doc__.splitlines()[0])
    parser.add_argument("grades", type=Path, help="the --out folder of mlp-grade batch")
    parser.add_argument("--out", type=Path, help="folder for class_report.html / .md (default GRADES/report)")
    parser.add_argument("--submissions", type=Path,
                        help="the submissions folder given to mlp-grade batch (default: the paths in the results)")
    parser.add_argument("--skeleton", type=Path, action="append",
                        help="the code handed out, subtracted by the similarity check (default: the release "
                             "assignment/mlp_backprop/mlp.py of the checkout)")
    parser.add_argument("--no-similarity", action="store_true", help="leave the similarity check out")
    parser.add_argument("--threshold", type=float, help="similarity: flag pairs from this score (default 0.7)")
    parser.add_argument("--max-share", type=int,
                        help="similarity: code found in more submissions than this is ignored (default 10)")
    parser.add_argument("--config", help="the grading config (for the accuracy tiers)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        parser.error(str(exc))
    if not (args.grades / "results").is_dir():
        parser.error(f"{args.grades / 'results'} does not exist: pass the --out folder of mlp-grade batch")
    if args.submissions is not None and not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder")
    options = {k: v for k, v in (("threshold", args.threshold), ("max_share", args.max_share)) if v is not None}
    warnings: list[str] = []
    written = build(args.grades, args.out, args.submissions, args.skeleton, not args.no_similarity, config, options,
                    warnings)
    for kind, path in written.items():
        print(f"{kind}: {path}")
    for warning in warnings:
        print(f"mlp-grade report: warning: {warning}", file=sys.stderr)
    return 0
