"""Watching every process a grading starts, from outside (Linux ``/proc``).

Children of the grader leave its tree when they are re-parented (an orphan goes to a subreaper or
to PID 1), so ``Watch`` polls the tree from its root every few milliseconds while the grading runs
and keeps every process it ever saw in it, named by (pid, start time) so that a reused pid is not
taken for a survivor. ``left()`` gives those still alive (zombies count as gone: they run nothing).
"""
from __future__ import annotations

import os
import threading
import time


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time in ticks) of ``pid``, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), fields[0].decode(), int(fields[19])


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def tree(root: int) -> dict[int, int]:
    """pid -> start time of ``root`` and all its descendants now."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                parents[int(entry)] = stat
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in parents and pid not in found:
            found[pid] = parents[pid][2]
            todo += [p for p, (ppid, _s, _t) in parents.items() if ppid == pid]
    return found


class Watch:
    """Every process seen under ``root`` from now until ``stop()``."""

    def __init__(self, root: int, every_s: float = 0.005):
        self.root, self.seen, self.commands = root, {}, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)
        self._thread.start()

    def _run(self, every_s: float) -> None:
        while not self._stop.is_set():
            for pid, start in tree(self.root).items():
                if (pid, start) not in self.seen:
                    self.seen[(pid, start)] = True
                    self.commands[(pid, start)] = cmdline(pid)
            time.sleep(every_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def drivers(self) -> int:
        """How many sandboxed children run under ``root`` now: distinct ``_driver.py`` command lines (each names
        its own folder; with a PID namespace the driver and the init it forks share one)."""
        return len({line for line in map(cmdline, tree(self.root)) if "_driver.py" in line})

    def left(self) -> list[tuple[int, str]]:
        """(pid, command line) of every process seen that still runs."""
        alive = []
        for (pid, start), command in self.commands.items():
            stat = _stat(pid)
            if stat is not None and stat[2] == start and stat[1] != "Z":
                alive.append((pid, command))
        return alive

    def wait_gone(self, timeout_s: float = 5.0) -> list[tuple[int, str]]:
        """Wait until no process seen still runs; what still runs after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while (left := self.left()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return left
