"""`mlp-grade` and `mlp-grade batch` stopped by SIGINT, SIGTERM, SIGHUP or SIGKILL at several moments.

The grader runs as a separate process, as instructors and CI run it; the student's code sleeps in
``MLP.forward`` (after forking a sleeping process of its own) and in ``train_mlp_neuralnet``, so
at the moment of the signal sandboxed children are running in both lanes of the grading. Every
process ever seen under the grader (``proctree.Watch``) must be gone within 5 s, no temporary
folder of the grading may stay (after SIGKILL: the next run removes them), an interrupted run
writes the report of what ran and exits with 128 + the signal's number, and an interrupted batch
keeps the results already written and resumes from them.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder.sandbox import layers
from conftest import ROOT, SOLUTION, mnist_available
from proctree import Watch

pytestmark = pytest.mark.skipif(not layers.LINUX, reason="needs Linux /proc and PR_SET_PDEATHSIG")

MLP_GRADE = [sys.executable, "-c", "import sys; from autograder.cli import main; sys.exit(main(sys.argv[1:]))"]
SLEEPER_TAIL = '''

import os as _os
import time as _time

_forward = MLP.forward


def _slow_forward(self, data):
    if _os.fork() == 0:  # a process of the student's own, sleeping too
        _time.sleep(300)
        _os._exit(0)
    _time.sleep(300)
    return _forward(self, data)


MLP.forward = _slow_forward
_train = train_mlp_neuralnet


def train_mlp_neuralnet(model, loss_fn, data, labels, lr, batch_sz, num_epochs, seed=0, verbose=False):
    _time.sleep(300)
    return _train(model, loss_fn, data, labels, lr, batch_sz, num_epochs, seed, verbose)
'''
#: long limits (the sleeping children must still be there at the signal); the accuracy check beside
CONFIG = """
[sandbox]
timeout_s = 120
cpu_s = 60
parallel = true
[accuracy]
timeout_s = 120
"""
STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129, signal.SIGKILL: -signal.SIGKILL}


def grader_folders(pids, tmp: Path) -> list[Path]:
    """The temporary folders of the grader processes ``pids`` (in their TMPDIR, and /tmp for the self-test's)."""
    return sorted(p for place in (tmp, Path("/tmp")) for pid in pids for p in place.glob(f"mlp-grade-{pid}-*"))


def run_until(argv: list[str], env: dict, ready, limit_s: float = 120) -> tuple[subprocess.Popen, Watch]:
    """Start ``argv`` in a session of its own and watch its processes until ``ready(watch)``."""
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    watch = Watch(proc.pid)
    deadline = time.monotonic() + limit_s
    while not ready(watch):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the moment never came"
        time.sleep(0.01)
    return proc, watch


def stop_and_check(proc: subprocess.Popen, watch: Watch, signum: int, tmp: Path, group: bool = False,
                   killed_leaves: bool = True) -> str:
    """Send ``signum``; the process must end with its status within 5 s, leaving no process and (after the
    next run, for SIGKILL, which leaves folders when ``killed_leaves``) no folder; its stderr."""
    (os.killpg if group else os.kill)(proc.pid, signum)
    try:
        _out, err = proc.communicate(timeout=5)
    finally:
        left = watch.wait_gone(5)
        watch.stop()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not left, f"still running 5 s after {signal.Signals(signum).name}: {left}"
    assert proc.returncode == STATUS[signum], (proc.returncode, err.decode()[-2000:])
    pids = {pid for pid, _start in watch.commands}
    if signum == signal.SIGKILL:  # the grader had no chance to clean up: the next grading does
        assert not killed_leaves or grader_folders(pids, tmp)
        env = dict(os.environ, TMPDIR=str(tmp))
        done = subprocess.run([*MLP_GRADE, str(SOLUTION), "--only", "interface"], env=env, cwd=ROOT,
                              capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert not grader_folders(pids, tmp), grader_folders(pids, tmp)
    assert not list(tmp.glob("mlp-grade-*")), list(tmp.glob("mlp-grade-*"))
    return err.decode()


@pytest.fixture
def setting():
    """(folder, environment): the grader's TMPDIR is ``folder/tmp``; ``folder`` is under /tmp, open to the
    sandbox user of a root grader (pytest's own folders are private to the user running it)."""
    folder = Path(tempfile.mkdtemp(prefix="mlp-interruption-", dir="/tmp"))
    os.chmod(folder, 0o755)
    (folder / "sleeper").mkdir()
    (folder / "sleeper" / "mlp.py").write_text(SOLUTION.read_text() + SLEEPER_TAIL)
    (folder / "config.toml").write_text(CONFIG)
    (folder / "tmp").mkdir()
    os.chmod(folder / "tmp", 0o1777)
    try:
        yield folder, dict(os.environ, TMPDIR=str(folder / "tmp"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def started(watch: Watch) -> bool:
    """The grader has started a child process (detecting and testing the confinement)."""
    return len(watch.seen) > 1


def both_lanes(watch: Watch) -> bool:
    """Two sandboxed children run: MLP.forward sleeping in the loop, training sleeping beside it."""
    return watch.drivers() >= 2


MOMENTS = {"start": started, "both_lanes": both_lanes}


@pytest.mark.slow
@pytest.mark.parametrize(("moment", "signum"), [
    ("start", signal.SIGINT), ("start", signal.SIGTERM), ("start", signal.SIGKILL),
    ("both_lanes", signal.SIGINT), ("both_lanes", signal.SIGTERM), ("both_lanes", signal.SIGHUP),
    ("both_lanes", signal.SIGKILL)])
def test_grading_interrupted(moment, signum, setting):
    if moment == "both_lanes" and not mnist_available():
        pytest.skip("the accuracy check (the lane beside) needs MNIST")
    tmp_path, env = setting
    report = tmp_path / "report.json"
    argv = [*MLP_GRADE, str(tmp_path / "sleeper"), "--config", str(tmp_path / "config.toml"), "--format", "json",
            "--out", str(report)]
    proc, watch = run_until(argv, env, MOMENTS[moment])
    # (at the start, a SIGKILL may come between two folders: only the children's are sure to be left)
    err = stop_and_check(proc, watch, signum, tmp_path / "tmp", killed_leaves=moment == "both_lanes")
    if signum == signal.SIGKILL:
        return
    assert f"interrupted by {signal.Signals(signum).name}" in err
    tests = {t["name"].split(":")[0]: t for t in json.loads(report.read_text())["tests"]}  # "check: title"
    interrupted = [n for n, t in tests.items() if "the grading was interrupted" in t["output"]]
    assert "accuracy.mnist" in interrupted and "forward.shape" in interrupted
    if moment == "both_lanes":  # the interface checks (no child) ran before the lanes: reported as they came out
        ran = {n: t["output"] for n, t in tests.items() if n.startswith("interface.")}
        assert all(out == "passed" for out in ran.values()), ran


BATCH_CONFIG = """
[grader]
skip = ["accuracy"]
[sandbox]
timeout_s = 120
cpu_s = 60
"""


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_batch_interrupted(signum, setting):
    """Ctrl-C (SIGINT to the whole foreground group, workers included), SIGTERM or SIGKILL of the batch
    process alone, while two workers grade sleeping students after a correct one was graded."""
    tmp_path, env = setting
    subs, out = tmp_path / "submitted", tmp_path / "out"
    for name, text in (("s0_correct", SOLUTION.read_text()), ("s1_sleeper", SOLUTION.read_text() + SLEEPER_TAIL),
                       ("s2_sleeper", SOLUTION.read_text() + SLEEPER_TAIL),
                       ("s3_sleeper", SOLUTION.read_text() + SLEEPER_TAIL)):
        (subs / name).mkdir(parents=True)
        (subs / name / "mlp.py").write_text(text)
    (tmp_path / "batch.toml").write_text(BATCH_CONFIG)
    argv = [*MLP_GRADE, "batch", str(subs), "--jobs", "2", "--out", str(out), "--config", str(tmp_path / "batch.toml")]

    def graded_one_and_sleeping(watch: Watch) -> bool:
        return (out / "results" / "s0_correct.json").exists() and watch.drivers() >= 2

    proc, watch = run_until(argv, env, graded_one_and_sleeping, limit_s=240)
    # (batch workers, sent SIGTERM when the batch dies, remove their folders themselves)
    err = stop_and_check(proc, watch, signum, tmp_path / "tmp", group=signum == signal.SIGINT, killed_leaves=False)
    assert sorted(p.name for p in (out / "results").iterdir()) == ["s0_correct.json"]  # no sleeper "crashed"
    if signum != signal.SIGKILL:
        assert f"interrupted by {signal.Signals(signum).name}" in err
        assert "s0_correct," in (out / "grades.csv").read_text()
    # resume: the sleepers (now fixed) are graded, the finished student is not
    for name in ("s1_sleeper", "s2_sleeper", "s3_sleeper"):
        (subs / name / "mlp.py").write_text(SOLUTION.read_text())
    stamp = (out / "results" / "s0_correct.json").stat().st_mtime_ns
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "3 graded, 1 already done" in done.stdout
    assert (out / "results" / "s0_correct.json").stat().st_mtime_ns == stamp
