"""The grader's temporary folders: named after the process that made them, swept when it is gone.

Every folder a grading makes (a child's working folder, the self-test's, a Dask worker's copy of
a submission) is ``mlp-grade-<pid>-<random>`` in the temporary folder. A grader ends by removing
its own; one killed with SIGKILL cannot, so the first grading of every later process removes
the folders of processes that no longer exist (``sweep()``).
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from pathlib import Path

_NAME = re.compile(r"^mlp-grade-(\d+)-")
_swept = threading.Event()


def prefix() -> str:
    """The name prefix of this process's temporary folders."""
    return f"mlp-grade-{os.getpid()}-"


def mkdtemp(dir: str | Path | None = None) -> Path:  # noqa: A002 - tempfile's name
    return Path(tempfile.mkdtemp(prefix=prefix(), dir=dir))


def folder(dir: str | Path | None = None) -> tempfile.TemporaryDirectory:  # noqa: A002
    """A ``TemporaryDirectory`` named for this process."""
    return tempfile.TemporaryDirectory(prefix=prefix(), dir=dir)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def sweep(places: tuple[str | Path, ...] | None = None) -> list[Path]:
    """Remove the grader folders left by processes that no longer exist (once per process); what was removed."""
    if _swept.is_set() and places is None:
        return []
    _swept.set()
    removed = []
    for place in {Path(p) for p in (places or (tempfile.gettempdir(), "/tmp"))}:
        try:
            entries = list(os.scandir(place))
        except OSError:
            continue
        for entry in entries:
            found = _NAME.match(entry.name)
            if found is None or int(found[1]) == os.getpid() or _alive(int(found[1])):
                continue
            try:
                if not entry.is_dir(follow_symlinks=False):
                    continue
            except OSError:
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
            if not os.path.lexists(entry.path):
                removed.append(Path(entry.path))
    return removed
