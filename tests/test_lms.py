"""Grades to the LMS: the Canvas gradebook import CSV and the Moodle grade import CSV.

Canvas's importer (``GradebookImporter`` in canvas-lms) reads a header whose
first cells are ``Student, ID, SIS User ID, SIS Login ID, Section`` and then
one column per assignment (``Name (id)``), skips a row whose first cell holds
``Points Possible`` (taking the points from it), and finds each student by
``ID``, else by SIS user / login ID, else by name. Moodle's CSV import maps one
column to a user field (id, username, idnumber, email) and others to grade
items by header. The tests read the files back the same way.
"""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from autograder.cli import main as cli
from autograder.instructor import lms
from test_class_report import make_result

ROSTER = """student,name,canvas_id,sis_user_id,sis_login_id,section,email,username,idnumber
ada,"Lovelace, Ada",101,S001,ada@uni.example,Section 1,ada@uni.example,ada,S001
ben,"Franklin, Ben",102,S002,ben@uni.example,Section 2,ben@uni.example,ben,S002
cy,"Young, Cy",103,S003,cy@uni.example,Section 1,cy@uni.example,cy,S003
dee,"Dee, John",104,S004,dee@uni.example,Section 2,dee@uni.example,dee,S004
"""


@pytest.fixture
def grades(tmp_path):
    folder = tmp_path / "grades" / "results"
    folder.mkdir(parents=True)
    scores = {"ada": {}, "ben": {"gradient.correctness": (6.0, "half")}, "cy": {"accuracy.mnist": (0.0, "slow")},
              "zoe": {}}  # zoe submitted but is not on the roster; dee is on the roster but has no result
    for student, lost in scores.items():
        (folder / f"{student}.json").write_text(json.dumps(make_result(student, lost)))
    (tmp_path / "roster.csv").write_text(ROSTER)
    return tmp_path


def read(path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))


def canvas_reads(rows: list[list[str]]) -> dict:
    """What Canvas's GradebookImporter takes from the file (its header, points and student rules)."""
    header = rows[0]
    assert len(header) > 3 and "Student" in header[0] and "ID" in header[1]
    assert header[2] == "SIS User ID" and header[3] == "SIS Login ID" and "Section" in header[4]
    assignments = header[5:]
    points = {}
    students = {}
    for row in rows[1:]:
        assert len(row) == len(header)
        if "Points Possible" in row[0]:
            points = dict(zip(assignments, row[5:]))
            continue
        key = row[1] or row[2] or row[3] or row[0]
        students[key] = dict(zip(assignments, row[5:]))
    return {"assignments": assignments, "points": points, "students": students}


def test_canvas_csv(grades, capsys):
    out = grades / "canvas.csv"
    assert cli(["lms-export", str(grades / "grades"), "--roster", str(grades / "roster.csv"),
                "--canvas", str(out), "--assignment", "MLP backprop", "--canvas-assignment-id", "4242"]) == 0
    text = out.read_bytes().decode("utf-8")
    assert text.startswith("Student,ID,SIS User ID,SIS Login ID,Section,MLP backprop (4242)\r\n")
    rows = read(out)
    assert rows[1] == ["Points Possible", "", "", "", "", "40"]
    seen = canvas_reads(rows)
    assert seen["assignments"] == ["MLP backprop (4242)"] and seen["points"] == {"MLP backprop (4242)": "40"}
    assert seen["students"] == {"101": {"MLP backprop (4242)": "40"}, "102": {"MLP backprop (4242)": "34"},
                                "103": {"MLP backprop (4242)": "30"}}
    assert rows[2] == ["Lovelace, Ada", "101", "S001", "ada@uni.example", "Section 1", "40"]
    err = capsys.readouterr().err
    assert "not in the roster, left out: zoe" in err and "have no result, left out: dee" in err


def test_moodle_csv(grades):
    out = grades / "moodle.csv"
    assert cli(["lms-export", str(grades / "grades"), "--roster", str(grades / "roster.csv"),
                "--moodle", str(out), "--assignment", "MLP backprop"]) == 0
    rows = read(out)
    assert rows[0] == ["Email address", "Username", "ID number", "Full name", "MLP backprop"]
    by_email = {row[0]: row for row in rows[1:]}
    assert set(by_email) == {"ada@uni.example", "ben@uni.example", "cy@uni.example"}
    assert by_email["ben@uni.example"] == ["ben@uni.example", "ben", "S002", "Franklin, Ben", "34"]
    # the identifier column Moodle maps ("Identify user by") can be chosen
    assert cli(["lms-export", str(grades / "grades"), "--roster", str(grades / "roster.csv"),
                "--moodle", str(out), "--moodle-id", "idnumber"]) == 0
    rows = read(out)
    assert rows[0][0] == "ID number" and sorted(r[0] for r in rows[1:]) == ["S001", "S002", "S003"]


def test_rescaled_points_and_missing_students_as_zero(grades):
    canvas, moodle = grades / "c.csv", grades / "m.csv"
    assert cli(["lms-export", str(grades / "grades"), "--roster", str(grades / "roster.csv"), "--canvas",
                str(canvas), "--moodle", str(moodle), "--points-possible", "20", "--missing", "zero"]) == 0
    seen = canvas_reads(read(canvas))
    assert seen["points"] == {"MLP backprop": "20"}
    assert {k: v["MLP backprop"] for k, v in seen["students"].items()} == {"101": "20", "102": "17", "103": "15",
                                                                            "104": "0"}
    assert [row[-1] for row in read(moodle)[1:]] == ["20", "17", "15", "0"]


def test_a_minimal_roster(tmp_path, grades):
    roster = tmp_path / "minimal.csv"
    roster.write_text("student,sis_login_id,email\nada,ada@uni.example,ada@uni.example\n")
    export = lms.match(lms.read_grades(grades / "grades"), lms.read_roster(roster))
    canvas = read_text_rows(lms.canvas_csv(export, "HW"))
    assert canvas == [lms.CANVAS_HEADER + ["HW"], ["Points Possible", "", "", "", "", "40"],
                      ["", "", "", "ada@uni.example", "", "40"]]
    assert read_text_rows(lms.moodle_csv(export, "HW")) == [["Email address", "HW"], ["ada@uni.example", "40"]]


def read_text_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_roster_errors(tmp_path, grades, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("login,email\nada,ada@x\n")
    args = ["lms-export", str(grades / "grades"), "--roster", str(bad), "--canvas", str(tmp_path / "c.csv")]
    assert cli(args) == 2 and "needs a 'student' column" in capsys.readouterr().err
    bad.write_text("student,email\nada,a@x\nada,b@x\n")
    assert cli(args) == 2 and "listed twice" in capsys.readouterr().err
    bad.write_text("student,section\nada,S1\n")  # no way for Canvas to find ada
    assert cli(args) == 2 and "Canvas needs" in capsys.readouterr().err
    assert not (tmp_path / "c.csv").exists()
    with pytest.raises(SystemExit):
        cli(["lms-export", str(grades / "grades"), "--roster", str(grades / "roster.csv")])  # nothing to write


def test_roster_names_are_the_batch_folder_names(tmp_path):
    """The batch names a student after its folder with unsafe characters replaced: the roster may use either."""
    from autograder.workflows.batch import SAFE

    folder = tmp_path / "grades" / "results"
    folder.mkdir(parents=True)
    student = SAFE.sub("_", "Kim Min-su")
    (folder / f"{student}.json").write_text(json.dumps(make_result(student)))
    roster = tmp_path / "roster.csv"
    roster.write_text("student,email\nKim Min-su,kim@uni.example\n")
    export = lms.match(lms.read_grades(tmp_path / "grades"), lms.read_roster(roster))
    assert [(row["email"], grade.score) for row, grade in export.rows] == [("kim@uni.example", 40.0)]


# ----------------------------------------------------------------------------- integrity, through the command


def export(grades, *args: str) -> subprocess.CompletedProcess:
    """``mlp-grade lms-export`` in a subprocess, as the instructor runs it."""
    return subprocess.run([sys.executable, "-m", "autograder", "lms-export", str(grades / "grades"), *args],
                          capture_output=True, text=True, timeout=120)


def test_the_export_refuses_what_would_lose_or_overwrite_grades(tmp_path, grades):
    canvas = tmp_path / "c.csv"
    duplicated = tmp_path / "duplicated.csv"  # cy was given ben's Canvas id: ben's grade would be cy's
    duplicated.write_text(ROSTER.replace("Young, Cy\",103", "Young, Cy\",102"))
    run = export(grades, "--roster", str(duplicated), "--canvas", str(canvas))
    assert run.returncode == 2 and "'ben' and 'cy' have the same canvas_id '102'" in run.stderr
    duplicated.write_text(ROSTER.replace("dee@uni.example,dee,", "ADA@uni.example,dee,"))  # emails ignore case
    run = export(grades, "--roster", str(duplicated), "--moodle", str(canvas))
    assert run.returncode == 2 and "'ada' and 'dee' have the same email 'ADA@uni.example'" in run.stderr
    empty = tmp_path / "empty.csv"
    empty.write_text(ROSTER.splitlines()[0] + "\n")
    run = export(grades, "--roster", str(empty), "--canvas", str(canvas))
    assert run.returncode == 2 and "the roster lists no student" in run.stderr
    for points in ("0", "-5"):
        run = export(grades, "--roster", str(grades / "roster.csv"), "--canvas", str(canvas), "--points-possible",
                     points)
        assert run.returncode == 2 and f"--points-possible {points}: must be more than 0" in run.stderr
    assert not canvas.exists()


def test_the_export_warns_when_checks_were_skipped(tmp_path, grades):
    canvas = tmp_path / "c.csv"
    run = export(grades, "--roster", str(grades / "roster.csv"), "--canvas", str(canvas))
    assert run.returncode == 0 and canvas.exists()
    # make_result grades 6 of the checks (40 points of the default config's 100)
    skipped = next(line for line in run.stderr.splitlines() if "checks skipped in grading" in line)
    assert "interface.make_labels_onehot, interface.SoftmaxCrossEntropy" in skipped and "interface.MLP" not in skipped
    assert "the results are out of 40 points, the config's total is 100: Points Possible is 40" in run.stderr
    # graded in full: no warning
    from autograder.config import load_config
    from autograder.grading import select

    points = load_config()["points"]
    full = {name: float(points[name]) for name in (c.name for c in select("graded"))}
    for path in (grades / "grades" / "results").glob("*.json"):
        result = json.loads(path.read_text())
        result["checks"] = [{"name": n, "score": p, "max_score": p, "status": "passed", "message": ""}
                            for n, p in full.items()]
        result["score"] = result["max_score"] = sum(full.values())
        path.write_text(json.dumps(result))
    run = export(grades, "--roster", str(grades / "roster.csv"), "--canvas", str(canvas))
    assert run.returncode == 0 and "skipped" not in run.stderr and "config's total" not in run.stderr, run.stderr
    # one student regraded with --only: named
    path = grades / "grades" / "results" / "ben.json"
    result = json.loads(path.read_text())
    result["checks"] = result["checks"][:5]
    result["score"] = result["max_score"] = 5.0
    path.write_text(json.dumps(result))
    run = export(grades, "--roster", str(grades / "roster.csv"), "--canvas", str(canvas))
    assert "1 results miss checks that others have: ben" in run.stderr
    assert "the results are out of 5 / 100 points" in run.stderr
