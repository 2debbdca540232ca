"""Attacks on the grader. Each must score no more than the same code without the trick,
the report must always be written, and nothing may linger or leak.
"""
from __future__ import annotations

import os
import pickle
import signal
import time
from pathlib import Path

import pytest

from autograder import grade
from autograder.config import load_config
from autograder.report import render
from autograder.sandbox import Limits, run_probe
from conftest import FAST, RELEASE, SOLUTION

STUB = RELEASE.read_text()
SOL = SOLUTION.read_text()
FORWARD_SOL = '        p = self.params\n        self.data = data\n'
FORWARD_STUB = '        raise NotImplementedError("MLP.forward is not implemented yet")\n'


def in_forward(text: str, base: str) -> str:
    """Insert attack code at the top of MLP.forward of the solution or stub."""
    anchor = FORWARD_SOL if base == "solution" else FORWARD_STUB
    source = SOL if base == "solution" else STUB
    assert anchor in source
    body = "".join(f"        {line}\n" for line in text.strip("\n").split("\n"))
    return source.replace(anchor, body + anchor, 1)


def at_import(text: str, base: str) -> str:
    source = SOL if base == "solution" else STUB
    return source.replace("import numpy as np\n", "import numpy as np\n" + text.strip("\n") + "\n", 1)


ZEROS_FORWARD = STUB.replace(FORWARD_STUB, "        return np.zeros((data.shape[0], self.params['b2'].shape[0]))\n")
# red-team children get a short leash so infinite loops cost seconds, not minutes
CONFIG = load_config(overrides={"sandbox": {"timeout_s": 6, "cpu_s": 2}})

PICKLE_MARKER = Path("/tmp/mlp-grade-redteam-unpickled")


class _Payload:
    def __reduce__(self):
        return (os.system, (f"touch {PICKLE_MARKER}",))


ATTACKS = {
    # name: (base, attacked source, checks to grade)
    "sys_exit_at_import": ("solution", at_import("import sys; sys.exit(0)", "solution"), FAST),
    "os_exit_in_forward": ("solution", in_forward("import os; os._exit(0)", "solution"), FAST),
    "forged_result_file": ("stub", in_forward(
        "import json, os, numpy\n"
        "json.dump({'status': 'ok'}, open('out/result.json', 'w'))\n"
        "numpy.save('out/scores.npy', numpy.zeros((len(data), 3)))\n"
        "os._exit(0)", "stub"), FAST),
    "fake_runner_output": ("stub", at_import(
        "print('===== 30 passed in 0.1s =====')\nprint('{\"score\": 100, \"max_score\": 100}')\n"
        "print('Total: 100 / 100')", "stub"), FAST),
    "monkeypatched_numpy": ("stub", at_import(
        "np.allclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n"
        "np.testing.assert_allclose = lambda *a, **k: None\nnp.isclose = lambda *a, **k: True", "stub"), FAST),
    "stack_inspection": ("stub", in_forward(
        "import inspect\n"
        "for f in inspect.stack():\n"
        "    for k, v in f.frame.f_locals.items():\n"
        "        if 'expect' in k:\n"
        "            return v\n"
        "import gc\n"
        "for o in gc.get_objects():\n"
        "    if isinstance(o, dict) and 'expected' in o:\n"
        "        return o['expected']", "stub"), ["forward"]),
    "infinite_loop": ("solution", in_forward("while True:\n    pass", "solution"), ["forward.shape", "train"]),
    "ignores_sigterm": ("solution", in_forward(
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.01)",
        "solution"), ["forward.shape"]),
    "memory_bomb": ("solution", in_forward("x = [np.ones(10**8) for _ in range(1000)]", "solution"),
                    ["forward.shape", "onehot"]),
    "output_flood": ("solution", in_forward("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", "solution"),
                     ["forward.shape", "onehot"]),
    "lying_ndarray_subclass": (ZEROS_FORWARD, STUB.replace(FORWARD_STUB,
        "        class Liar(np.ndarray):\n"
        "            def __eq__(self, other): return np.ones(np.shape(other), bool)\n"
        "            def __array__(self, *a, **k): return np.zeros(self.shape)\n"
        "        return np.zeros((data.shape[0], self.params['b2'].shape[0])).view(Liar)\n"), ["forward"]),
    "pickle_payload": ("stub", in_forward(
        "import os, pickle\n"
        "open('out/scores.npy', 'wb').write(PAYLOAD)\n"
        "import json; json.dump({'status': 'ok'}, open('out/result.json', 'w'))\n"
        "os._exit(0)", "stub").replace("import numpy as np\n", "import numpy as np\nPAYLOAD = "
                                       + repr(b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, "
                                              b"'shape': (1,), }" + b" " * 47 + b"\n"
                                              + pickle.dumps(_Payload())) + "\n", 1), ["forward"]),
}


@pytest.fixture(autouse=True)
def _no_marker():
    PICKLE_MARKER.unlink(missing_ok=True)
    yield
    PICKLE_MARKER.unlink(missing_ok=True)


_baseline: dict[tuple, float] = {}


def baseline(base: str, only: list[str], submit) -> float:
    """Score of the same code without the trick: the solution, the stub, or a given source."""
    key = (base, tuple(only))
    if key not in _baseline:
        path = {"solution": SOLUTION, "stub": RELEASE}.get(base) or submit(base)
        _baseline[key] = grade(path, only=only, config=CONFIG).score
    return _baseline[key]


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_scores_no_more_than_without_the_trick(attack, submit):
    base, text, only = ATTACKS[attack]
    result = grade(submit(text), only=only, config=CONFIG)
    assert result.score <= baseline(base, only, submit), render(result, "text")
    assert not PICKLE_MARKER.exists(), "the grader unpickled child output"
    assert render(result, "json") and render(result, "junit") and render(result, "text")
    for check in result.checks:
        assert len(check.message) < 2000


def test_infinite_loop_reports_a_timeout_and_costs_that_check_only(submit):
    started = time.monotonic()
    result = grade(submit(in_forward("while True:\n    pass", "solution")),
                   only=["forward.shape", "forward.values", "train.epochs", "accuracy"], config=CONFIG)
    # ended by the CPU limit, not the wall-clock one
    assert "did not return within 2 s of CPU time (infinite loop in MLP.forward?)" in result["forward.shape"].message
    assert "not run: MLP.forward never returned in forward.shape" in result["forward.values"].message
    assert result["accuracy.mnist"].message == "same cause as in forward.values"  # said once per report
    assert result["train.epochs"].passed
    assert time.monotonic() - started < 20


def test_ignoring_sigxcpu_does_not_stretch_the_cpu_limit(tmp_path):
    module = tmp_path / "mlp.py"
    module.write_text("import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass\n")
    outcome = run_probe(module, "import", {}, {}, Limits(wall_s=60, cpu_s=1))
    assert outcome.status == "timeout" and "within 1 s of CPU time" in outcome.message, outcome.message
    # the kernel kills at the limit (SIGKILL); a soft limit the handler ignored would run on
    assert outcome.cpu_seconds < 1.8, outcome.cpu_seconds


def test_code_that_sleeps_meets_the_wall_clock_limit(tmp_path):
    module = tmp_path / "mlp.py"
    module.write_text("import time\ntime.sleep(3600)\n")
    outcome = run_probe(module, "import", {}, {}, Limits(wall_s=1, cpu_s=30))
    assert outcome.status == "timeout", outcome.message
    assert outcome.message == "did not return within 1 s (infinite loop?)"


def test_memory_bomb_is_reported_plainly(submit):
    result = grade(submit(in_forward("x = np.ones((10**6, 10**4))", "solution")), only=["forward.shape"])
    assert "memory" in result["forward.shape"].message.lower(), result["forward.shape"].message


def test_exit_at_import_is_reported(submit):
    result = grade(submit(at_import("import sys; sys.exit(3)", "solution")), only=["forward.shape"])
    assert "sys.exit" in result["forward.shape"].message, result["forward.shape"].message


def test_environment_is_scrubbed(submit, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret_token_value")
    monkeypatch.setenv("MLP_DATA_DIR", "/somewhere/private")
    text = in_forward("import os\nraise RuntimeError(repr(dict(os.environ)))", "solution")
    result = grade(submit(text), only=["forward.shape"])
    message = result["forward.shape"].message
    assert "RuntimeError" in message
    assert "ghp_secret_token_value" not in render(result, "json")
    assert "/somewhere/private" not in render(result, "json")


def test_lingering_children_are_killed(submit, tmp_path):
    flag = f"mlp-grade-linger-{os.getpid()}"
    text = at_import(
        "import subprocess\n"
        f"subprocess.Popen(['sleep', '300', '{flag}'], start_new_session=True)\n"
        "import os\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        f"    os.execvp('sleep', ['sleep', '301', '{flag}'])", "solution")
    grade(submit(text), only=["forward.shape"])
    time.sleep(0.2)
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if flag.encode() in (entry / "cmdline").read_bytes():
                    alive.append(int(entry.name))
            except OSError:
                pass
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert alive == []


def test_conftest_in_submission_changes_nothing(submit):
    folder = submit(STUB, extra={"conftest.py": "import pytest\n"
                                                "def pytest_collection_modifyitems(items):\n    items.clear()\n",
                                 "results.json": '{"score": 100}'})
    assert grade(folder, only=FAST).score == 0


def test_child_cannot_see_the_grader_files(submit):
    text = in_forward("import os\nraise RuntimeError('cwd=' + repr(sorted(os.listdir('.'))))", "solution")
    message = grade(submit(text), only=["forward.shape"])["forward.shape"].message
    assert "cwd=" in message
    for leaked in ("expected", "labels", "t10k"):
        assert leaked not in message.split("cwd=")[1], message



def test_a_hang_outside_the_contract_functions_lowers_the_next_limits(submit):
    # forward returns at once, but converting its result never ends: no contract function to blame
    text = STUB.replace(FORWARD_STUB, "        class Endless:\n"
                                      "            def __array__(self, *a, **k):\n"
                                      "                while True:\n"
                                      "                    pass\n"
                                      "        return Endless()\n")
    result = grade(submit(text), only=["forward.shape", "forward.values"], config=CONFIG)
    assert "did not return within 2 s of CPU time (infinite loop?)" in result["forward.shape"].message
    assert "within 2 s" in result["forward.values"].message and "limit lowered" in result["forward.values"].message
