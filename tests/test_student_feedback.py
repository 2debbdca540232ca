"""What a student reads: the public pytest run, and grades that match what each notebook part asked for."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from autograder import grade
from autograder.grading import select
from conftest import RELEASE, ROOT


def test_public_pytest_run_is_short_and_each_message_whole(tmp_path):
    """The untouched release: at most ~3 lines per check, and every failure's full message in the summary."""
    folder = tmp_path / "student"
    shutil.copytree(RELEASE.parent, folder)
    proc = subprocess.run([sys.executable, "-m", "pytest", "test_mlp_public.py"], cwd=folder, capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, COLUMNS="80"))
    checks = select("public")
    lines = proc.stdout.splitlines()
    assert proc.returncode == 1 and f"{len(checks)} failed" in lines[-1], proc.stdout[-2000:]
    assert len(lines) <= 3 * len(checks), f"{len(lines)} lines for {len(checks)} checks"
    result = grade(folder, suite="public")
    summary = [line for line in lines if line.startswith("FAILED ")]
    for check in checks:
        message = result[check.name].message
        line = next(line for line in summary if f"[{check.name}]" in line)
        assert line.endswith(message), f"cut or changed: {line!r} vs {message!r}"
    assert "Traceback" not in proc.stdout and "CheckResult(" not in proc.stdout


def test_notebook_cells_grade_only_what_their_part_asked_for():
    """Part 1 (forward) must not fail for a backward that Part 2 has not asked for yet."""
    source = json.loads((ROOT / "source" / "mlp_backprop" / "mlp_backprop.ipynb").read_text())
    part1 = next(c for c in source["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "part1_forward")
    text = "".join(part1["source"])
    for later in ("interface.MLP'", "'gradient", "'loss", "'train"):
        assert later not in text, f"Part 1 grades {later}"
