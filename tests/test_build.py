"""source/ -> assignment/ + solution/: up to date, no solution line in the release, stubs raise."""
from __future__ import annotations

import importlib.util
import json
import shutil

import pytest

from autograder import build
from autograder.cli import main as cli
from conftest import RELEASE, ROOT

SOURCE = ROOT / "source" / build.ASSIGNMENT


def solution_lines() -> set[str]:
    """Every substantial line inside a solution region of the source files."""
    lines, given = set(), set()
    for path in SOURCE.rglob("*"):
        if path.suffix == ".py":
            texts = [path.read_text()]
        elif path.suffix == ".ipynb":
            texts = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]
        else:
            continue
        for text in texts:
            split = text.split("\n")
            inside = set()
            for region in build.find_regions(split):
                if region.kind == "solution":
                    inside |= set(range(region.start + 1, region.end))
            given |= {s.strip() for i, s in enumerate(split) if i not in inside}
            lines |= {split[i].strip() for i in inside if len(split[i].strip()) > 12}
    # a line that the given code also has (``rng = ...`` in __init__) is no leak
    return lines - given


def test_generated_trees_are_up_to_date():
    assert build.check(ROOT) == [], "run `mlp-grade build` and commit assignment/ and solution/"


def test_check_mode_fails_when_out_of_date(tmp_path, capsys):
    copy = tmp_path / "repo"
    for part in ("source", "assignment", "solution"):
        shutil.copytree(ROOT / part, copy / part)
    assert cli(["build", "--check", "--root", str(copy)]) == 0
    target = copy / "source" / build.ASSIGNMENT / "mlp.py"
    target.write_text(target.read_text().replace("He initialisation", "He init"))
    assert cli(["build", "--check", "--root", str(copy)]) == 1
    assert "out of date" in capsys.readouterr().out
    assert cli(["build", "--root", str(copy)]) == 0
    assert cli(["build", "--check", "--root", str(copy)]) == 0


def test_no_solution_line_in_the_release():
    secret = solution_lines()
    assert len(secret) > 20
    for path in (ROOT / "assignment").rglob("*"):
        if path.is_file():
            text = path.read_text()
            leaked = [line for line in secret if line in text]
            assert leaked == [], f"{path} contains solution lines: {leaked[:3]}"


def test_release_stubs_raise_not_implemented():
    spec = importlib.util.spec_from_file_location("release_mlp", RELEASE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.MLP(4, 3, 2, seed=0)
    assert set(model.params) == {"W1", "b1", "W2", "b2"}
    calls = [lambda: module.make_labels_onehot([0, 1], 2), lambda: model.forward(None),
             lambda: model.backward(None, 1), lambda: module.SoftmaxCrossEntropy(model).forward(None, None),
             lambda: module.SoftmaxCrossEntropy(model).compute_grad(None, 1),
             lambda: module.train_mlp_neuralnet(model, None, None, None, 0.1, 1, 1), lambda: module.predict(model, None)]
    for call in calls:
        with pytest.raises(NotImplementedError, match="not implemented yet"):
            call()


def test_solution_has_no_markers():
    for path in (ROOT / "solution").rglob("*"):
        if path.is_file():
            assert "### BEGIN SOLUTION" not in path.read_text() and "### END SOLUTION" not in path.read_text()


def test_unbalanced_markers_are_reported():
    with pytest.raises(build.MarkerError, match="never closed"):
        build.strip("x = 1\n### BEGIN SOLUTION\ny = 2\n", release=True)
    with pytest.raises(build.MarkerError, match="without"):
        build.strip("### END SOLUTION\n", release=True)
