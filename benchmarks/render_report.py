"""Grade a realistic class, write the class report and look at it in a real browser.

    python -m benchmarks.render_report [--out benchmarks/results/class] [--jobs 2] [--fast] [--no-browser]
                                       [--students N]

1. builds a class under OUT/submitted: the reference solution with each of the
   bugs of ``tests/test_buggy_variants.py`` (one student each, some bugs twice),
   the correct alternative styles, the release stub, a syntax error, an infinite
   loop, an exit at import, and two disguised copies of one alternative
   (renamed, reordered, other comments: what the similarity check must find);
2. grades it with ``mlp-grade batch`` (resumable: a second run reuses the
   grades; ``--fast`` skips the MNIST accuracy check);
3. writes the class report (``mlp-grade report``) with the similarity section
   and the LMS CSVs (``mlp-grade lms-export``);
4. takes a headless Chromium screenshot of the HTML page (``apt-get install -y
   chromium``) into OUT/report.png: open it and look.

Separate from the tests: figures are printed, never asserted (the tests check
the HTML structurally, without a browser).
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("MLP_GRADER_SECRET", "benchmarks-of-the-grader")

from autograder.cli import main as cli  # noqa: E402

SOLUTION = ROOT / "solution" / "mlp_backprop" / "mlp.py"
RELEASE = ROOT / "assignment" / "mlp_backprop" / "mlp.py"
ALTERNATIVES = ROOT / "tests" / "alternatives"
FAST_CONFIG = '[grader]\nskip = ["accuracy"]\n'
#: bugs common enough in a real class to be made twice (by different students)
TWICE = ("no_batch_division", "relu_mask_missing", "softmax_overflow", "train_full_batch_size_for_last")


def make_class(root: Path, students: int | None = None) -> dict[str, str]:
    """Write the submissions under ``root`` (nbgrader layout for every other student): student -> kind.

    ``students`` makes a smaller class: the first ``students - 2`` kinds and the two disguised copies."""
    from test_buggy_variants import VARIANTS
    from test_similarity import disguise

    from conftest import mutate

    solution = SOLUTION.read_text()
    kinds: dict[str, str] = {"reference": solution}
    for path in sorted(ALTERNATIVES.glob("*.py")):
        kinds[f"alt_{path.stem}"] = path.read_text()
    for name, (replacements, _check, _words) in sorted(VARIANTS.items()):
        kinds[f"bug_{name}"] = mutate(solution, replacements)
        if name in TWICE:
            kinds[f"bug_{name}_2"] = disguise(mutate(solution, replacements), seed=len(kinds))
    kinds["stub"] = RELEASE.read_text()
    kinds["syntax_error"] = solution.replace("def predict(model, data):", "def predict(model, data)", 1)
    kinds["infinite_loop"] = solution.replace("        p = self.params\n        self.data = data\n",
                                              "        p = self.params\n        while True:\n            pass\n", 1)
    kinds["exit_at_import"] = solution.replace("import numpy as np\n", "import numpy as np\nimport os\nos._exit(3)\n", 1)
    layers = (ALTERNATIVES / "layers.py").read_text()
    kinds["copy_of_alt_layers_a"] = disguise(layers, seed=11)
    kinds["copy_of_alt_layers_b"] = disguise(layers, seed=12)
    if students is not None:
        names = list(kinds)
        kinds = {name: kinds[name] for name in names[:max(0, students - 2)] + names[-2:]}
    plan = {}
    for i, (kind, text) in enumerate(kinds.items()):
        student = f"student{i:02d}"
        folder = root / student / ("mlp_backprop" if i % 2 else "")
        folder.mkdir(parents=True, exist_ok=True)
        module = folder / "mlp.py"
        if not module.is_file() or module.read_text() != text:
            module.write_text(text)
        plan[student] = kind
    return plan


def write_roster(path: Path, plan: dict[str, str]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "name", "canvas_id", "sis_user_id", "sis_login_id", "section", "email",
                         "username", "idnumber"])
        for i, student in enumerate(plan):
            writer.writerow([student, f"Student {i:02d}, {plan[student]}", 1000 + i, f"S{2026000 + i}",
                             f"{student}@uni.example", "Section A" if i % 2 else "Section B",
                             f"{student}@uni.example", student, f"S{2026000 + i}"])


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(html: Path, png: Path, width: int = 1200, height: int = 2400) -> float:
    browser = chromium()
    if browser is None:
        raise SystemExit("no chromium: apt-get install -y chromium (or pass --no-browser)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                        f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={width},{height}",
                        html.resolve().as_uri()], check=True, timeout=120, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.render_report", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "class")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--fast", action="store_true", help="skip the MNIST accuracy check")
    parser.add_argument("--no-browser", action="store_true", help="do not take the Chromium screenshot")
    parser.add_argument("--height", type=int, default=2400, help="screenshot height in pixels")
    parser.add_argument("--students", type=int, metavar="N",
                        help="a smaller class of N: the first N - 2 kinds and the two disguised copies")
    args = parser.parse_args()
    out: Path = args.out
    plan = make_class(out / "submitted", args.students)
    print(f"class of {len(plan)} submissions in {out / 'submitted'}")
    batch = ["batch", str(out / "submitted"), "--jobs", str(args.jobs), "--out", str(out / "grades")]
    if args.fast:
        (out / "fast.toml").write_text(FAST_CONFIG)
        batch += ["--config", str(out / "fast.toml")]
    started = time.monotonic()
    if cli(batch) != 0:
        raise SystemExit("batch grading failed")
    print(f"batch grading: {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    if cli(["report", str(out / "grades"), "--submissions", str(out / "submitted"), "--out", str(out / "report")]):
        raise SystemExit("mlp-grade report failed")
    print(f"class report with similarity: {time.monotonic() - started:.1f} s")
    html = out / "report" / "class_report.html"
    text = html.read_text()
    external = re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text)
    print(f"{html}: {len(text) / 1e3:.0f} kB, {len(external)} external references")
    write_roster(out / "roster.csv", plan)
    if cli(["lms-export", str(out / "grades"), "--roster", str(out / "roster.csv"), "--assignment", "MLP backprop",
            "--canvas", str(out / "canvas.csv"), "--moodle", str(out / "moodle.csv")]):
        raise SystemExit("mlp-grade lms-export failed")
    print(f"LMS CSVs: {out / 'canvas.csv'}, {out / 'moodle.csv'}")
    if not args.no_browser:
        png = out / "report.png"
        seconds = screenshot(html, png, height=args.height)
        print(f"screenshot: {png} ({seconds:.1f} s in headless Chromium)")


if __name__ == "__main__":
    main()
