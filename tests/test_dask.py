"""``mlp-grade batch --dask``: grading on a real Dask cluster of separate worker processes.

A ``distributed.LocalCluster(processes=True)`` stands in for a remote cluster:
its workers are other processes that receive each ``mlp.py`` over Dask's
comms and grade it with the same ``grade()`` (same confinement, same secret);
results, resume and ``grades.csv`` are those of the local batch.
"""
from __future__ import annotations

import csv
import json
import os

import pytest

distributed = pytest.importorskip("distributed")

from autograder.cli import main as cli  # noqa: E402
from autograder.workflows.batch import file_hash  # noqa: E402
from conftest import SOLUTION, mutate  # noqa: E402
from test_buggy_variants import BWD_W1  # noqa: E402
from test_workflows import FAST_CONFIG, make_class  # noqa: E402


W1_TRANSPOSED = '"W1": (self.data.T @ grad_hidden).T / batch_sz'


@pytest.fixture(scope="module")
def cluster():
    # the workers have another secret than this process's: the batch client must send its own
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None,
                                  host="127.0.0.1", env={"MLP_GRADER_SECRET": "not-the-client-s-secret"}) as cluster, \
            distributed.Client(cluster) as client:
        secrets = client.run(lambda: os.environ.get("MLP_GRADER_SECRET"))
        assert set(secrets.values()) == {"not-the-client-s-secret"} != {os.environ["MLP_GRADER_SECRET"]}
        yield cluster, client


def executed(client) -> dict[str, int]:
    return client.run(lambda dask_worker: dask_worker.state.executed_count)


@pytest.mark.slow
def test_batch_on_a_dask_cluster_grades_resumes_and_writes_csv(cluster, tmp_path):
    cluster, client = cluster
    pids = client.run(os.getpid)
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()  # two separate worker processes
    before = executed(client)
    subs, out = tmp_path / "submitted", tmp_path / "out"
    plan = make_class(subs, 5)  # correct, stub, buggy, syntax error, exit at import; nbgrader layout for half
    config = tmp_path / "fast.toml"
    config.write_text(FAST_CONFIG)
    args = ["batch", str(subs), "--out", str(out), "--config", str(config), "--dask", cluster.scheduler_address]
    assert cli(args) == 0
    ran = {w: n - before.get(w, 0) for w, n in executed(client).items()}
    assert sum(ran.values()) == len(plan) and all(ran.values()), ran  # every task on the workers, both busy

    rows = {r["student"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert set(rows) == set(plan)
    for student, kind in plan.items():
        total = float(rows[student]["total"])
        assert (total == 90) == (kind == "correct"), (student, total)
        if kind in ("stub", "syntax", "hostile"):
            assert total == 0, (student, total)
        result = json.loads((out / "results" / f"{student}.json").read_text())
        folder = subs / student
        assert result["student"] == student and result["submission"] == str(folder)
        assert result["sha256"] == file_hash(folder)
        assert result["isolation"]["level"] in ("strict", "partial", "none")
    assert 0 < float(rows["s02_buggy"]["total"]) < 90
    buggy = json.loads((out / "results" / "s02_buggy.json").read_text())
    assert "learning rate" in next(c["message"] for c in buggy["checks"] if c["name"] == "train.learning_rate")

    # resume: finished students are skipped; a removed result and a changed submission are graded again
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}
    (out / "results" / "s00_correct.json").unlink()
    (subs / "s03_syntax" / "mlp_backprop" / "mlp.py").write_text(SOLUTION.read_text())
    before = executed(client)
    assert cli(args) == 0
    assert sum(executed(client).values()) - sum(before.values()) == 2
    after = {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}
    assert after["s01_stub.json"] == stamps["s01_stub.json"] and after["s03_syntax.json"] != stamps["s03_syntax.json"]
    rows = {r["student"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert float(rows["s00_correct"]["total"]) == 90 and float(rows["s03_syntax"]["total"]) == 90


@pytest.mark.slow
def test_dask_and_local_grading_agree(cluster, tmp_path):
    """Same submission, same secret (sent by the client, whatever the workers have): the same report whether
    graded here or on a worker."""
    cluster, _client = cluster
    subs = tmp_path / "submitted"
    plan = make_class(subs, 3)
    # a bug whose message names the hidden sizes drawn from the secret: "(N=7, D=14, H=23, C=4) the W1 gradient ..."
    (subs / "s09_transposed").mkdir()
    (subs / "s09_transposed" / "mlp.py").write_text(mutate(SOLUTION.read_text(), [(BWD_W1, W1_TRANSPOSED)]))
    plan["s09_transposed"] = "buggy"
    config = tmp_path / "fast.toml"
    config.write_text(FAST_CONFIG)
    reports = {}
    for where, extra in (("local", ["--jobs", "1"]), ("dask", ["--dask", cluster.scheduler_address])):
        out = tmp_path / where
        assert cli(["batch", str(subs), "--out", str(out), "--config", str(config), *extra]) == 0
        reports[where] = {s: json.loads((out / "results" / f"{s}.json").read_text()) for s in plan}
    shapes = next(c["message"] for c in reports["dask"]["s09_transposed"]["checks"] if c["name"] == "gradient.shapes")
    assert "transposed" in shapes and "(N=" in shapes
    for student in plan:
        local, dask = reports["local"][student], reports["dask"][student]
        assert local["score"] == dask["score"]
        assert [(c["name"], c["score"], c["status"], c["message"]) for c in local["checks"]] == \
            [(c["name"], c["score"], c["status"], c["message"]) for c in dask["checks"]]


def test_without_dask_the_local_pool_stays_the_default():
    from autograder.workflows import batch

    assert batch.run_batch.__defaults__[-1] is None  # dask=None: the process pool
    parser_help = batch.__doc__
    assert "--dask ADDRESS" in parser_help
