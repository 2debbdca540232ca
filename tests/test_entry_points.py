"""The commands of the README run as their users run them: the installed ``mlp-grade`` (or ``python -m``)
in a subprocess, with a user's environment (no grading secret: the per-machine one is made in a
temporary HOME), asserting on exit status, files written and what is printed.

The wheel, the Classroom workflow's install step and Gradescope's ``setup.sh`` are in ``test_install.py``.
"""
from __future__ import annotations

import csv
import json
import shutil
import sys

import pytest

from autograder.checks import PIPELINE
from conftest import BIN, RELEASE, ROOT, SOLUTION, assert_secret_kept, failed, run_as_user
from test_similarity import ALTERNATIVES, disguise

MLP_GRADE = BIN / "mlp-grade"
FAST_CONFIG = '[grader]\nskip = ["accuracy"]\n'


def test_grade_public_runs_the_public_checks_only(tmp_path):
    """`mlp-grade SUB --public`, as students run it: the public checks and nothing hidden."""
    out = tmp_path / "results.json"
    proc = run_as_user([MLP_GRADE, SOLUTION.parent, "--public", "--format", "json", "--out", out], tmp_path / "home")
    assert proc.returncode == 0, failed(proc)
    results = json.loads(out.read_text())
    graded = [t["name"].split(":")[0] for t in results["tests"]]
    public = [c.name for c in PIPELINE if c.public]
    hidden = [c.name for c in PIPELINE if not c.public]
    assert hidden, "the pipeline has hidden checks for --public to leave out"
    assert graded == public, f"--public graded {sorted(set(graded) - set(public))}, left out " \
                             f"{sorted(set(public) - set(graded))}"
    assert results["score"] == sum(t["max_score"] for t in results["tests"]), results["output"]


def _without_user_namespaces(argv: list) -> list:
    """``argv`` run where no user namespace can be made (as on Ubuntu >= 23.10): strict isolation cannot hold."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare (util-linux)")
    return ["unshare", "--user", "--map-root-user", "sh", "-c",
            'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"', "sh", *argv]


def test_batch_isolation_strict_refuses_where_confinement_is_weaker(tmp_path):
    """`mlp-grade batch --isolation strict`: without user namespaces it grades nobody and exits 3;
    the same batch without the option grades (so the refusal is the option's doing)."""
    probe = run_as_user(_without_user_namespaces(["true"]), tmp_path / "home")
    if probe.returncode != 0:
        pytest.skip(f"cannot make a user namespace here: {probe.stderr.strip()}")
    subs = tmp_path / "submitted"
    (subs / "ann").mkdir(parents=True)
    shutil.copy(RELEASE, subs / "ann" / "mlp.py")
    config = tmp_path / "fast.toml"
    config.write_text(FAST_CONFIG)
    batch = [MLP_GRADE, "batch", subs, "--jobs", "1", "--config", config]

    best = run_as_user(_without_user_namespaces([*batch, "--out", tmp_path / "best"]), tmp_path / "home")
    assert best.returncode == 0, failed(best)
    result = json.loads((tmp_path / "best" / "results" / "ann.json").read_text())
    assert result["isolation"]["level"] != "strict", "user namespaces were meant to be unavailable here"
    assert "warning for the instructor" in best.stderr, failed(best)

    strict = run_as_user(_without_user_namespaces([*batch, "--isolation", "strict", "--out", tmp_path / "strict"]),
                         tmp_path / "home")
    assert strict.returncode == 3, failed(strict)
    assert "refusing to run student code" in strict.stderr, failed(strict)
    assert not (tmp_path / "strict" / "results").exists(), "student code was graded despite --isolation strict"
    assert_secret_kept(tmp_path / "home")


def test_similarity_options_are_passed_from_the_command_line(tmp_path):
    """`mlp-grade similarity --threshold/--min-tokens/--max-share`: each changes which pairs are flagged."""
    subs = tmp_path / "submitted"
    texts = {"ann": SOLUTION.read_text(), "bob": disguise(SOLUTION.read_text(), seed=5),
             "cat": disguise(SOLUTION.read_text(), seed=6), "dan": (ALTERNATIVES / "layers.py").read_text()}
    for student, text in texts.items():
        (subs / student).mkdir(parents=True)
        (subs / student / "mlp.py").write_text(text)

    def flagged(*options: str) -> tuple[list, dict]:
        out = tmp_path / f"pairs{'_'.join(o.strip('-') for o in options)}.json"
        proc = run_as_user([MLP_GRADE, "similarity", subs, "--skeleton", RELEASE, "--json", out, *options],
                           tmp_path / "home")
        assert proc.returncode == 0, failed(proc)
        report = json.loads(out.read_text())
        pairs = [(p["a"], p["b"]) for p in report["pairs"] if p["flagged"]]
        assert proc.stdout.count("<->") == len(pairs), failed(proc)
        return sorted(pairs), report["params"]

    copies = [("ann", "bob"), ("ann", "cat"), ("bob", "cat")]
    assert flagged() == (copies, {"k": 12, "window": 8, "threshold": 0.5, "min_tokens": 60, "max_share": 10})
    # ann's copies score 0.986 against it, and 1.0 against each other
    pairs, params = flagged("--threshold", "0.99")
    assert (pairs, params["threshold"]) == ([("bob", "cat")], 0.99), "--threshold was not used"
    pairs, params = flagged("--min-tokens", "1000")  # about 560 tokens match
    assert (pairs, params["min_tokens"]) == ([], 1000), "--min-tokens was not used"
    pairs, params = flagged("--max-share", "2")  # the copied code is in 3 submissions: subtracted
    assert (pairs, params["max_share"]) == ([], 2), "--max-share was not used"


@pytest.mark.slow
def test_train_trains_the_reference_and_reports_its_accuracy(tmp_path):
    """`mlp-grade train` from the checkout (the reference solution by default), one small epoch."""
    figures = tmp_path / "figures.json"
    proc = run_as_user([MLP_GRADE, "train", "--epochs", "1", "--hidden", "32", "--batch-sz", "128", "--lr", "0.5",
                        "--json", figures], tmp_path / "home", cwd=ROOT)
    assert proc.returncode == 0, failed(proc)
    assert f"training {SOLUTION} on mnist: 784-32-10" in proc.stdout, failed(proc)
    assert "epoch 1/1" in proc.stdout and "final test accuracy" in proc.stdout, failed(proc)
    accuracy = json.loads(figures.read_text())["test_acc"]
    assert len(accuracy) == 1 and accuracy[0] > 0.9, accuracy


def test_benchmarks_run_a_small_selection(tmp_path):
    """`python -m benchmarks --only gradcheck`: figures written to --out, nothing else."""
    out = tmp_path / "latest.json"
    proc = run_as_user([sys.executable, "-m", "benchmarks", "--only", "gradcheck", "--runs", "1", "--out", out],
                       tmp_path / "home", cwd=ROOT)
    assert proc.returncode == 0, failed(proc)
    figures = json.loads(out.read_text())
    assert set(figures) == {"machine", "started", "gradcheck"}, figures.keys()
    seconds = {k: v for k, v in figures["gradcheck"].items() if k != "measured"}
    assert sorted(seconds) == sorted(["gradient.consistency", "gradient.correctness", "gradient.realistic",
                                      "gradient.batch_averaging"]) and all(s > 0 for s in seconds.values()), seconds
    assert f"figures written to {out}" in proc.stdout
    assert_secret_kept(tmp_path / "home")


@pytest.mark.slow
def test_render_report_grades_a_small_class_and_writes_every_file(tmp_path):
    """`python -m benchmarks.render_report --fast --no-browser --students 4`: batch, class report, LMS CSVs."""
    out = tmp_path / "class"
    proc = run_as_user([sys.executable, "-m", "benchmarks.render_report", "--out", out, "--fast", "--no-browser",
                        "--students", "4", "--jobs", "2"], tmp_path / "home", cwd=ROOT)
    assert proc.returncode == 0, failed(proc)
    students = [f"student{i:02d}" for i in range(4)]
    grades = list(csv.DictReader((out / "grades" / "grades.csv").open()))
    assert [r["student"] for r in grades] == students and float(grades[0]["total"]) == 90, grades
    report = out / "report"
    assert (report / "class_report.html").stat().st_size > 10_000 and (report / "class_report.md").is_file()
    assert "0 external references" in proc.stdout, failed(proc)
    pairs = json.loads((report / "similarity.json").read_text())["pairs"]
    assert [(p["a"], p["b"]) for p in pairs if p["flagged"]] == [("student02", "student03")], \
        "the two disguised copies are the class's only flagged pair"
    for name in ("canvas.csv", "moodle.csv"):
        text = (out / name).read_text()
        assert all(f"{s}@uni.example" in text or f"Student {i:02d}" in text for i, s in enumerate(students)), text
