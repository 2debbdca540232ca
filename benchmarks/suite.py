"""The benchmarks, one function each: args -> dict of figures (and a printed table)."""
from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from autograder import data, grade
from autograder.config import load_config
from autograder.training_demo import DEFAULTS
from autograder.workflows.batch import run_batch

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solution" / "mlp_backprop" / "mlp.py"
RELEASE = ROOT / "assignment" / "mlp_backprop" / "mlp.py"


def table(rows: list[tuple], header: tuple) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for row in [header, *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)))


# ----------------------------------------------------------------------------- grading


def grading(args) -> dict:
    """End-to-end grading of the reference solution: median wall time and each check's share."""
    runs = [grade(SOLUTION) for _ in range(args.runs)]
    totals = [r.seconds for r in runs]
    median = statistics.median(totals)
    per_check = {c.name: statistics.median(r[c.name].seconds for r in runs) for c in runs[0].checks}
    rows = sorted(per_check.items(), key=lambda kv: -kv[1])
    table([(n, f"{s:.2f}", f"{s / median:.0%}") for n, s in rows], ("check", "seconds", "share"))
    print(f"median of {args.runs}: {median:.1f} s (goal <= 20 s); score {runs[0].score}/{runs[0].max_score}")
    return {"median_s": median, "runs_s": totals, "per_check_s": per_check, "goal_s": 20}


# ----------------------------------------------------------------------------- training


def _epoch_flops(n: int, d: int, h: int, c: int) -> float:
    """2 x multiply-adds of one epoch: forward (x W1, h W2) and backward (W2 grad, hidden grad, W1 grad)."""
    return float(2 * n * (d * h + h * c) + 2 * n * (h * c + h * c + d * h))


def training(args) -> dict:
    """Reference numpy training vs the same float32 network in PyTorch, at 1 and 2 threads."""
    out = {"lr": DEFAULTS["lr"], "batch_sz": DEFAULTS["batch_sz"], "hidden": DEFAULTS["hidden"],
           "flop_per_epoch": _epoch_flops(60000, 784, DEFAULTS["hidden"], 10)}
    for threads in (1, 2):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
                   MKL_NUM_THREADS=str(threads))
        proc = subprocess.run([sys.executable, "-m", "benchmarks.training_worker", str(threads), str(args.epochs)],
                              env=env, cwd=ROOT, capture_output=True, text=True, check=True)
        fig = json.loads(proc.stdout.strip().splitlines()[-1])
        numpy_s = statistics.median(fig["numpy"]["epoch_s"])
        fig["numpy_gflops"] = out["flop_per_epoch"] / numpy_s / 1e9
        fig["fraction_of_peak"] = fig["numpy_gflops"] / fig["peak_gflops"]
        torch_fig = fig["torch"]
        rows = [(e + 1, f"{fig['numpy']['epoch_s'][e]:.2f}", f"{fig['numpy']['test_acc'][e]:.2%}",
                 f"{torch_fig['epoch_s'][e]:.2f}" if torch_fig else "-",
                 f"{torch_fig['test_acc'][e]:.2%}" if torch_fig else "-") for e in range(args.epochs)]
        print(f"-- {threads} thread(s)")
        table(rows, ("epoch", "numpy s", "numpy acc", "torch s", "torch acc"))
        print(f"numpy: {numpy_s:.2f} s/epoch, {fig['numpy_gflops']:.1f} GFLOP/s = {fig['fraction_of_peak']:.0%} of "
              f"the float32 GEMM peak at {threads} thread(s) ({fig['peak_gflops']:.0f} GFLOP/s); "
              f"{out['flop_per_epoch'] / 1e9:.1f} GFLOP per epoch")
        if torch_fig:
            fig["numpy_over_torch"] = numpy_s / statistics.median(torch_fig["epoch_s"])
            print(f"numpy / PyTorch time per epoch: {fig['numpy_over_torch']:.2f}x (goal <= 0.8x); "
                  f"PyTorch {torch_fig['version']}")
        else:
            print("PyTorch is not installed: no comparison (pip install torch==2.13.0)")
        out[f"threads{threads}"] = fig
    return out


# ----------------------------------------------------------------------------- gradient checks


def gradcheck(args) -> dict:
    """Cost of the numerical-gradient checks (small nets: every coordinate; 784-128-10: sampled)."""
    names = ["gradient.consistency", "gradient.correctness", "gradient.realistic", "gradient.batch_averaging"]
    runs = [grade(SOLUTION, only=names) for _ in range(args.runs)]
    figures = {n: statistics.median(r[n].seconds for r in runs) for n in names}
    table([(n, f"{s:.2f}") for n, s in figures.items()], ("check", "seconds"))
    return figures


# ----------------------------------------------------------------------------- batch


def _class(root: Path, count: int) -> None:
    solution = SOLUTION.read_text()
    kinds = [solution, RELEASE.read_text(), solution.replace("param -= lr * grads[name]", "param -= grads[name]"),
             solution.replace("import numpy as np\n", "import numpy as np\nimport os\nos._exit(1)\n", 1),
             solution.replace("        p = self.params\n", "        while True:\n            pass\n", 1)]
    for i in range(count):
        folder = root / f"student{i:03d}"
        folder.mkdir(parents=True)
        (folder / "mlp.py").write_text(kinds[i % len(kinds)])


def batch(args) -> dict:
    """40 submissions (correct, stub, buggy, hostile, infinite loop) with 1 and 2 workers."""
    out = {}
    config = load_config()
    for jobs in (1, 2):
        tmp = Path(tempfile.mkdtemp(prefix="mlp-bench-"))
        try:
            _class(tmp / "subs", args.batch_size)
            t = time.perf_counter()
            run_batch(tmp / "subs", tmp / "out", jobs=jobs, config=config)
            wall = time.perf_counter() - t
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        out[f"jobs{jobs}"] = {"wall_s": wall, "peak_child_rss_mb": peak_mb}
        print(f"{args.batch_size} submissions, {jobs} worker(s): {wall:.0f} s, peak RSS of any worker or "
              f"sandbox child {peak_mb:.0f} MB", flush=True)
    print("goals: <= 480 s with 2 workers, <= 600 MB per worker")
    return out


# ----------------------------------------------------------------------------- loading


def loading(args) -> dict:
    """MNIST load time from the .gz files (verify + parse) and from the .npy cache."""
    cache = Path(tempfile.mkdtemp(prefix="mlp-cache-"))
    old = os.environ.get("MLP_CACHE_DIR")
    os.environ["MLP_CACHE_DIR"] = str(cache)
    try:
        data._memo.clear()
        t = time.perf_counter()
        data.load_mnist()
        gz = time.perf_counter() - t
        data._memo.clear()
        t = time.perf_counter()
        data.load_mnist()
        cached = time.perf_counter() - t
    finally:
        if old is None:
            os.environ.pop("MLP_CACHE_DIR")
        else:
            os.environ["MLP_CACHE_DIR"] = old
        shutil.rmtree(cache, ignore_errors=True)
    print(f"full MNIST as float32: {gz:.2f} s from .gz (decompress + sha256 + parse), {cached:.2f} s from the cache")
    return {"from_gz_s": gz, "from_cache_s": cached}


BENCHMARKS = {"grading": grading, "training": training, "gradcheck": gradcheck, "batch": batch, "loading": loading}
