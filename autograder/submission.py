"""Opening a submission the only safe way: one read, from a descriptor, of a regular file inside it.

A submitted file is hostile before any of its code runs: ``mlp.py`` may be a
symbolic link to a file only the grader can read (whose lines would come back
in the feedback), to ``/dev/zero`` or a FIFO (which a plain read never
finishes), or hundreds of megabytes; a student folder may be a symbolic link
to a classmate's. :func:`open_submission` is the one way the grader reads a
submission, for every entry point (``grade()`` and so ``mlp-grade``, nbgrader's
``GradeCells`` and the Gradescope and Classroom scripts; ``batch`` local and
Dask, ``similarity`` and ``report --submissions``):

* the path given is opened with ``O_NOFOLLOW`` (a symbolic link is refused);
* a folder is walked from descriptors (``openat`` with ``O_NOFOLLOW`` at each
  level), never following a symbolic link, so nothing outside it is reached;
  the shallowest ``mlp.py`` is taken (``.ipynb_checkpoints`` skipped);
* ``fstat`` on the open descriptor must say a regular file of at most
  ``[sandbox] max_source_kb``; the bytes are read from that descriptor
  (``O_NONBLOCK``: a FIFO never blocks the grader), never by a second open.

The grader hands those bytes to each child (``runner.run_probe``); nothing
re-opens the student's path. Anything else raises :class:`Refused`, whose
message (translated when read, in the grading's language) names the reason
and the file by its path inside the submission, never the instructor's path.
"""
from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .i18n import N_, _

STUDENT_FILE = "mlp.py"
SKIPPED_FOLDERS = frozenset({".ipynb_checkpoints"})
#: how deep and how many entries the search for mlp.py looks (a submission is a few files)
MAX_DEPTH, MAX_ENTRIES = 8, 500

SYMLINK = N_("{file} is a symbolic link: submit the file itself")
FIFO = N_("{file} is a named pipe (FIFO), not a file: submit the file itself")
DEVICE = N_("{file} is a device, not a file: submit the file itself")
NOT_REGULAR = N_("{file} is not a regular file: submit the file itself")
TOO_LARGE = N_("{file} is larger than {size} KB, far more than any {name} needs: submit only your code")
FOLDER_LINK = N_("the submission folder is a symbolic link: submit the folder itself")
UNREADABLE = N_("{file} cannot be read ({error})")
MISSING = N_("no {file} found in the submission: submit the file named {file}")

_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class Refused(Exception):
    """The submission cannot be graded; ``message()`` says why, in the current language."""

    def __init__(self, template: str, **fields):
        super().__init__(template.format(**fields))
        self.template, self.fields = template, fields

    def message(self) -> str:
        return _(self.template).format(**self.fields)


@dataclass(frozen=True)
class Submission:
    """The student's module as read once: ``name`` its path inside the submission ('mlp_backprop/mlp.py')."""

    name: str
    source: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.source).hexdigest()


def max_bytes(config: dict) -> int:
    """``[sandbox] max_source_kb`` in bytes."""
    return int(config["sandbox"]["max_source_kb"]) * 1024


def open_submission(path: str | Path, limit: int) -> Submission:
    """The student's ``mlp.py`` at ``path`` (the file, or a folder holding it), read safely.

    Args:
        limit: the largest size accepted, in bytes.
    Raises:
        Refused: a symbolic link, not a regular file, larger than ``limit``, unreadable, or no mlp.py.
    """
    path = Path(path)
    try:
        fd = os.open(path, _OPEN)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Refused(FOLDER_LINK) if path.is_dir() else Refused(SYMLINK, file=path.name) from None
        if exc.errno == errno.ENOENT:
            raise Refused(MISSING, file=STUDENT_FILE) from None
        raise Refused(UNREADABLE, file=path.name, error=exc.strerror or str(exc)) from None
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            return _from_folder(fd, limit)
        return Submission(path.name, _read(fd, path.name, limit))
    finally:
        os.close(fd)


def read_file(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file ``path`` of a submission (no link followed, at most ``limit``), read once
    from its descriptor; raises ``Refused`` otherwise (for small companion files such as ``mlp-grade.toml``)."""
    name = Path(path).name
    try:
        fd = os.open(path, _OPEN)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Refused(SYMLINK, file=name) from None
        raise Refused(UNREADABLE, file=name, error=exc.strerror or str(exc)) from None
    try:
        return _read(fd, name, limit)
    finally:
        os.close(fd)


def _read(fd: int, name: str, limit: int) -> bytes:
    """At most ``limit`` bytes of the regular file open at ``fd`` (Refused otherwise)."""
    mode = os.fstat(fd).st_mode
    if stat.S_ISLNK(mode):
        raise Refused(SYMLINK, file=name)
    if stat.S_ISFIFO(mode):
        raise Refused(FIFO, file=name)
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        raise Refused(DEVICE, file=name)
    if not stat.S_ISREG(mode):
        raise Refused(NOT_REGULAR, file=name)
    too_large = Refused(TOO_LARGE, file=name, size=limit // 1024, name=STUDENT_FILE)
    if os.fstat(fd).st_size > limit:
        raise too_large
    chunks, total = [], 0
    try:
        while total <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise Refused(UNREADABLE, file=name, error=exc.strerror or str(exc)) from None
    if total > limit:  # it grew while read
        raise too_large
    return b"".join(chunks)


def _from_folder(root: int, limit: int) -> Submission:
    """The shallowest mlp.py below the folder open at ``root`` (first by path at equal depth)."""
    level: list[tuple[str, int]] = [("", root)]
    opened: list[int] = []
    seen = 0
    try:
        for _depth in range(MAX_DEPTH):
            found, deeper = [], []
            for prefix, fd in level:
                with os.scandir(fd) as entries:
                    for entry in sorted(entries, key=lambda e: e.name):
                        seen += 1
                        if entry.name == STUDENT_FILE:
                            found.append((prefix + entry.name, fd))
                        elif (entry.name not in SKIPPED_FOLDERS and seen < MAX_ENTRIES
                              and entry.is_dir(follow_symlinks=False)):
                            try:
                                child = os.open(entry.name, _OPEN | os.O_DIRECTORY, dir_fd=fd)
                            except OSError:
                                continue  # swapped for a link meanwhile, or unreadable: not followed
                            opened.append(child)
                            deeper.append((prefix + entry.name + "/", child))
            if found:
                name, fd = min(found)
                return _open_in(fd, name, limit)
            level = deeper
    finally:
        for fd in opened:
            os.close(fd)
    raise Refused(MISSING, file=STUDENT_FILE)


def _open_in(folder: int, name: str, limit: int) -> Submission:
    try:
        fd = os.open(STUDENT_FILE, _OPEN, dir_fd=folder)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Refused(SYMLINK, file=name) from None
        raise Refused(UNREADABLE, file=name, error=exc.strerror or str(exc)) from None
    try:
        return Submission(name, _read(fd, name, limit))
    finally:
        os.close(fd)


def read_or_none(path: str | Path, config: dict) -> Submission | None:
    """The submission at ``path``, or None when it is refused (for tools that only compare code)."""
    try:
        return open_submission(path, max_bytes(config))
    except Refused:
        return None
