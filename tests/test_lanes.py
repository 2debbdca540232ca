"""The accuracy check run beside the others (a second child, ``[sandbox] parallel = true``) or in order
(``false``) gives the same report: no wall-clock time in any message, the same timeouts, the same notes.

And a config value of the wrong kind is refused when the config is loaded, by the command, with a
message naming the setting, before anything is graded.
"""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from autograder import grade
from autograder.config import load_config
from conftest import ROOT, SOLUTION, mnist_available, mutate

PREDICT = "    return np.argmax(model.forward(data), axis=1)"
#: predict hangs (its check times out; the accuracy check does not call it) and training sleeps past its limit
SLEEPING_TRAIN = "import time as _t\n\n\ndef train_mlp_neuralnet(*_a, **_k):\n    _t.sleep(60)\n\n\ndef _unused("
HANGS = [(PREDICT, "    while True:\n        pass"), ("def train_mlp_neuralnet(", SLEEPING_TRAIN)]


def plain(result) -> list[tuple]:
    return [(c.name, c.title, c.score, c.status, c.message) for c in result.checks] + [
        ("notes", "", 0, "", " | ".join(result.notes))]


@pytest.mark.slow
@pytest.mark.skipif(not mnist_available(), reason="the accuracy check needs MNIST")
@pytest.mark.parametrize("kind", ["correct", "timeouts"])
def test_the_report_is_the_same_beside_or_in_order(kind, submit):
    text = SOLUTION.read_text() if kind == "correct" else mutate(SOLUTION.read_text(), HANGS)
    folder = submit(text)
    reports = {}
    for parallel in (True, False):
        config = load_config(overrides={"sandbox": {"parallel": parallel, "timeout_after_timeout_s": 1},
                                        "accuracy": {"timeout_s": 300 if kind == "correct" else 4}})
        reports[parallel] = plain(grade(folder, config=config, lang="en"))
    assert reports[True] == reports[False]
    accuracy = next(r for r in reports[True] if r[0] == "accuracy.mnist")
    assert not re.search(r"\d s\b", accuracy[4].replace("within 4 s", "")), accuracy  # no wall-clock time
    if kind == "correct":
        assert accuracy[3] == "passed"
    else:  # timed out (training sleeps) after predict did, under its own limit, which was not lowered
        predict = next(r for r in reports[True] if r[0] == "predict.values")
        assert "did not return within" in predict[4] and accuracy[3] == "failed"
        assert "lowered" not in accuracy[4]


def test_a_config_value_of_the_wrong_kind_is_refused_at_load(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[sandbox]\nparallel = "yes"\n')
    for command in ([str(SOLUTION)], ["batch", str(tmp_path), "--out", str(tmp_path / "out")]):
        proc = subprocess.run([sys.executable, "-c", "import sys; from autograder.cli import main; "
                               "sys.exit(main(sys.argv[1:]))", *command, "--config", str(config)],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert 'sandbox.parallel must be one of true, false, "auto", not "yes"' in proc.stderr
        assert not (tmp_path / "out").exists()
    config.write_text("[sandbox]\ntimeout_s = \"10\"\n")
    with pytest.raises(ValueError, match='sandbox.timeout_s must be a number, not "10"'):
        load_config(config)
