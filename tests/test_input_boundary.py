"""The submission file itself is hostile, and a probe's disk is bounded: through the real ``mlp-grade`` processes.

Each hostile submission is laid out as a student would leave it: ``mlp.py`` a
symbolic link to a private file of the grader's user (its one line a Python
name, which a followed link would bring back as ``name '...' is not
defined``), to ``/dev/zero``, a FIFO with no writer, a sparse 200 MB file, a
student folder that is a symbolic link to a private folder, and a folder
linked inside the submission. ``mlp-grade``, ``mlp-grade batch``,
``mlp-grade similarity`` and ``mlp-grade report --submissions`` each run as a
separate process (``os.wait4`` gives its peak memory, children included):
each must end within its timeout, give 0 points with the reason, keep the
grader's memory small, and show nothing of a link's target.

A probe that writes three times its quota must be stopped at the quota
(``ENOSPC``), the report must say so once, and a batch must grade the other
students normally meanwhile.

When pytest runs as root, ``test_confinement.py::test_attacks_as`` runs this
file again as an unprivileged user and as root with the uid drop.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.sandbox import layers
from conftest import RELEASE, SOLUTION

CANARY = "CANARYPRIVATELINE"
#: peak resident memory of a grader process (children included) that stays "small", KB
SMALL_KB = 400 * 1024
FAST = "[grader]\nskip = [\"accuracy\", \"loss\", \"gradient\", \"compute_grad\", \"train\", \"predict\", \"onehot\"]\n" \
       "[sandbox]\ntimeout_s = 10\ndisk_mb = 8\n"
REASONS = {
    "link_private": "mlp.py is a symbolic link: submit the file itself",
    "link_zero": "mlp.py is a symbolic link: submit the file itself",
    "fifo": "mlp.py is a named pipe (FIFO), not a file: submit the file itself",
    "big": "mlp.py is larger than 256 KB",
    "linked_folder": "the submission folder is a symbolic link: submit the folder itself",
    "link_inside": "no mlp.py found in the submission",
}


@pytest.fixture
def private(tmp_path) -> Path:
    """A private folder of the grader's user: a file, and a folder holding an mlp.py, each naming the canary."""
    folder = tmp_path / "private"
    (folder / "course").mkdir(parents=True)
    (folder / "secret.txt").write_text(CANARY + "\n")
    (folder / "course" / "mlp.py").write_text(CANARY + "\n")
    for path in (folder / "secret.txt", folder / "course" / "mlp.py"):
        os.chmod(path, 0o600)
    return folder


def hostile(root: Path, kind: str, private: Path) -> Path:
    """The submission folder ``root/kind`` of one hostile kind."""
    folder = root / kind
    if kind == "linked_folder":
        root.mkdir(parents=True, exist_ok=True)
        folder.symlink_to(private / "course", target_is_directory=True)
        return folder
    folder.mkdir(parents=True)
    module = folder / "mlp.py"
    if kind == "link_private":
        module.symlink_to(private / "secret.txt")
    elif kind == "link_zero":
        module.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(module)
    elif kind == "big":
        with module.open("wb") as f:
            f.truncate(200 * 1024 * 1024)  # sparse: 200 MB long, no disk used
    elif kind == "link_inside":
        (folder / "mlp_backprop").symlink_to(private / "course", target_is_directory=True)
    return folder


def run_measured(argv: list[str], timeout: float = 120, **kwargs) -> tuple[int, str, int]:
    """Run ``argv`` in a fresh process measured alone: (exit status, output, peak RSS in KB with children)."""
    code = ("import os, resource, subprocess, sys, json\n"
            "p = subprocess.run(sys.argv[2:], capture_output=True, timeout=float(sys.argv[1]))\n"
            "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
            "sys.stdout.write(json.dumps([p.returncode, (p.stdout + p.stderr).decode(errors='replace'), peak]))\n")
    proc = subprocess.run([sys.executable, "-c", code, str(timeout), *argv], capture_output=True, text=True,
                          timeout=timeout + 30, **kwargs)
    assert proc.returncode == 0, f"{argv[:4]} did not finish within {timeout} s: {proc.stderr[-2000:]}"
    status, output, peak = json.loads(proc.stdout)
    return status, output, peak


def mlp_grade(*args: str) -> list[str]:
    return [sys.executable, "-m", "autograder", *args]


# ----------------------------------------------------------------------------- mlp-grade


@pytest.mark.parametrize("kind", list(REASONS))
def test_mlp_grade_refuses_with_the_reason(kind, private, tmp_path):
    folder = hostile(tmp_path / "subs", kind, private)
    config = tmp_path / "fast.toml"
    config.write_text(FAST)
    report = tmp_path / "report.json"
    status, output, peak = run_measured(mlp_grade(str(folder), "--format", "json", "--out", str(report),
                                                  "--config", str(config)), timeout=60)
    assert status == 0, output
    results = json.loads(report.read_text())
    assert results["score"] == 0
    assert REASONS[kind] in results["tests"][0]["output"], results["tests"][0]
    assert all(t["score"] == 0 for t in results["tests"])
    assert CANARY not in report.read_text() + output
    assert str(tmp_path) not in json.dumps(results["tests"]) + results["output"]  # no instructor path for students
    assert peak < SMALL_KB, f"the grader used {peak / 1024:.0f} MB"


def test_the_reason_is_said_in_korean_in_the_text_report(private, tmp_path):
    folder = hostile(tmp_path / "subs", "link_private", private)
    status, output, _ = run_measured(mlp_grade(str(folder), "--lang", "ko", "--only", "interface"), timeout=60)
    assert status == 0, output
    assert "mlp.py은(는) 심볼릭 링크입니다" in output and CANARY not in output
    assert output.count("심볼릭 링크") == 1  # said once; the other checks point back to it


def test_a_direct_file_path_that_is_a_link_is_refused(private, tmp_path):
    (tmp_path / "mlp.py").symlink_to(private / "secret.txt")
    status, output, _ = run_measured(mlp_grade(str(tmp_path / "mlp.py"), "--only", "interface"), timeout=60)
    assert status == 0 and REASONS["link_private"] in output and CANARY not in output, output


# ----------------------------------------------------------------------------- batch, report, similarity


@pytest.fixture
def hostile_class(tmp_path, private) -> dict:
    """submitted/: every hostile kind, a probe that tries to fill the disk, and two honest students."""
    subs = tmp_path / "submitted"
    for kind in REASONS:
        hostile(subs, kind, private)
    (subs / "honest").mkdir()
    (subs / "honest" / "mlp.py").write_text(SOLUTION.read_text())
    (subs / "stub" / "mlp_backprop").mkdir(parents=True)
    (subs / "stub" / "mlp_backprop" / "mlp.py").write_text(RELEASE.read_text())
    (subs / "filler").mkdir()
    (subs / "filler" / "mlp.py").write_text(filler(8))
    config = tmp_path / "fast.toml"
    config.write_text(FAST)
    return {"subs": subs, "config": config, "out": tmp_path / "grades"}


def test_batch_report_and_similarity_refuse_hostile_files_and_grade_the_others(hostile_class, tmp_path):
    subs, out, config = hostile_class["subs"], hostile_class["out"], hostile_class["config"]
    status, output, peak = run_measured(mlp_grade("batch", str(subs), "--out", str(out), "--jobs", "2",
                                                  "--config", str(config)), timeout=300)
    assert status == 0, output
    assert peak < SMALL_KB, f"batch used {peak / 1024:.0f} MB"
    results = {p.stem: json.loads(p.read_text()) for p in (out / "results").glob("*.json")}
    for kind, reason in REASONS.items():
        assert results[kind]["score"] == 0 and reason in results[kind]["refused"], results[kind]
        assert reason in results[kind]["checks"][0]["message"]
    assert results["honest"]["score"] == results["honest"]["max_score"] > 0, results["honest"]["checks"]
    assert results["stub"]["score"] == 0 and not results["stub"]["refused"]
    assert results["filler"]["score"] < results["filler"]["max_score"]
    rows = {r["student"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert all(reason in rows[kind]["not_gradable"] for kind, reason in REASONS.items())
    assert rows["honest"]["not_gradable"] == "" and float(rows["honest"]["total"]) > 0

    status, output, peak = run_measured(mlp_grade("report", str(out), "--submissions", str(subs)), timeout=300)
    assert status == 0, output
    html = (out / "report" / "class_report.html").read_text()
    assert html.count("not gradable") >= len(REASONS) and REASONS["fifo"] in html
    status, output, _ = run_measured(mlp_grade("similarity", str(subs), "--out", str(tmp_path / "sim.html"),
                                               "--json", str(tmp_path / "pairs.json")), timeout=120)
    assert status == 0, output
    everything = output + "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    everything += (tmp_path / "sim.html").read_text() + (tmp_path / "pairs.json").read_text()
    assert CANARY not in everything
    assert peak < SMALL_KB


# ----------------------------------------------------------------------------- the disk quota


def filler(disk_mb: int) -> str:
    """The release stub whose import writes 3 x ``disk_mb`` in 1 MB files, deletes them, and says how far it got."""
    return RELEASE.read_text().replace("import numpy as np\n", f"""import numpy as np
import os
_written = 0
try:
    for _i in range({3 * disk_mb}):
        with open(f"junk{{_i}}", "wb") as _f:
            _f.write(b"x" * (1 << 20))
        _written += 1
except OSError as _exc:
    _stopped = str(_exc.errno)
else:
    _stopped = "never"
for _i in range({3 * disk_mb}):
    try:
        os.unlink(f"junk{{_i}}")
    except OSError:
        pass
raise RuntimeError(f"LOOT wrote {{_written}} MB, stopped by errno {{_stopped}}")
""", 1)


def test_a_probe_cannot_hold_more_than_its_quota(tmp_path):
    folder = tmp_path / "filler"
    folder.mkdir()
    (folder / "mlp.py").write_text(filler(8))
    config = tmp_path / "fast.toml"
    config.write_text(FAST)
    status, output, _ = run_measured(mlp_grade(str(folder), "--only", "interface.MLP", "--config", str(config)),
                                     timeout=60)
    assert status == 0, output
    assert "LOOT wrote" in output, output
    written = int(output.split("LOOT wrote ")[1].split(" MB")[0])
    assert written <= 8 and "errno 28" in output, output  # ENOSPC at the quota (8 MB; the inputs not counted)


def test_a_probe_that_fills_its_disk_is_told_once(tmp_path):
    folder = tmp_path / "full"
    folder.mkdir()
    module = RELEASE.read_text().replace("import numpy as np\n", """import numpy as np
try:
    for _i in range(32):  # 4 x the quota (bounded, so that a missing quota cannot fill the machine's disk)
        with open(f"junk{_i}", "wb") as _f:
            _f.write(b"x" * (1 << 20))
except OSError:
    pass
""", 1)
    (folder / "mlp.py").write_text(module)
    config = tmp_path / "fast.toml"
    config.write_text(FAST)
    status, output, _ = run_measured(mlp_grade(str(folder), "--only", "interface", "--config", str(config)),
                                     timeout=60)
    assert status == 0, output
    assert output.count("wrote more than its 8 MB of disk") == 1, output


@pytest.mark.skipif(not layers.LINUX, reason="the disk quota is Linux-only")
def test_the_quota_layer_is_in_force_here():
    from autograder.sandbox import confinement

    found = confinement.isolation()
    assert found.layers["disk_quota"] is None and found.guards["disk"], found.summary()


def test_without_the_quota_the_confinement_report_says_what_bounds_the_disk():
    from autograder.sandbox import confinement

    found = confinement.isolation()
    weaker = confinement.Isolation(layers={**found.layers, "disk_quota": "unshare(0x20000): Operation not permitted"},
                                   guards={**found.guards, "disk": False}, attacks={**found.attacks, "fill_disk": False})
    summary = weaker.summary()
    assert "disk not bounded by a quota (unshare(0x20000): Operation not permitted)" in summary
    assert "RLIMIT_FSIZE" in summary and weaker.level == found.level  # strict does not need the disk quota
    assert "disk not bounded" not in found.summary()


@pytest.mark.parametrize("kind", ["fifo", "link_zero", "link_private"])
def test_a_hostile_release_file_beside_mlp_py_is_no_setting(kind, private, tmp_path):
    """``mlp-grade.toml`` (the release's language) comes with the student's files: read the same safe way."""
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "mlp.py").write_text(SOLUTION.read_text())
    toml = folder / "mlp-grade.toml"
    if kind == "fifo":
        os.mkfifo(toml)
    elif kind == "link_zero":
        toml.symlink_to("/dev/zero")
    else:
        (private / "lang.toml").write_text('[report]\nlang = "ko"\n')
        toml.symlink_to(private / "lang.toml")
    status, output, peak = run_measured(mlp_grade(str(folder), "--only", "interface.MLP"), timeout=60,
                                        env={k: v for k, v in os.environ.items() if k not in ("LANG", "LC_ALL")})
    assert status == 0 and "PASS" in output and peak < SMALL_KB, output
    assert "통과" not in output and "합계" not in output  # a linked file chose nothing
