"""Grading from several threads of one process (a program embedding ``grade()``, a Dask worker with many
threads), with the process's BLAS free to use all its threads.

Every probe forks the grader. OpenBLAS's fork handler stops its worker threads and waits for them: if
another thread of the process is inside a multithreaded BLAS call (a grading's expected values), the
fork never returns and no time limit applies. ``grade()`` holds BLAS at one thread while any grading runs
in the process. The test runs in a fresh interpreter without ``OPENBLAS_NUM_THREADS`` (the test suite
sets it to 1, which would hide the hazard), grades 10 submissions one after another, then the same 10
in each of two threads at once, and the reports must be the same.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import RELEASE, SOLUTION, mutate
from test_buggy_variants import VARIANTS

SCRIPT = r"""
import json, sys, threading
from pathlib import Path
from autograder import grade
from autograder.config import load_config
from autograder.sandbox.runner import set_blas_threads

folders, only = sorted(Path(sys.argv[1]).iterdir()), ["interface", "forward", "gradient"]
# wall-clock limits far above need: on a loaded machine two gradings at once take longer, not differently
config = {"sandbox": {"timeout_s": 120, "cpu_s": 60}}

def report(folder):
    result = grade(folder, config=load_config(overrides=config), only=only, lang="en").to_dict()
    return [(c["name"], c["score"], c["status"], c["message"]) for c in result["checks"]]

before = set_blas_threads(2)  # as a program that uses BLAS itself has it (None: no OpenBLAS here)
alone = [report(f) for f in folders]
threaded = [[], []]
def work(i):
    threaded[i] = [report(f) for f in folders]
threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
for t in threads: t.start()
for t in threads: t.join(600)
print(json.dumps({"blas": before, "alone": alone, "threaded": threaded, "alive": [t.is_alive() for t in threads],
                  "blas_after": set_blas_threads(2)}))
"""


@pytest.mark.slow
def test_two_threads_by_ten_gradings_equal_one_after_another(tmp_path):
    subs = tmp_path / "subs"
    texts = [SOLUTION.read_text(), RELEASE.read_text()]
    texts += [mutate(SOLUTION.read_text(), VARIANTS[name][0]) for name in sorted(VARIANTS)[:8]]
    for i, text in enumerate(texts):
        (subs / f"s{i:02d}").mkdir(parents=True)
        (subs / f"s{i:02d}" / "mlp.py").write_text(text)
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    try:
        proc = subprocess.run([sys.executable, "-c", SCRIPT, str(subs)], env=env, capture_output=True, text=True,
                              timeout=600)
    except subprocess.TimeoutExpired:
        pytest.fail("the gradings hung (a fork while another thread was in a multithreaded BLAS call?)")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["alive"] == [False, False]
    assert len(out["alone"]) == 10
    for thread in out["threaded"]:
        differ = [(a, b) for alone, other in zip(out["alone"], thread) for a, b in zip(alone, other) if a != b]
        assert not differ and len(thread) == 10, differ[:3]
    assert out["alone"][0] and all(score > 0 for _n, score, _s, _m in out["alone"][0])  # the solution: full marks
    if out["blas"] is not None:  # the process's BLAS threads are given back afterwards
        assert out["blas_after"] == 2
