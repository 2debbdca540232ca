"""Parent side of the sandbox: run one probe of the student's module in a jailed child.

Every call gets a fresh child process with

* the confinement of ``confinement.isolation()`` (see ``layers.py``): Landlock
  (read-only interpreter and numpy, read-write only its own folder, no TCP,
  no signals or abstract sockets outside), seccomp (no socket at all), its own
  user, PID, IPC and network namespaces, resource limits (CPU time among them),
  and as root an unprivileged uid;
* a wall-clock timeout enforced here; the child's process group (and with a
  PID namespace everything it started) is killed afterwards, and orphans that
  escaped into another session are reaped (this process is a child subreaper);
* a scrubbed environment (no tokens, no data paths) and a private temporary
  working folder holding only the student's ``mlp.py``, the driver and the inputs.

Inputs go in as ``.npy`` files; outputs come back as ``.npy`` files that are
validated before numpy parses them (regular files only, size, header, dtype)
and loaded with ``allow_pickle=False``. Nothing the child writes is
unpickled, executed or trusted beyond "these are the numbers it returned".
"""
from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..i18n import N_, _, retranslate
from ..interruption import deferred
from . import confinement, layers, scratch

CHILD_SCRIPT = Path(__file__).with_name("child.py")
CONTRACT_FUNCTIONS = frozenset({"make_labels_onehot", "train_mlp_neuralnet", "predict", "MLP.forward", "MLP.backward",
                                "SoftmaxCrossEntropy.forward", "SoftmaxCrossEntropy.compute_grad"})
MAX_RESULT_BYTES = 256 * 1024 * 1024
MAX_LOG_BYTES = 8 * 1024 * 1024
_PR_SET_CHILD_SUBREAPER = 36

#: what the driver (child.py) reports for a broken contract. It runs in the sandbox without the grader's
#: catalogues, so it writes English; the message is said again here in the grading's language (values as sent)
CHILD_MESSAGES = (
    N_("{what} returned None (did you forget a return statement?)"),
    N_("{what} returned a dict without the key(s) {keys}"),
    N_("{what} returned {value}, which is not an array ({error})"),
    N_("{what} returned {value}; expected numbers, got dtype {dtype}"),
    N_("{what} returned {value}; expected a dict with keys 'W1', 'b1', 'W2', 'b2'"),
    N_("MLP instances have no dict attribute 'params'"),
    N_("SoftmaxCrossEntropy.forward returned an array of shape {shape}; expected one float"),
    N_("SoftmaxCrossEntropy.compute_grad never called model.backward"),
    N_("train_mlp_neuralnet should call loss_fn.compute_grad, not model.backward directly"),
    N_("loss_fn.forward got data {data} and labels {labels}; expected (N, D) and (N,)"),
    N_("train_mlp_neuralnet never called loss_fn.forward"),
    N_("mlp.py does not define {name}"),
    N_("{name} is missing"),
)
#: the driver's words inside those messages (``describe()`` of a returned value, what returned it)
CHILD_VALUES = {
    "what": (N_("the upstream_grad compute_grad passed to backward"),
             N_("the batch_sz compute_grad passed to backward")),
    "value": (N_("ndarray of shape {shape} and dtype {dtype}"), N_("dict with keys {keys}")),
}
CHILD_EXIT = N_("exit code {code}")
#: what a child that ran out of time is told: CPU time (an infinite loop) or wall-clock time (it slept or
#: blocked), with the contract function that was running when known (the class report looks for them)
CPU_TIMEOUT_IN = N_("did not return within {seconds} s of CPU time (infinite loop in {function}?)")
CPU_TIMEOUT = N_("did not return within {seconds} s of CPU time (infinite loop?)")
WALL_TIMEOUT_IN = N_("did not return within {seconds} s (infinite loop in {function}?)")
WALL_TIMEOUT = N_("did not return within {seconds} s (infinite loop?)")
TIMEOUTS = (CPU_TIMEOUT_IN, CPU_TIMEOUT, WALL_TIMEOUT_IN, WALL_TIMEOUT)
#: a child that filled its disk quota (the disk_quota layer): its writes failed with ENOSPC
DISK_FULL = N_("wrote more than its {size} MB of disk: writes failed with 'No space left on device'")
OUT_OF_MEMORY = N_("ran out of memory (limit {size} MB)")


@dataclass(frozen=True)
class Limits:
    """Resources one child may use."""

    wall_s: float = 20.0
    #: CPU seconds of all its threads together (whole seconds: RLIMIT_CPU); None: the wall-clock
    #: limit times the threads, plus 5
    cpu_s: int | None = None
    memory_mb: int = 2048
    threads: int = 1
    max_processes: int = 256
    output_mb: int = 8
    #: what it may hold on disk (the disk_quota layer)
    disk_mb: int = 64

    @property
    def cpu_seconds(self) -> int:
        if self.cpu_s is not None:
            return max(1, int(self.cpu_s))
        return int(self.wall_s * max(1, self.threads) + 5)


@dataclass
class Outcome:
    """What came back from one child run.

    ``status``: ``ok`` | ``not_implemented`` | ``error`` | ``contract`` |
    ``exit`` | ``timeout`` | ``memory`` | ``crash`` | ``garbage`` |
    ``cancelled`` (stopped by the grader through ``cancel_on``; never a verdict).
    ``arrays``: plain float64/int64 ndarrays the child returned (only for ok).
    ``message``: one plain sentence about a failure; ``where``: the line of
    the student's file it came from, when known.
    """

    status: str
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    message: str = ""
    where: str = ""
    log_tail: str = ""
    seconds: float = 0.0
    #: CPU time of the child (user + system, its waited-for children included)
    cpu_seconds: float = 0.0
    #: on a timeout, the contract function that was running (e.g. 'MLP.forward'), when known
    hung: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# ----------------------------------------------------------------------------- safe reading


class GarbageError(ValueError):
    """The child's output is not a well-formed numeric .npy file."""


def open_child_file(path: Path):
    """Open a file the child left in its folder for reading: a regular file, never through a symlink.

    Without confinement (another OS) the child could have replaced it by a
    link to a private file of the grader's machine.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(fd)
        raise GarbageError(f"{path.name} is not a plain file")
    return os.fdopen(fd, "rb")


def load_npy(path: Path) -> np.ndarray:
    """Load a numeric .npy written by the child, refusing anything else.

    The header is parsed first and the data size is checked against the file
    size, so a forged header cannot make numpy allocate or read past it.
    Returns float64 for floats, int64 for integers and booleans.
    """
    with open_child_file(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_RESULT_BYTES:
            raise GarbageError(f"{path.name} is {size} bytes")
        try:
            version = np.lib.format.read_magic(f)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}[version]
            shape, fortran, dtype = read_header(f, max_header_size=10000)
        except Exception as exc:  # noqa: BLE001
            raise GarbageError(f"{path.name}: {exc}") from None
        if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None:
            raise GarbageError(f"{path.name} holds dtype {dtype}, not numbers")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count < 0 or f.tell() + count * dtype.itemsize != size:
            raise GarbageError(f"{path.name}: header does not match its size")
        data = np.fromfile(f, dtype=dtype, count=count)
    arr = data.reshape(shape, order="F" if fortran else "C")
    return arr.astype(np.float64 if dtype.kind == "f" else np.int64)


# ----------------------------------------------------------------------------- process control


_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
_subreaper_set = False
_live: set[int] = set()
#: held while a child is started and registered in ``_live``, and while strays are reaped: with probes
#: running in several threads, one thread's reaping must never take another's fresh child for a stray
_spawn_lock = threading.Lock()
_local = threading.local()


@contextlib.contextmanager
def cancel_on(event: threading.Event):
    """In this thread, a child still running when ``event`` is set is killed and its probe returns ``cancelled``."""
    before = getattr(_local, "cancel", None)
    _local.cancel = event
    try:
        yield event
    finally:
        _local.cancel = before


def _reap(proc: subprocess.Popen, block: bool = False) -> float | None:
    """Reap ``proc`` if it has ended (wait for it when ``block``): the CPU seconds it and the children
    it waited for used (the PID-namespace init waits for the probe); None while it still runs."""
    pid, status, usage = os.wait4(proc.pid, 0 if block else os.WNOHANG)
    if pid == 0:
        return None
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def _wait(proc: subprocess.Popen, timeout: float, cancel: threading.Event | None) -> tuple[str, float | None]:
    """('exited', CPU seconds), ('timeout', None) or ('cancelled', None), noticed at once.

    ``Popen.wait(timeout)`` polls with sleeps of up to 50 ms, which cost ~25 ms per probe; a pidfd
    (Linux >= 5.3) wakes up as soon as the child exits. Reaps the child only when it exited.
    """
    deadline = time.monotonic() + timeout
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        pidfd = None
    try:
        while True:
            cpu = _reap(proc)
            if cpu is not None:
                return "exited", cpu
            if cancel is not None and cancel.is_set():
                return "cancelled", None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout", None
            step = remaining if cancel is None else min(remaining, 0.05)
            if pidfd is None:
                time.sleep(min(step, 0.01))
            else:
                poller = select.poll()
                poller.register(pidfd, select.POLLIN)
                poller.poll(step * 1000)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _cpu_ticks() -> tuple[int, int]:
    """(idle, total) jiffies of the machine from /proc/stat; (0, 0) where there is none.

    Time waiting for the disk is not idle here: a grading that waits on the disk gains nothing from
    a second child that writes too (the driver notes every contract call in a file).
    """
    try:
        with open("/proc/stat", "rb") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return fields[3], sum(fields[:8])


class CpuMeter:
    """How many cores sat idle between its creation and ``idle_cores()`` (Linux; 0 elsewhere)."""

    def __init__(self) -> None:
        self.start = _cpu_ticks()

    def idle_cores(self) -> float:
        (idle0, total0), (idle1, total1) = self.start, _cpu_ticks()
        try:
            usable = len(os.sched_getaffinity(0))
        except AttributeError:
            usable = os.cpu_count() or 1
        if total1 <= total0:
            return 0.0
        return min(usable, (os.cpu_count() or 1) * (idle1 - idle0) / (total1 - total0))


def _openblas_calls() -> list[tuple]:
    """(set, get) thread-count functions of every OpenBLAS loaded in this process (Linux)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split(None, 5)[5].strip() for line in f
                     if "openblas" in line.lower() and len(line.split()) > 5}
    except OSError:
        return []
    found = []
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("openblas", "scipy_openblas"):
            for suffix in ("", "64_"):
                setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                if setter is not None and getter is not None:
                    found.append((setter, getter))
    return found


def set_blas_threads(count: int) -> int | None:
    """Make this process's OpenBLAS use ``count`` threads; the count before, or None when that cannot be done."""
    calls = _openblas_calls()
    if not calls:
        return None
    before = max(int(get()) for _set, get in calls)
    for setter, get in calls:
        setter(ctypes.c_int(count))
        if int(get()) != count:
            return None
    return before


_blas_lock = threading.Lock()
_blas_held: list = []  # [threads before] while some grading holds BLAS to one thread
_blas_holders = 0


def one_blas_thread():
    """Keep this process's OpenBLAS on one thread until the returned ``release()`` (uses nest); None: cannot.

    Starting a child forks this process, and OpenBLAS's fork handler stops its worker threads: when
    another thread is inside a multithreaded BLAS call at that moment, the fork never returns (seen
    with a check run beside the others). On one thread no call hands work to the workers.
    """
    global _blas_holders
    with _blas_lock:
        if _blas_holders == 0:
            before = set_blas_threads(1)
            if before is None:
                return None
            _blas_held[:] = [before]
        _blas_holders += 1
    done = threading.Event()

    def release() -> None:
        global _blas_holders
        with _blas_lock:
            if done.is_set():
                return
            done.set()
            _blas_holders -= 1
            if _blas_holders == 0:
                set_blas_threads(_blas_held[0])

    return release


def _become_subreaper() -> None:
    global _subreaper_set
    if _libc is not None and not _subreaper_set:
        _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        _subreaper_set = True


def _children_of_me() -> list[tuple[int, int]]:
    """(pid, pgid) of every process whose parent is this process."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            found.append((int(entry), int(fields[2])))
    return found


def _kill_group_and_orphans(pgid: int) -> None:
    """SIGKILL the child's group, then every re-parented orphan from it."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if not sys.platform.startswith("linux"):
        return
    with _spawn_lock:
        _reap_strays()


def _reap_strays() -> None:
    mine = os.getpgrp()
    for _attempt in range(50):
        strays = [(pid, grp) for pid, grp in _children_of_me() if pid not in _live and grp != mine]
        if not strays:
            return
        for pid, _grp in strays:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError, PermissionError):
                pass
        time.sleep(0.01)


# ----------------------------------------------------------------------------- one run


def run_probe(module: bytes | Path, probe: str, inputs: dict[str, np.ndarray], options: dict,
              limits: Limits = Limits()) -> Outcome:
    """Run ``probe`` on the student's ``module`` in a fresh jailed child.

    Args:
        module: the student's ``mlp.py`` as the grader read it (``autograder.submission``), written
            into the child's folder (a Path, for tests, is copied; never executed in place).
        probe: a probe name of ``autograder/sandbox/child.py``.
        inputs: arrays handed to the probe (they are visible to student code:
            never put expected values here).
        options: JSON-able scalars for the probe.
        limits: resources of the child.
    """
    _become_subreaper()
    started = time.monotonic()
    jail = confinement.isolation()
    workdir = None
    try:
        with deferred():  # an interruption here must find the folder named, to remove it
            workdir = scratch.mkdtemp()
        (workdir / "in").mkdir()
        (workdir / "out").mkdir()
        if isinstance(module, bytes):
            (workdir / "mlp.py").write_bytes(module)
        else:
            shutil.copyfile(module, workdir / "mlp.py")
        shutil.copyfile(CHILD_SCRIPT, workdir / "_driver.py")
        for name, arr in inputs.items():
            np.save(workdir / "in" / f"{name}.npy", np.array(arr, order="C"), allow_pickle=False)
        (workdir / "request.json").write_text(json.dumps({"probe": probe, "options": options}))
        if jail.drop_to is not None:
            for path in [workdir, *workdir.rglob("*")]:
                os.chown(path, *jail.drop_to)
        outcome = _spawn(workdir, limits, jail)
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    outcome.seconds = time.monotonic() - started
    return outcome


def _spawn(workdir: Path, limits: Limits, jail: confinement.Isolation) -> Outcome:
    log_path = workdir / "output.log"
    out_mb = max(limits.output_mb, MAX_RESULT_BYTES // (1024 * 1024))
    plan = confinement.plan_for(workdir, limits.memory_mb, limits.cpu_seconds, out_mb, limits.max_processes, jail.drop_to,
                                limits.disk_mb)
    argv = [sys.executable, "-I", "-B", str(workdir / "_driver.py"), str(workdir)]
    if "pid_namespace" in jail.in_force:
        argv.append("--init")
    proc = None
    try:
        # a signal (Ctrl-C, SIGTERM) must not come between the start and the noting of the child
        with open(log_path, "wb") as log, _spawn_lock, deferred():
            proc = confinement.popen(argv, plan, jail.in_force, cwd=workdir,
                                     env=confinement.child_env(workdir, limits.threads),
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            _live.add(proc.pid)
        ended, cpu = _wait(proc, limits.wall_s, getattr(_local, "cancel", None))
    finally:
        disk_full = False
        if proc is not None:
            _kill_group_and_orphans(proc.pid)
            if proc.returncode is None:
                _reap(proc, block=True)
            _live.discard(proc.pid)
            disk_full = layers.collect(plan, workdir / "out", limits.disk_mb << 20)
    tail = _log_tail(log_path)
    if ended == "cancelled":
        return Outcome("cancelled", message=_("stopped by the grader"), log_tail=tail)
    out_of_cpu = (cpu is not None and cpu >= limits.cpu_seconds - 0.5
                  and proc.returncode in (-signal.SIGXCPU, -signal.SIGKILL))
    if ended == "timeout" or out_of_cpu:
        hung = _hung_function(workdir)
        if out_of_cpu:
            template, seconds = (CPU_TIMEOUT_IN if hung else CPU_TIMEOUT), limits.cpu_seconds
        else:
            template, seconds = (WALL_TIMEOUT_IN if hung else WALL_TIMEOUT), limits.wall_s
        return Outcome("timeout", message=_(template).format(seconds=f"{seconds:g}", function=hung), log_tail=tail,
                       hung=hung, cpu_seconds=cpu or 0.0)
    outcome = _read_outcome(workdir, proc.returncode, limits, tail)
    if disk_full and outcome.status != "ok":
        outcome.message = _(DISK_FULL).format(size=limits.disk_mb)
    outcome.cpu_seconds = cpu or 0.0
    return outcome


def _hung_function(workdir: Path) -> str:
    """The contract function the driver saw running when time ran out ('' if unknown or not a known name)."""
    try:
        with open_child_file(workdir / "out" / "calling") as f:
            name = f.read(100).decode().strip()
    except (OSError, UnicodeDecodeError, GarbageError):
        return ""
    return name if name in CONTRACT_FUNCTIONS else ""


def _log_tail(path: Path, limit: int = 2000) -> str:
    try:
        with open_child_file(path) as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - limit))
            return f.read(limit).decode("utf-8", "replace")
    except (OSError, GarbageError):
        return ""


def _read_outcome(workdir: Path, returncode: int, limits: Limits, tail: str) -> Outcome:
    result_file = workdir / "out" / "result.json"
    if returncode == -signal.SIGXFSZ:
        return Outcome("crash", message=_("wrote more than {size} MB of output").format(size=limits.output_mb),
                       log_tail=tail)
    if not result_file.exists():
        if "MemoryError" in tail or "Cannot allocate memory" in tail:
            return Outcome("memory", message=_(OUT_OF_MEMORY).format(size=limits.memory_mb), log_tail=tail)
        how = (_("the process was killed by signal {signal} before returning (sys.exit / os._exit / crash?)")
               if returncode < 0 else
               _("the process exited with code {code} before returning (sys.exit / os._exit / crash?)"))
        return Outcome("crash", message=how.format(signal=-returncode, code=returncode), log_tail=tail)
    try:
        with open_child_file(result_file) as f:
            result = json.loads(f.read(100_001)[:100_000])
        status = str(result.get("status", ""))
    except (ValueError, OSError, AttributeError):
        return Outcome("garbage", message=_("returned an unreadable result"), log_tail=tail)
    if status != "ok":
        known = {"not_implemented", "error", "contract", "exit", "memory", "internal"}
        message = _clean(result.get("message", ""))
        if status == "error":
            message = _("raised {type}: {message}").format(type=_clean(result.get("type", "an exception"), 80),
                                                           message=message)
        elif status == "exit":
            message = _("called sys.exit ({detail})").format(detail=retranslate(message, (CHILD_EXIT,)))
        elif status == "internal":
            message = _("failed in the grader's driver, outside mlp.py: {type}: {message}").format(
                type=_clean(result.get("type", ""), 80), message=message)
        elif status == "memory":
            message = _(OUT_OF_MEMORY).format(size=limits.memory_mb)
        elif status == "contract":
            message = retranslate(message, CHILD_MESSAGES, CHILD_VALUES)
        if result.get("stage") == "import" and status != "not_implemented":
            message = _("importing mlp.py failed: {message}").format(message=message)
        return Outcome(status if status in known else "garbage", message=message,
                       where=_clean(result.get("where", ""), 300), log_tail=tail)
    arrays = {}
    try:
        for path in sorted((workdir / "out").glob("*.npy")):
            arrays[path.stem] = load_npy(path)
    except (GarbageError, OSError, ValueError) as exc:
        return Outcome("garbage", message=_("returned malformed arrays ({error})").format(error=_clean(str(exc), 200)),
                       log_tail=tail)
    return Outcome("ok", arrays=arrays, log_tail=tail)


def _clean(value, limit: int = 500) -> str:
    """A child-supplied string made safe to show: printable, one line, bounded."""
    text = value if isinstance(value, str) else repr(value)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text[:limit]
