"""Shared fixtures: the repository's files and a factory of submissions built from the solution."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solution" / "mlp_backprop" / "mlp.py"
RELEASE = ROOT / "assignment" / "mlp_backprop" / "mlp.py"

# Every test grades with the same fixed secret, so graded runs are repeatable
# across processes and never touch a user's own secret.
os.environ.setdefault("MLP_GRADER_SECRET", "tests-of-the-grader")
# pytest-xdist runs tests side by side; one BLAS thread per process (notebook kernels and nbgrader
# inherit it) keeps them from oversubscribing the cores, which slows MNIST training several-fold.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

#: checks that need no MNIST training (fast); the accuracy check is tested on its own
FAST = ["interface", "onehot", "forward", "predict", "loss", "gradient", "compute_grad", "train"]


def pytest_collection_modifyitems(items):
    """Slow tests first, so that with pytest-xdist (--dist=loadfile: one file per worker, its module
    fixtures built once) the long nbgrader and notebook runs start early instead of trailing."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def said(result, check: str) -> str:
    """The check's message, followed by those of the checks it points back to (``same cause as in ...``)."""
    message = result[check].message
    if "same cause as in " in message:
        for name in message.split("same cause as in ")[-1].split(", "):
            message += " | " + said(result, name.strip())
    return message


def mutate(source: str, replacements: list[tuple[str, str]]) -> str:
    """Apply exact replacements, failing loudly when the solution no longer has the text."""
    for old, new in replacements:
        assert old in source, f"the solution no longer contains {old!r}: update this variant"
        source = source.replace(old, new)
    return source


@pytest.fixture
def solution_text() -> str:
    return SOLUTION.read_text()


@pytest.fixture
def submit(tmp_path):
    """Write ``text`` as <tmp>/<name>/mlp.py and return the folder."""
    counter = iter(range(10_000))

    def make(text: str, name: str | None = None, extra: dict[str, str] | None = None) -> Path:
        folder = tmp_path / (name or f"sub{next(counter)}")
        folder.mkdir(parents=True)
        (folder / "mlp.py").write_text(text)
        for rel, content in (extra or {}).items():
            (folder / rel).write_text(content)
        return folder

    return make


def mnist_available() -> bool:
    from autograder import data

    try:
        data.load_raw("mnist", "test")
        return True
    except data.DatasetError:
        return False
