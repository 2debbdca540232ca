"""Run the benchmark suite.

    python -m benchmarks [--only grading accuracy training gradcheck batch loading] [--batch-size 40] [--runs 3]
                         [--seeds 5] [--compare previous 128:0.4:2] [--jobs 1 2] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from . import suite

RESULTS = Path(__file__).with_name("results")


def machine() -> dict:
    import numpy as np

    info = {"python": platform.python_version(), "numpy": np.__version__, "cpus": __import__("os").cpu_count(),
            "processor": platform.processor() or platform.machine()}
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [(i.get("internal_api"), i.get("architecture"), i.get("num_threads")) for i in threadpool_info()]
    except ImportError:
        pass
    return info


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--only", nargs="+", choices=sorted(suite.BENCHMARKS), default=sorted(suite.BENCHMARKS))
    parser.add_argument("--runs", type=int, default=3, help="repetitions of end-to-end grading")
    parser.add_argument("--batch-size", type=int, default=40, help="submissions in the batch benchmark")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=5, help="training seeds per style in the accuracy benchmark")
    parser.add_argument("--compare", nargs="*", default=[], metavar="BATCH:LR[:EPOCHS]",
                        help="accuracy benchmark: other settings to measure too ('previous': 2 epochs, batch 32, "
                             "lr 0.1)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="worker counts of the batch benchmark")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json",
                        help="the figures' JSON file (figures of benchmarks not run are kept from it)")
    args = parser.parse_args()
    out = args.out
    try:  # figures of benchmarks not run this time are kept
        report = json.loads(out.read_text())
    except (OSError, ValueError):
        report = {}
    report.update(machine=machine(), started=time.strftime("%Y-%m-%d %H:%M:%S"))
    for name in args.only:
        print(f"\n== {name}", flush=True)
        report[name] = suite.BENCHMARKS[name](args)
        report[name]["measured"] = time.strftime("%Y-%m-%d %H:%M:%S")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"\nfigures written to {out}")


if __name__ == "__main__":
    main()
