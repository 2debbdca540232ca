"""Shared fixtures: the repository's files and a factory of submissions built from the solution."""
from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solution" / "mlp_backprop" / "mlp.py"
RELEASE = ROOT / "assignment" / "mlp_backprop" / "mlp.py"
#: the test venv's console scripts (mlp-grade), as installed by pip
BIN = Path(sys.executable).parent
#: pip's cache of the user running the tests (kept when a test moves HOME: installs stay offline-fast)
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")

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


# ----------------------------------------------------------------------------- entry points as users run them


def user_env(home: Path, path: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a user's shell, for entry-point tests run in a subprocess.

    No grading secret and no other ``MLP_*`` variable but ``MLP_DATA_DIR`` (the per-machine secret
    file is made in ``home``'s cache, as for a user), HOME at ``home`` (no XDG cache elsewhere), the
    test venv's scripts first on PATH unless ``path`` is given.
    """
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("MLP_") and k != "MLP_DATA_DIR") and k not in ("XDG_CACHE_HOME", "PYTHONPATH")}
    env.update(HOME=str(home), PIP_CACHE_DIR=PIP_CACHE, PATH=path or f"{BIN}:{os.environ['PATH']}", **extra)
    return env


def run_as_user(argv: list, home: Path, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """Run ``argv`` with :func:`user_env` (``env=`` replaces it), output captured as text."""
    kwargs.setdefault("env", user_env(home))
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, **kwargs)


def assert_secret_kept(home: Path) -> None:
    """The grading secret a user's first grading makes: ~/.cache/mlp-backprop/grader-secret, 0600, 64 hex digits."""
    path = home / ".cache" / "mlp-backprop" / "grader-secret"
    assert path.is_file(), f"no per-machine grading secret at {path}: the grader did not keep one for this user"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path} has mode {path.stat().st_mode:o}"
    assert re.fullmatch(r"[0-9a-f]{64}", path.read_text().strip()), f"{path} does not hold 64 hex digits"


def failed(proc: subprocess.CompletedProcess) -> str:
    """A failure message with what the command said."""
    return f"{' '.join(map(str, proc.args))} exited {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}" \
           f"\n--- stderr\n{proc.stderr[-3000:]}"
