"""``mlp-grade lms-export``: the batch grades as CSV files that Canvas's and Moodle's gradebooks import.

    mlp-grade lms-export GRADES_DIR --roster roster.csv [--canvas canvas.csv] [--moodle moodle.csv]
                         [--assignment "MLP backprop"] [--canvas-assignment-id 1234] [--points-possible 100]
                         [--moodle-id email|username|idnumber] [--missing skip|zero]

GRADES_DIR is the output folder of ``mlp-grade batch``; each student's total is
read from ``results/<student>.json``.

**Roster** (``--roster``, UTF-8 CSV with a header row; column order free; extra
columns ignored), one row per student:

=================  ==========================================================
``student``        required: the student's folder name in the submissions
                   folder (the name of ``results/<student>.json``)
``name``           display name, Canvas's ``Student`` column ("Last, First")
``canvas_id``      Canvas user ID (Canvas's ``ID`` column)
``sis_user_id``    Canvas ``SIS User ID``
``sis_login_id``   Canvas ``SIS Login ID``
``section``        Canvas ``Section``
``email``          Moodle: email address
``username``       Moodle: username
``idnumber``       Moodle: ID number
=================  ==========================================================

**Canvas** (Grades > Import): the layout of Canvas's own gradebook export,
which its importer (``GradebookImporter``) reads back: a header ``Student, ID,
SIS User ID, SIS Login ID, Section, <assignment>``, then a row whose first cell
is ``Points Possible`` giving the assignment's points, then one row per
student. Canvas finds each student by ``ID``, else by ``SIS User ID`` / ``SIS
Login ID``, else by name; the assignment column is ``Name (id)`` with
``--canvas-assignment-id`` (an existing assignment, as in an export), else the
plain name (matched by title, or a new assignment).

**Moodle** (Grades > Import > CSV file): a header row and one row per student:
the identifier columns the roster has (``Email address``, ``Username``, ``ID
number``; the one of ``--moodle-id`` first), the names, and one grade column
named after the assignment. On import, map the identifier column to
"email address" / "username" / "idnumber" under *Identify user by*, and the
grade column to the grade item (or *new grade item*).

Scores are the grader's totals, rescaled to ``--points-possible`` (positive) when given.

**Refused** (exit 2, nothing written): a roster without students, two roster
rows with the same LMS identifier (``canvas_id``, ``sis_user_id``,
``sis_login_id``, ``email``, ``username`` or ``idnumber``: one student's grade
would overwrite the other's on import), ``--points-possible`` of 0 or less.
**Warned** (stderr): results graded with checks left out (``--only``, the
config's ``skip``) or out of a maximum other than the config's total: the
``Points Possible`` row would otherwise carry that smaller maximum silently.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from ..workflows.batch import SAFE, write_atomic

#: roster columns that identify a student in the LMS: two rows may not share a value
LMS_IDS = ("canvas_id", "sis_user_id", "sis_login_id", "email", "username", "idnumber")
ROSTER_COLUMNS = ("student", "name", "canvas_id", "sis_user_id", "sis_login_id", "section", "email", "username",
                  "idnumber")
CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS_POSSIBLE = "Points Possible"
MOODLE_IDS = {"email": "Email address", "username": "Username", "idnumber": "ID number"}


class RosterError(ValueError):
    pass


@dataclass
class Grade:
    student: str
    score: float | None
    max_score: float
    grader_error: bool = False
    #: the names of the checks that were run
    checks: tuple[str, ...] = ()


@dataclass
class Export:
    """What was matched: rows written, and the students left out and why."""

    rows: list[tuple[dict, Grade]]
    points_possible: float
    not_in_roster: list[str] = field(default_factory=list)
    no_result: list[str] = field(default_factory=list)
    grader_errors: list[str] = field(default_factory=list)


def read_roster(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = [c.strip() for c in reader.fieldnames or []]
        if "student" not in columns:
            raise RosterError(f"{path}: the roster needs a 'student' column (the submission folder name); "
                              f"found {', '.join(columns) or 'no header'}")
        rows, seen = [], set()
        for n, raw in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k}
            if not row.get("student"):
                continue
            key = SAFE.sub("_", row["student"])
            if key in seen:
                raise RosterError(f"{path}, line {n}: student {row['student']!r} is listed twice")
            seen.add(key)
            row["student"] = key
            rows.append(row)
    if not rows:
        raise RosterError(f"{path}: the roster lists no student: nothing to export")
    owner: dict[tuple[str, str], str] = {}
    for row in rows:
        for column in LMS_IDS:
            value = row.get(column, "")
            key = (column, value.casefold() if column in ("email", "sis_login_id", "username") else value)
            if value and owner.setdefault(key, row["student"]) != row["student"]:
                raise RosterError(f"{path}: students {owner[key]!r} and {row['student']!r} have the same "
                                  f"{column} {value!r}: one grade would overwrite the other in the LMS")
    return rows


def grading_gaps(grades: Mapping[str, Iterable[str]], max_scores: Iterable[float], config: dict) -> list[str]:
    """Why the results' totals are not the assignment's points: checks not run (``--only``, ``skip``) and a
    maximum other than the config's total. ``grades``: student -> names of the checks in its result."""
    from ..grading import select

    order = [c.name for c in select("graded")]
    expected = set(order)
    total = float(sum(config["points"].get(name, 0) for name in order))
    warnings = []
    ran = {name for checks in grades.values() for name in checks}
    left_out = [name for name in order if name not in ran]
    if grades and left_out:
        warnings.append(f"checks skipped in grading (not in any result): {', '.join(left_out)}")
    partial = sorted(s for s, checks in grades.items() if expected - set(checks) - set(left_out))
    if partial:
        warnings.append(f"{len(partial)} results miss checks that others have: {', '.join(partial)}")
    tops = sorted({round(float(m), 4) for m in max_scores})
    if tops and tops != [round(total, 4)]:
        warnings.append(f"the results are out of {' / '.join(_number(t) for t in tops)} points, the config's "
                        f"total is {_number(total)}")
    return warnings


def read_grades(grades_dir: Path) -> dict[str, Grade]:
    folder = grades_dir / "results"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} does not exist: pass the --out folder of mlp-grade batch")
    grades = {}
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            student = str(data.get("student") or path.stem)
            errors = any(c.get("status") == "error" for c in data.get("checks", []))
            grades[student] = Grade(student, float(data["score"]), float(data["max_score"]), errors,
                                    tuple(str(c["name"]) for c in data.get("checks", [])))
        except (OSError, ValueError, KeyError, TypeError):
            grades[path.stem] = Grade(path.stem, None, 0.0, True)
    return grades


def match(grades: dict[str, Grade], roster: list[dict], points_possible: float | None = None,
          missing: str = "skip") -> Export:
    tops = [g.max_score for g in grades.values() if g.score is not None]
    grader_max = max(tops) if tops else 100.0
    points = float(points_possible) if points_possible is not None else grader_max
    export = Export([], points)
    listed = {row["student"] for row in roster}
    export.not_in_roster = sorted(set(grades) - listed)
    for row in roster:
        grade = grades.get(row["student"])
        if grade is None or grade.score is None:
            export.no_result.append(row["student"])
            if missing != "zero":
                continue
            grade = Grade(row["student"], 0.0, grader_max)
        if grade.grader_error:
            export.grader_errors.append(row["student"])
        scaled = grade.score / grade.max_score * points if grade.max_score else 0.0
        export.rows.append((row, Grade(grade.student, scaled, points, grade.grader_error)))
    return export


def _number(value: float) -> str:
    text = f"{round(value, 2):.2f}".rstrip("0").rstrip(".")
    return text if text != "-0" else "0"


def canvas_csv(export: Export, assignment: str, assignment_id: str | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    column = f"{assignment} ({assignment_id})" if assignment_id else assignment
    writer.writerow(CANVAS_HEADER + [column])
    writer.writerow([CANVAS_POINTS_POSSIBLE, "", "", "", "", _number(export.points_possible)])
    for row, grade in export.rows:
        if not (row.get("canvas_id") or row.get("sis_user_id") or row.get("sis_login_id") or row.get("name")):
            raise RosterError(f"student {row['student']}: Canvas needs canvas_id, sis_user_id, sis_login_id or "
                              "name in the roster")
        writer.writerow([row.get("name", ""), row.get("canvas_id", ""), row.get("sis_user_id", ""),
                         row.get("sis_login_id", ""), row.get("section", ""), _number(grade.score or 0.0)])
    return out.getvalue()


def moodle_csv(export: Export, assignment: str, identifier: str | None = None) -> str:
    present = [key for key in MOODLE_IDS if any(row.get(key) for row, _grade in export.rows)]
    if identifier is None:
        if not present and export.rows:
            raise RosterError("Moodle needs email, username or idnumber in the roster")
        identifier = present[0] if present else "email"
    if identifier not in MOODLE_IDS:
        raise RosterError(f"--moodle-id {identifier}: expected one of {', '.join(MOODLE_IDS)}")
    columns = [identifier] + [key for key in present if key != identifier]
    names = any(row.get("name") for row, _grade in export.rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([MOODLE_IDS[c] for c in columns] + (["Full name"] if names else []) + [assignment])
    for row, grade in export.rows:
        if not row.get(identifier):
            raise RosterError(f"student {row['student']}: no {identifier} in the roster (Moodle's identifier)")
        writer.writerow([row.get(c, "") for c in columns] + ([row.get("name", "")] if names else [])
                        + [_number(grade.score or 0.0)])
    return out.getvalue()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mlp-grade lms-export", description=__doc__.splitlines()[0],
                                     epilog="Roster columns: " + ", ".join(ROSTER_COLUMNS) + " (student required).")
    parser.add_argument("grades", type=Path, help="the --out folder of mlp-grade batch")
    parser.add_argument("--roster", type=Path, required=True, help="CSV mapping student folders to LMS identifiers")
    parser.add_argument("--canvas", type=Path, help="write the Canvas gradebook import CSV here")
    parser.add_argument("--moodle", type=Path, help="write the Moodle grade import CSV here")
    parser.add_argument("--assignment", default="MLP backprop", help="assignment (grade item) name")
    parser.add_argument("--canvas-assignment-id", help="Canvas assignment id: the column becomes 'NAME (ID)'")
    parser.add_argument("--points-possible", type=float, help="rescale the totals to this many points")
    parser.add_argument("--moodle-id", choices=sorted(MOODLE_IDS), help="Moodle identifier column (default: the "
                        "first of email, username, idnumber the roster has)")
    parser.add_argument("--config", help="the grading config the batch used (for its total points)")
    parser.add_argument("--missing", choices=["skip", "zero"], default="skip",
                        help="students of the roster without a result: left out (default) or 0")
    args = parser.parse_args(argv)
    if not (args.canvas or args.moodle):
        parser.error("nothing to write: pass --canvas FILE and/or --moodle FILE")
    if not (args.grades / "results").is_dir():
        parser.error(f"{args.grades / 'results'} does not exist: pass the --out folder of mlp-grade batch")
    if args.points_possible is not None and not args.points_possible > 0:
        parser.error(f"--points-possible {args.points_possible:g}: must be more than 0")
    from ..config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        parser.error(str(exc))
    try:
        roster = read_roster(args.roster)
        grades = read_grades(args.grades)
        export = match(grades, roster, args.points_possible, args.missing)
        texts = {}
        if args.canvas:
            texts[args.canvas] = canvas_csv(export, args.assignment, args.canvas_assignment_id)
        if args.moodle:
            texts[args.moodle] = moodle_csv(export, args.assignment, args.moodle_id)
    except (OSError, RosterError) as exc:
        print(f"mlp-grade lms-export: {exc}", file=sys.stderr)
        return 2
    for path, text in texts.items():
        write_atomic(path, text, newline="")  # the CSV's own CRLF line ends
        print(f"wrote {path}")
    warn = "mlp-grade lms-export: warning:"
    scored = [g for g in grades.values() if g.score is not None]
    for gap in grading_gaps({g.student: g.checks for g in scored}, [g.max_score for g in scored], config):
        print(f"{warn} {gap}: Points Possible is {_number(export.points_possible)}; regrade the full assignment "
              "or pass --points-possible deliberately", file=sys.stderr)
    if export.not_in_roster:
        print(f"{warn} {len(export.not_in_roster)} graded students are not in the roster, left out: "
              f"{', '.join(export.not_in_roster)}", file=sys.stderr)
    if export.no_result:
        print(f"{warn} {len(export.no_result)} students of the roster have no result, "
              f"{'given 0' if args.missing == 'zero' else 'left out'}: {', '.join(export.no_result)}", file=sys.stderr)
    if export.grader_errors:
        print(f"{warn} the grader failed on a check for {', '.join(export.grader_errors)}: look at their results "
              "before publishing", file=sys.stderr)
    print(f"{len(export.rows)} grades out of {_number(export.points_possible)} points")
    return 0
