"""``mlp-grade batch --dask``: grading on a Dask cluster of separately started processes.

As an instructor runs it: ``dask scheduler`` and ``dask worker`` are started as processes of their
own (the workers with another grading secret than the client's), and ``mlp-grade batch ... --dask
ADDRESS`` runs as a command in another process, with no Dask client anywhere but its own. Its results
must equal the local batch's; resume works through the scheduler file too; and a worker killed while
it grades has its students graded again on the other, leaving none of its processes behind.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from autograder.cli import main as cli  # noqa: E402
from autograder.workflows.batch import file_hash  # noqa: E402
from conftest import ROOT, SOLUTION, mutate  # noqa: E402
from proctree import Watch  # noqa: E402
from test_buggy_variants import BWD_W1  # noqa: E402
from test_workflows import FAST_CONFIG, make_class  # noqa: E402

W1_TRANSPOSED = '"W1": (self.data.T @ grad_hidden).T / batch_sz'
BIN = Path(sys.executable).parent
MLP_GRADE = [sys.executable, "-c", "import sys; from autograder.cli import main; sys.exit(main(sys.argv[1:]))"]
WORKER_SECRET = "not-the-client-s-secret"


class Cluster:
    """A scheduler and ``workers`` workers, each a process started with the ``dask`` command."""

    def __init__(self, folder: Path, workers: int):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.address, self.file = f"tcp://127.0.0.1:{port}", folder / "scheduler.json"
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        self.scheduler = subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                           "--no-dashboard", "--scheduler-file", str(self.file)], cwd=folder, **quiet)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENBLAS", "OMP"))}
        env["MLP_GRADER_SECRET"] = WORKER_SECRET  # the client must send its own
        self.workers = [subprocess.Popen([str(BIN / "dask"), "worker", self.address, "--nthreads", "1", "--no-nanny",
                                          "--no-dashboard", "--name", f"w{i}"], cwd=folder, env=env, **quiet)
                        for i in range(workers)]
        deadline = time.monotonic() + 120
        while len(self.connected()) < workers:
            assert time.monotonic() < deadline, "the workers never joined the scheduler"
            time.sleep(0.5)

    def connected(self) -> dict:
        """worker address -> tasks it has run (asked with a client of this test, not the batch's)."""
        try:
            with distributed.Client(self.address, set_as_default=False, timeout=10) as client:
                return client.run(lambda dask_worker: dask_worker.state.executed_count)
        except OSError:
            return {}

    def close(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in [*self.workers, self.scheduler]:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("dask"), workers=2)
    try:
        yield cluster
    finally:
        cluster.close()


def batch(*args: str) -> subprocess.CompletedProcess:
    """``mlp-grade batch`` as a command, in a process of its own."""
    proc = subprocess.run([*MLP_GRADE, "batch", *args], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def reports(out: Path, students) -> dict[str, list]:
    return {s: [(c["name"], c["score"], c["status"], c["message"])
                for c in json.loads((out / "results" / f"{s}.json").read_text())["checks"]] for s in students}


@pytest.mark.slow
def test_batch_on_separate_scheduler_and_workers_equals_the_local_batch(cluster, tmp_path):
    subs = tmp_path / "submitted"
    plan = make_class(subs, 5)  # correct, stub, buggy, syntax error, exit at import; nbgrader layout for half
    # a bug whose message names the hidden sizes drawn from the secret: "(N=7, D=14, H=23, C=4) the W1 gradient ..."
    (subs / "s09_transposed").mkdir()
    (subs / "s09_transposed" / "mlp.py").write_text(mutate(SOLUTION.read_text(), [(BWD_W1, W1_TRANSPOSED)]))
    plan["s09_transposed"] = "buggy"
    config = tmp_path / "fast.toml"
    config.write_text(FAST_CONFIG)
    assert cli(["batch", str(subs), "--out", str(tmp_path / "local"), "--config", str(config), "--jobs", "1"]) == 0

    before = cluster.connected()
    out = tmp_path / "dask"
    batch(str(subs), "--out", str(out), "--config", str(config), "--dask", cluster.address)
    ran = {w: n - before.get(w, 0) for w, n in cluster.connected().items()}
    assert sum(ran.values()) == len(plan) and all(ran.values()), ran  # every student on the workers, both busy
    local, dask = reports(tmp_path / "local", plan), reports(out, plan)
    assert dask == local
    shapes = dict((n, m) for n, _s, _st, m in dask["s09_transposed"])["gradient.shapes"]
    assert "transposed" in shapes and "(N=" in shapes  # hidden sizes: the client's secret, not the workers'
    rows = {r["student"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert {s: float(rows[s]["total"]) == 90 for s in plan} == {s: k == "correct" for s, k in plan.items()}
    for student in plan:
        result = json.loads((out / "results" / f"{student}.json").read_text())
        assert result["submission"] == str(subs / student) and result["sha256"] == file_hash(subs / student)

    # resume, through the scheduler file: a removed result is graded again, the others are not
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}
    (out / "results" / "s00_correct.json").unlink()
    done = batch(str(subs), "--out", str(out), "--config", str(config), "--dask", str(cluster.file))
    assert f"1 graded, {len(plan) - 1} already done" in done.stdout
    after = {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}
    assert {n for n in after if after[n] != stamps.get(n)} == {"s00_correct.json"}
    assert reports(out, ["s00_correct"]) == {"s00_correct": local["s00_correct"]}


@pytest.mark.slow
def test_a_worker_killed_mid_batch_has_its_students_regraded(tmp_path):
    cluster = Cluster(tmp_path, workers=2)
    try:
        subs, out = tmp_path / "submitted", tmp_path / "out"
        plan = make_class(subs, 4)
        config = tmp_path / "fast.toml"
        config.write_text(FAST_CONFIG)
        proc = subprocess.Popen([*MLP_GRADE, "batch", str(subs), "--out", str(out), "--config", str(config), "--dask",
                                 cluster.address], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        victim = cluster.workers[0]
        watch = Watch(victim.pid)
        deadline = time.monotonic() + 300
        while watch.drivers() == 0:  # the victim grades: a sandboxed child of its runs
            assert time.monotonic() < deadline and proc.poll() is None, "the first worker never graded"
            time.sleep(0.01)
        victim.kill()
        left = watch.wait_gone(5)
        watch.stop()
        assert not left, f"processes of the killed worker still run: {left}"
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr[-3000:]
        assert "0 worker crashes" in stdout
        rows = {r["student"]: r for r in csv.DictReader((out / "grades.csv").open())}
        assert {s: float(rows[s]["total"]) == 90 for s in plan} == {s: k == "correct" for s, k in plan.items()}
        assert float(rows["s02_buggy"]["total"]) > 0
    finally:
        cluster.close()
