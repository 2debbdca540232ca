"""How a grading process ends when it is told to: signals, and children that die with their parent.

* ``on_signals()``: while it holds, SIGINT, SIGTERM and SIGHUP raise ``Interrupted`` in the
  main thread (SIGINT as the usual ``KeyboardInterrupt``, of which ``Interrupted`` is a kind), so
  every ``finally`` of the grading runs: children are killed, temporary folders removed, a partial
  report written. A signal that comes while that runs is not let to cut it short.
* ``die_with_parent(signum)``: the kernel sends ``signum`` to this process when the thread that
  started it dies (``PR_SET_PDEATHSIG``), SIGKILL of the whole grader included; used between fork
  and exec of every sandboxed child and in batch workers.
* ``exit_status(exc)``: the conventional status of a process ended by a signal, 128 + its number.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading

SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None)
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


class Interrupted(KeyboardInterrupt):
    """The grading was stopped by signal ``signum``; ``partial`` is the report of what ran (when known)."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.partial = None

    def __reduce__(self):  # sent back from a worker process
        return type(self), (self.signum,)


def signal_of(exc: BaseException) -> int:
    """The signal that raised ``exc`` (SIGINT for a plain ``KeyboardInterrupt``)."""
    return getattr(exc, "signum", signal.SIGINT)


def exit_status(exc: BaseException) -> int:
    """128 + the signal number: 130 after SIGINT, 143 after SIGTERM, 129 after SIGHUP."""
    return 128 + int(signal_of(exc))


_fired: list[int] = []
_depth = 0
_pending: list[int] = []


def _handler(signum, _frame):  # noqa: ANN001
    _fired.append(signum)
    if len(_fired) == 1:
        if _depth:
            _pending.append(signum)  # raised when the step that must not be cut in two is done
        else:
            raise Interrupted(signum)


def install() -> None:
    """For the rest of this process (a worker): SIGINT, SIGTERM and SIGHUP raise ``Interrupted``, once."""
    _fired.clear()
    for s in SIGNALS:
        signal.signal(s, _handler)


@contextlib.contextmanager
def on_signals():
    """SIGINT, SIGTERM and SIGHUP raise ``Interrupted`` (the first one only; later ones are noted and dropped
    so that the clean-up they interrupt finishes). Only in the main thread; elsewhere it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {s: signal.getsignal(s) for s in SIGNALS}
    install()
    try:
        yield
    finally:
        for s, old in before.items():
            signal.signal(s, old)


@contextlib.contextmanager
def deferred():
    """A step a signal must not cut in two (start a child *and* note its pid): under ``on_signals``, a
    signal that comes meanwhile raises ``Interrupted`` when the step is done."""
    global _depth
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0 and _pending:
            raise Interrupted(_pending.pop())


def die_with_parent(signum: int = signal.SIGKILL, parent: int | None = None) -> None:
    """Have the kernel send ``signum`` to this process when its parent thread dies (Linux; nothing elsewhere).

    ``parent``: the pid the caller expects as its parent; if that one is already gone (it died before this
    call), exit at once. Async-signal-safe enough for between fork and exec: two system calls.
    """
    if _libc is None:
        return
    if _libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if parent is not None and os.getppid() != parent:
        os._exit(128 + int(signum))
