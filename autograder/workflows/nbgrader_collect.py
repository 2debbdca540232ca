"""``nbgrader collect`` that never follows a link out of a submission (the course's exchange class).

nbgrader's inbound folder is writable by every student (mode 733), so a
student can place a submission folder there by hand; nbgrader's own collect
copies it with ``shutil.copytree``, *following* symbolic links: an ``mlp.py``
linked to a file only the instructor can read arrives in ``submitted/`` as a
regular file, is graded, and ``generate_feedback`` hands it to the student.

:class:`SafeCollect` (``c.ExchangeFactory.collect`` in the course's
``nbgrader_config.py``) copies a submission only when every entry in it is a
regular file or a folder, read through descriptors opened with ``O_NOFOLLOW``
(nothing outside the submission is ever opened), and, when the student id is a
user of this machine, owned by that user. Anything else (a symbolic link, a
FIFO, a device, a file of someone else) refuses the whole submission, said in
the log as an error, one line per problem; nothing of it reaches ``submitted/``.
nbgrader's ``CourseDirectory.ignore`` / ``include`` / ``max_file_size`` /
``max_dir_size`` still apply.
"""
from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.utils import ignore_patterns

_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _owner(student: str) -> int | None:
    """The uid of the user named ``student`` on this machine, or None (the owner cannot be told)."""
    try:
        return pwd.getpwnam(student).pw_uid
    except KeyError:
        return None


def inspect(src: str, student: str) -> tuple[list[str], list[tuple[str, int]]]:
    """(problems, [(path inside, size)] of the regular files) of the submission folder ``src``; no link followed."""
    problems, files = [], []
    uid = _owner(student)
    try:
        top = os.open(src, _OPEN | os.O_DIRECTORY)
    except OSError as exc:
        return [f"the submission folder cannot be opened without following a link ({exc.strerror})"], []

    def visit(fd: int, prefix: str) -> None:
        info = os.fstat(fd)
        if uid is not None and info.st_uid != uid:
            problems.append(f"{prefix or '.'} belongs to uid {info.st_uid}, not to {student} (uid {uid})")
        for name in sorted(os.listdir(fd)):
            rel = prefix + name
            mode = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISDIR(mode.st_mode):
                try:
                    child = os.open(name, _OPEN | os.O_DIRECTORY, dir_fd=fd)
                except OSError as exc:
                    problems.append(f"{rel} cannot be opened without following a link ({exc.strerror})")
                    continue
                try:
                    visit(child, rel + "/")
                finally:
                    os.close(child)
            elif stat.S_ISREG(mode.st_mode):
                if uid is not None and mode.st_uid != uid:
                    problems.append(f"{rel} belongs to uid {mode.st_uid}, not to {student} (uid {uid})")
                files.append((rel, mode.st_size))
            else:
                problems.append(f"{rel} is {_kind(mode.st_mode)}")

    try:
        visit(top, "")
    finally:
        os.close(top)
    return problems, files


def copy_file(src_root: str, rel: str, dest_root: str) -> None:
    """Copy the regular file ``rel`` of ``src_root``, opening each folder and the file with ``O_NOFOLLOW``."""
    parts = rel.split("/")
    fd = os.open(src_root, _OPEN | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            inner = os.open(part, _OPEN | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        source = os.open(parts[-1], _OPEN, dir_fd=fd)
    finally:
        os.close(fd)
    with os.fdopen(source, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{rel} changed into {_kind(info.st_mode)} while collected")
        target = Path(dest_root, *parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                      stat.S_IMODE(info.st_mode) & 0o755 | 0o600)
        with os.fdopen(out, "wb") as g:
            while chunk := f.read(1 << 20):
                g.write(chunk)
        os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))


class SafeCollect(ExchangeCollect):
    """nbgrader's collect, copying only regular files and folders of the submitting user, never a link."""

    def do_copy(self, src, dest, log=None):
        student = self._path_to_record(src)["username"]
        problems, files = inspect(src, student)
        total = sum(size for _, size in files)
        if total > 1000 * self.coursedir.max_dir_size:
            problems.append(f"the submission holds {total} bytes, more than CourseDirectory.max_dir_size "
                            f"({self.coursedir.max_dir_size} kB)")
        if problems:
            for problem in problems:
                self.log.error("Refused the submission of %s (%s): %s", student, os.path.basename(src), problem)
            self.log.error("Not collected: %s (nothing of it was copied to %s)", os.path.basename(src), dest)
            return
        ignore = ignore_patterns(exclude=self.coursedir.ignore, include=self.coursedir.include,
                                 max_file_size=self.coursedir.max_file_size, log=self.log)
        os.makedirs(dest, exist_ok=True)
        for rel, _ in files:
            parts = rel.split("/")
            if any(ignore(os.path.join(src, *parts[:i]), [parts[i]]) for i in range(len(parts))):
                continue
            copy_file(src, rel, dest)
