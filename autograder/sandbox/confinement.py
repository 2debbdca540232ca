"""Which confinement holds on this machine, and how a jailed child is started.

``isolation()`` decides once per grader process: every layer of
``layers.LAYERS`` says whether it can be applied here, then ``self_test``
starts a jailed child that attacks its parent (reads and writes a file outside
its folder, reads the parent's ``/proc``, signals it, reaches a TCP and a UDP
port, checks its PID namespace) and the guards are named *verified* only for
what the kernel actually refused. The outcome goes into every report for the
instructor (``Isolation.to_dict``), never into student feedback.

``--isolation strict`` (or ``[sandbox] isolation = "strict"``) refuses to run
student code unless the filesystem, process and network guards are all
verified; the default ``best`` runs with what holds and warns the instructor
when that is less.
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..interruption import die_with_parent
from . import layers as L
from . import scratch

PROBE_SCRIPT = Path(__file__).with_name("attack_probe.py")
MODES = ("best", "strict")
#: attacks of ``attack_probe.py`` that must all be refused for each guard to be verified
GUARD_ATTACKS = {
    "filesystem": ("read_outside", "write_outside", "create_outside"),
    "process": ("read_parent_environ", "list_processes", "signal_parent", "own_pid_namespace"),
    "network": ("tcp_connect", "udp_send", "unix_connect"),
    "disk": ("fill_disk",),
}
#: the disk quota of the self-test's probe, MB (it tries to write twice as much)
SELF_TEST_DISK_MB = 2


class IsolationError(RuntimeError):
    """Strict isolation was asked for and does not hold here."""


@dataclass
class Isolation:
    """The confinement every child of this grader process gets."""

    #: layer name -> None when in force, else why it is not
    layers: dict[str, str | None] = field(default_factory=dict)
    #: guard -> verified by the self-test
    guards: dict[str, bool] = field(default_factory=dict)
    #: attack -> refused, as measured
    attacks: dict[str, bool] = field(default_factory=dict)
    drop_to: tuple[int, int] | None = None

    @property
    def in_force(self) -> list[str]:
        return [name for name, reason in self.layers.items() if reason is None]

    @property
    def level(self) -> str:
        """``strict`` (every guard verified), ``partial`` or ``none``."""
        held = [g for g in L.GUARDS if self.guards.get(g)]
        if len(held) == len(L.GUARDS):
            return "strict"
        return "partial" if held or any(name != "rlimits" for name in self.in_force) else "none"

    def missing(self) -> list[str]:
        """One line per unverified guard: what failed and how to get it."""
        lines = []
        for guard in L.GUARDS:
            if self.guards.get(guard):
                continue
            open_attacks = [a for a in GUARD_ATTACKS[guard] if not self.attacks.get(a)]
            remedies = sorted({layer.remedy for layer in L.LAYERS
                               if guard in layer.guards and self.layers.get(layer.name) is not None and layer.remedy})
            why = "; ".join(f"{layer.name}: {self.layers[layer.name]}" for layer in L.LAYERS
                            if guard in layer.guards and self.layers.get(layer.name) is not None)
            lines.append(f"{guard} not confined (not refused: {', '.join(open_attacks) or 'untested'}"
                         f"{'; ' + why if why else ''}){' - to fix: ' + ' / '.join(remedies) if remedies else ''}")
        return lines

    def summary(self) -> str:
        """One line for the instructor."""
        text = f"isolation {self.level}: {', '.join(self.in_force) or 'no layer'}"
        text = text if self.level == "strict" else text + ". " + ". ".join(self.missing())
        return text if self.guards.get("disk") else text + ". " + self.disk_bound()

    def disk_bound(self) -> str:
        """What bounds a child's disk when its quota does not hold (not needed for strict)."""
        why = self.layers.get("disk_quota") or "the self-test's probe was not stopped"
        return (f"disk not bounded by a quota ({why}): only each file is, by RLIMIT_FSIZE (8 MB), and the "
                f"child's folder is deleted after each run - to fix: {L.DiskQuota.remedy}")

    def to_dict(self) -> dict:
        return {"level": self.level, "summary": self.summary(), "guards": dict(self.guards),
                "layers": {k: v or "in force" for k, v in self.layers.items()}, "platform": sys.platform}


# ----------------------------------------------------------------------------- starting a jailed child


def plan_for(workdir: Path, memory_mb: int, cpu_s: int, file_mb: int, max_processes: int,
             drop_to: tuple[int, int] | None, disk_mb: int = 64) -> L.Plan:
    """A Plan with the process allowance counted as RLIMIT_NPROC does (all tasks of the uid)."""
    if drop_to is None and os.geteuid() != 0 and L.LINUX:
        max_processes += _tasks_of(os.getuid())
    return L.Plan(workdir=workdir, memory_mb=memory_mb, cpu_s=cpu_s, file_mb=file_mb,
                  max_processes=max_processes, disk_mb=disk_mb, drop_to=drop_to)


def popen(argv: list[str], plan: L.Plan, in_force: list[str], **kwargs) -> subprocess.Popen:
    """Start ``argv`` with every layer named in ``in_force`` applied between fork and exec.

    A layer that fails to apply makes Popen raise (SubprocessError): the
    command never runs with less confinement than announced. Last, after any uid change (which
    would clear it), the child is set to be killed when the thread that starts it dies (SIGKILL of
    the grader included). Between fork and exec run only system calls on objects made before the
    fork (``prepare``): no import, no logging, no BLAS, nothing that takes a lock another thread of
    the grader may have held at the fork.
    """
    chosen = [layer for layer in L.LAYERS if layer.name in in_force]
    for layer in chosen:
        layer.prepare(plan)
    parent = os.getpid()

    def apply() -> None:
        for layer in chosen:
            layer.apply(plan)
        die_with_parent(signal.SIGKILL, parent)

    try:
        return subprocess.Popen(argv, preexec_fn=apply if os.name == "posix" else None, start_new_session=True,
                                close_fds=True, **kwargs)
    finally:
        for state in plan.state.values():
            if hasattr(state, "close"):
                state.close()


def _tasks_of(uid: int) -> int:
    """How many tasks (threads included, as RLIMIT_NPROC counts them) ``uid`` runs now."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as f:
                    status = dict(line.split(":", 1) for line in f if ":" in line)
                if int(status["Uid"].split()[0]) == uid:
                    count += int(status["Threads"])
            except (OSError, KeyError, ValueError):
                continue
    return count


def child_env(workdir: Path, threads: int) -> dict[str, str]:
    """The whole environment of a child: nothing inherited but CPU-kernel and locale hints."""
    env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LANG", "LC_ALL") if k in os.environ}
    n = str(max(1, threads))
    env.update({
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(workdir), "TMPDIR": str(workdir),
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "TQDM_DISABLE": "1",
        "OMP_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n, "MKL_NUM_THREADS": n,
    })
    return env


# ----------------------------------------------------------------------------- detection


def _sandbox_user() -> tuple[int, int] | None:
    """As root: (uid, gid) of ``$MLP_SANDBOX_USER`` (default nobody) when it can run this Python with numpy."""
    if not L.LINUX or os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(os.environ.get("MLP_SANDBOX_USER", "nobody"))
    except KeyError:
        return None
    drop_to = (entry.pw_uid, entry.pw_gid)
    with scratch.folder() as tmp:
        plan = plan_for(Path(tmp), 2048, 60, 8, 64, drop_to)
        try:
            proc = popen([sys.executable, "-I", "-c", "import numpy"], plan, ["rlimits", "uid_drop"], cwd="/",
                         env=child_env(Path(tmp), 1), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                usable = proc.wait(timeout=60) == 0
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        except (OSError, subprocess.SubprocessError):
            usable = False
    return drop_to if usable else None


def self_test(in_force: list[str], drop_to: tuple[int, int] | None) -> dict[str, bool]:
    """Attack refused -> True, for a child jailed with ``in_force`` (see attack_probe.py)."""
    # outside: in /tmp, so that the unix socket's path stays under its 108-byte limit whatever $TMPDIR is
    with scratch.folder(dir="/tmp") as outside, \
            scratch.folder() as workdir, \
            socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, \
            socket.socket(socket.AF_UNIX) as unix:
        canary = Path(outside) / "canary"
        canary.write_text("private")
        os.chmod(outside, 0o777)
        os.chmod(canary, 0o666)  # open to anyone by permissions: only the confinement may refuse
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(1)
        udp.bind(("127.0.0.1", tcp.getsockname()[1]))
        unix_path = str(Path(outside) / "socket")
        unix.bind(unix_path)
        os.chmod(unix_path, 0o777)
        unix.listen(1)
        if drop_to is not None:
            os.chown(workdir, *drop_to)
        plan = plan_for(Path(workdir), 1024, 20, 8, 64, drop_to, SELF_TEST_DISK_MB)
        script = shutil.copy(PROBE_SCRIPT, workdir)
        try:
            proc = popen([sys.executable, "-I", "-B", script, str(canary), str(os.getpid()),
                          str(tcp.getsockname()[1]), unix_path, str(SELF_TEST_DISK_MB)], plan, in_force, cwd=workdir,
                         env=child_env(Path(workdir), 1), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError):
            return {}
        try:
            out, _ = proc.communicate(timeout=60)
            attacks = json.loads(out.decode().strip().splitlines()[-1])
        except (subprocess.SubprocessError, ValueError, IndexError):
            return {}  # untested: no guard is verified
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait()
            L.collect(plan, Path(workdir), 0)  # closes the quota's descriptor, copies nothing
        if canary.read_text() != "private" or Path(str(canary) + ".new").exists():
            attacks.update(write_outside=False, create_outside=False)
        return {k: bool(v) for k, v in attacks.items()}


_cached: Isolation | None = None


def isolation() -> Isolation:
    """The confinement of this grader process's children (detected and verified once)."""
    global _cached
    if _cached is None:
        scratch.sweep()  # what graders killed earlier (SIGKILL) left behind
        drop_to = _sandbox_user()
        with scratch.folder() as tmp:
            plan = plan_for(Path(tmp), 1024, 20, 8, 64, drop_to)
            reasons = {layer.name: layer.unavailable(plan) for layer in L.LAYERS}
        result = Isolation(layers=reasons, drop_to=drop_to)
        if L.LINUX:
            result.attacks = self_test(result.in_force, drop_to)
        result.guards = {g: bool(result.attacks) and all(result.attacks.get(a) for a in attacks)
                         for g, attacks in GUARD_ATTACKS.items()}
        _cached = result
    return _cached


def require(mode: str) -> Isolation:
    """The isolation in force; raises IsolationError when ``mode`` is 'strict' and it is weaker."""
    if mode not in MODES:
        raise ValueError(f"isolation must be one of {', '.join(MODES)}, not {mode!r}")
    found = isolation()
    if mode == "strict" and found.level != "strict":
        raise IsolationError("--isolation strict: refusing to run student code. " + ". ".join(found.missing()))
    return found
