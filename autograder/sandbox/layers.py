"""Confinement layers: one small unit per kernel mechanism that jails a child.

Each layer knows

* ``name`` and the ``guards`` it contributes to: ``filesystem``, ``process``
  or ``network`` (``resources`` and ``identity`` are extra, not required);
* ``unavailable(plan)``: ``None`` when it can be applied on this machine, else
  the reason (checked at run time, once per grader process);
* ``prepare(plan)``: work done in the grader before the fork (open the
  Landlock ruleset, say), so that
* ``apply(plan)``: runs in the forked child between fork and exec, does only
  system calls, and raises when the layer cannot be put in force: a child
  whose layer failed never runs student code.

The layers run in the order of ``LAYERS`` (resource limits, then the uid drop,
then the namespaces and the disk quota, Landlock, and seccomp last).
Whether the layers really hold is verified by ``confinement.self_test``,
which attacks a jailed child the way student code would.
"""
from __future__ import annotations

import ctypes
import errno
import functools
import importlib.util
import os
import resource
import socket
import stat
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

LINUX = sys.platform.startswith("linux")
_libc = ctypes.CDLL(None, use_errno=True) if LINUX else None

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER = 0x00020000, 0x08000000, 0x10000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
#: site-packages the child may import from besides the standard library (read-only)
CHILD_PACKAGES = ("numpy", "tqdm")


@dataclass
class Plan:
    """What one child gets: its private folder, limits, identity; filled by ``prepare``."""

    workdir: Path
    memory_mb: int
    cpu_s: int
    file_mb: int
    max_processes: int
    #: the most the child may hold on disk (the ``disk_quota`` layer's tmpfs), MB
    disk_mb: int = 64
    #: (uid, gid) to become when the grader runs as root (None: keep the grader's)
    drop_to: tuple[int, int] | None = None
    #: per-layer state from ``prepare`` (e.g. the Landlock ruleset)
    state: dict = field(default_factory=dict)


def _unshare(flags: int) -> None:
    if _libc.unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare({flags:#x}): {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    if _libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(), flags,
                   data and data.encode()) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _try_in_fork(action) -> str | None:
    """Run ``action()`` in a throw-away forked child: None if it worked, else the error text."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(read)
        try:
            action()
            os.write(write, b"")
            os._exit(0)
        except BaseException as exc:  # noqa: BLE001
            os.write(write, str(exc).encode()[:500])
            os._exit(1)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        message = f.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    return None if os.waitstatus_to_exitcode(status) == 0 else (message or f"status {status}")


class Layer:
    """One confinement mechanism."""

    name = ""
    guards: tuple[str, ...] = ()
    #: what the instructor can do when the layer is missing
    remedy = ""

    def unavailable(self, plan: Plan) -> str | None:
        return None

    def prepare(self, plan: Plan) -> None:
        pass

    def apply(self, plan: Plan) -> None:
        raise NotImplementedError


class ResourceLimits(Layer):
    """CPU time, address space, file size, no core files, and a cap on processes."""

    name, guards = "rlimits", ("resources",)

    def apply(self, plan: Plan) -> None:
        mem = plan.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_CPU, (plan.cpu_s, plan.cpu_s))  # SIGKILL: a handler cannot stretch it
        size = plan.file_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (plan.max_processes, plan.max_processes))


class UidDrop(Layer):
    """As root: become an unprivileged user (``$MLP_SANDBOX_USER``, default ``nobody``)."""

    name, guards = "uid_drop", ("identity",)
    remedy = "install the grader and its Python where the sandbox user can read them (e.g. under /opt)"

    def unavailable(self, plan: Plan) -> str | None:
        if os.geteuid() != 0:
            return "the grader is not root (the child keeps the grader's uid)"
        if plan.drop_to is None:
            return "the sandbox user cannot run this Python with numpy"
        return None

    def apply(self, plan: Plan) -> None:
        os.setgroups([])
        os.setgid(plan.drop_to[1])
        os.setuid(plan.drop_to[0])
        # a uid change makes the process non-dumpable, which makes its /proc/self root's: the user
        # namespace layer could not write its own maps (exec restores the usual flag anyway)
        _libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE


class UserNamespace(Layer):
    """A new user namespace: the child holds no capability over anything outside it.

    Needed for the other namespaces when the grader is not root; the child's
    uid and gid map to themselves.
    """

    name, guards = "user_namespace", ("identity",)
    remedy = ("allow unprivileged user namespaces (Ubuntu >= 23.10: sysctl "
              "kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile for this Python)")

    def unavailable(self, plan: Plan) -> str | None:
        if not LINUX:
            return "not Linux"
        return _try_in_fork(lambda: self.apply(plan))

    def apply(self, plan: Plan, flags: int = 0) -> None:
        uid, gid = os.geteuid(), os.getegid()
        _unshare(CLONE_NEWUSER | flags)
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")


class _Namespace(Layer):
    """A namespace made inside the user namespace (which lets it be made without root)."""

    remedy = UserNamespace.remedy
    flags = 0

    def unavailable(self, plan: Plan) -> str | None:
        if not LINUX:
            return "not Linux"
        return _try_in_fork(lambda: (UserNamespace().apply(plan), self.apply(plan)))

    def apply(self, plan: Plan) -> None:
        _unshare(self.flags)


class PidNamespace(_Namespace):
    """A new PID and IPC namespace: the child sees no other process and nothing outlives it.

    The driver forks once inside it; its first child is the namespace's init,
    so when that process ends (or is killed) the kernel kills all it started.
    """

    name, guards, flags = "pid_namespace", ("process",), CLONE_NEWPID | CLONE_NEWIPC


class NetworkNamespace(_Namespace):
    """A new network namespace: no interface but a loopback that is down; no network at all."""

    name, guards, flags = "network_namespace", ("network",), CLONE_NEWNET


class _Handoff:
    """A socket pair over which the child hands the grader a descriptor of its tmpfs (before exec).

    ``close()`` (by ``confinement.popen`` once the child has exec'd) keeps the descriptor
    received, if any, in ``folder``: the grader reads the child's outputs through it after
    the child is gone, when nothing else can reach that tmpfs.
    """

    def __init__(self):
        self.grader, self.child = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.folder: int | None = None

    def close(self) -> None:
        if self.grader.fileno() < 0:
            return
        self.child.close()
        self.grader.setblocking(False)
        try:
            _, fds, _, _ = socket.recv_fds(self.grader, 1, 1)
            self.folder = fds[0] if fds else None
        except OSError:
            self.folder = None
        self.grader.close()


class DiskQuota(Layer):
    """The child's folder is a tmpfs of ``[sandbox] disk_mb`` in its own mount namespace: a write past it fails
    with ENOSPC, whatever the number of files.

    What the grader put in the folder (``mlp.py``, the driver, the inputs) is bound into the tmpfs
    read-only and is not counted; ``out/`` is new and writable. A second user namespace made on top
    locks these mounts (the child cannot unmount the tmpfs or make the inputs writable; Landlock
    forbids it too). The grader reads ``out/`` afterwards through a descriptor of the tmpfs the child
    handed it before exec (``collect``). Without it, only each file is bounded (``RLIMIT_FSIZE``).
    """

    name, guards = "disk_quota", ("disk",)
    remedy = UserNamespace.remedy
    WRITABLE = ("out",)

    def unavailable(self, plan: Plan) -> str | None:
        if not LINUX:
            return "not Linux"
        from . import scratch  # noqa: PLC0415 - named for this process: a later grading sweeps it if killed here

        with scratch.folder() as tmp:
            trial = Plan(Path(tmp), plan.memory_mb, plan.cpu_s, plan.file_mb, plan.max_processes, 1)
            return _try_in_fork(lambda: (UserNamespace().apply(trial), self.mount(trial)))

    def prepare(self, plan: Plan) -> None:
        plan.state[self.name] = _Handoff()

    def apply(self, plan: Plan) -> None:
        folder = self.mount(plan)
        handoff = plan.state.get(self.name)
        if handoff is not None:
            socket.send_fds(handoff.child, [b"d"], [folder])
        os.close(folder)
        UserNamespace().apply(plan, CLONE_NEWNS)  # mounts inherited by a less privileged namespace are locked

    def mount(self, plan: Plan) -> int:
        """Mount the tmpfs over ``plan.workdir`` (its content bound in), enter it; a descriptor of it."""
        target = str(plan.workdir)
        _unshare(CLONE_NEWNS)
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        original = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={int(plan.disk_mb)}m,mode=0700")
            for name in os.listdir(original):
                inside = os.path.join(target, name)
                kind = os.stat(name, dir_fd=original, follow_symlinks=False).st_mode
                if name in self.WRITABLE and stat.S_ISDIR(kind):
                    os.mkdir(inside, 0o700)
                    continue
                if stat.S_ISDIR(kind):
                    os.mkdir(inside, 0o700)
                elif stat.S_ISREG(kind):
                    os.close(os.open(inside, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
                else:
                    continue
                _mount(f"/proc/self/fd/{original}/{name}", inside, None, MS_BIND | MS_REC)
                _mount(None, inside, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        finally:
            os.close(original)
        os.chdir(target)
        return os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def collect(plan: Plan, into: Path, limit: int) -> bool:
    """Copy the regular files of the child's tmpfs ``out/`` into ``into`` (at most ``limit`` bytes in all).

    Called by the grader after the child ended, when ``disk_quota`` was in force (else a no-op).
    True when the child had filled its quota.
    """
    handoff = plan.state.get(DiskQuota.name)
    if handoff is None or handoff.folder is None:
        return False
    folder, handoff.folder = handoff.folder, None
    try:
        space = os.fstatvfs(folder)
        full = space.f_bavail * space.f_frsize < 64 * 1024
        out = os.open("out", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
    except OSError:
        os.close(folder)
        return False
    try:
        left = limit
        for name in os.listdir(out):
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=out)
            except OSError:
                continue
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode) or info.st_size > left or "/" in name:
                    continue
                left -= info.st_size
                with os.fdopen(os.dup(fd), "rb") as src, open(into / name, "xb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
            except OSError:
                continue
            finally:
                os.close(fd)
    finally:
        os.close(out)
        os.close(folder)
    return full


def _landlock():
    try:
        import landlockpy  # noqa: PLC0415 - optional outside Linux
    except ImportError:
        return None
    return landlockpy


def _landlock_abi() -> int:
    module = _landlock()
    return module.abi_version() if module is not None and LINUX else 0


def _landlock_missing(abi: int, kernel: str) -> str | None:
    """Why Landlock ABI ``abi`` (first in Linux ``kernel``) cannot be used here, or None."""
    if not LINUX:
        return "not Linux"
    if _landlock() is None:
        return "the landlockpy package is not installed"
    found = _landlock_abi()
    return None if found >= abi else f"Landlock ABI {found} here (need >= {abi}, Linux >= {kernel})"


@functools.lru_cache(maxsize=1)
def readable_paths() -> tuple[Path, ...]:
    """What the child may read (never write): the interpreter, its standard library, numpy, system libraries."""
    paths = {Path(p) for p in ("/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/local/lib", "/lib", "/lib64",
                               "/lib32", "/etc/ld.so.cache", "/sys/devices/system/cpu")}
    paths.add(Path(os.path.realpath(sys.executable)))
    base = Path(sys.base_prefix)
    paths.update({base / "lib", base / "lib64", Path(sysconfig.get_paths()["stdlib"]).resolve()})
    if sys.prefix != sys.base_prefix:
        paths.add(Path(sys.prefix) / "pyvenv.cfg")
    for name in CHILD_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            pkg = Path(next(iter(spec.submodule_search_locations))).resolve()
            paths.add(pkg)
            paths.update(pkg.parent.glob(f"{name}.libs"))
    return tuple(sorted(p for p in paths if p.exists()))


@functools.lru_cache(maxsize=1)
def site_dirs() -> tuple[Path, ...]:
    """Folders the import system must list (names only) to find numpy."""
    return tuple(sorted({Path(p).resolve() for p in sys.path if p.endswith(("site-packages", "dist-packages"))
                         and Path(p).is_dir()}))


class LandlockFilesystem(Layer):
    """Landlock: read-only access to ``readable_paths()``; read-write only to the child's own folder.

    No home, cache, data, submissions, reports, grader sources or ``/proc``;
    no symlinks, devices or cross-folder links even inside the folder.
    """

    name, guards = "landlock_filesystem", ("filesystem",)
    remedy = "use a Linux kernel >= 5.13 with Landlock enabled (lsm=...,landlock) and `pip install landlockpy`"

    def unavailable(self, plan: Plan) -> str | None:
        return _landlock_missing(3, "6.2")

    def prepare(self, plan: Plan) -> None:
        ll = _landlock()
        fs = ll.AccessFS
        read = fs.READ_FILE | fs.READ_DIR | fs.EXECUTE
        own = (fs.READ_FILE | fs.READ_DIR | fs.WRITE_FILE | fs.TRUNCATE | fs.MAKE_REG | fs.MAKE_DIR
               | fs.REMOVE_FILE | fs.REMOVE_DIR | fs.MAKE_FIFO | fs.MAKE_SOCK)
        ruleset = ll.Ruleset(handled_net=ll.AccessNet.NONE)
        for path in readable_paths():
            ruleset.allow_path(path, read if path.is_dir() else read & ~fs.READ_DIR)
        for path in site_dirs():
            ruleset.allow_path(path, fs.READ_DIR)
        ruleset.allow_path("/dev/null", fs.READ_FILE | fs.WRITE_FILE)
        ruleset.allow_path("/dev/urandom", fs.READ_FILE)
        plan.state[self.name] = ruleset
        plan.state[self.name + ".own"] = own

    def apply(self, plan: Plan) -> None:
        ruleset = plan.state[self.name]
        ruleset.allow_path(plan.workdir, plan.state[self.name + ".own"])  # here: the disk quota's tmpfs, when that layer is in force
        ruleset.restrict()


class LandlockNetwork(Layer):
    """Landlock: no TCP bind or connect (Linux >= 6.7), even where namespaces are not allowed."""

    name, guards = "landlock_network", ("network",)
    remedy = "use a Linux kernel >= 6.7 with Landlock"

    def unavailable(self, plan: Plan) -> str | None:
        return _landlock_missing(4, "6.7")

    def prepare(self, plan: Plan) -> None:
        ll = _landlock()
        net = ll.AccessNet.BIND_TCP | ll.AccessNet.CONNECT_TCP
        plan.state[self.name] = ll.Ruleset(handled_fs=ll.AccessFS.NONE, handled_net=net)

    def apply(self, plan: Plan) -> None:
        plan.state[self.name].restrict()


class LandlockScope(Layer):
    """Landlock scoping (Linux >= 6.12): no signal to, and no abstract unix socket of, any process outside.

    Landlock also forbids ptrace of processes outside the domain (every ABI).
    """

    name, guards = "landlock_scope", ("process",)
    remedy = "use a Linux kernel >= 6.12 with Landlock"

    def unavailable(self, plan: Plan) -> str | None:
        return _landlock_missing(6, "6.12")

    def prepare(self, plan: Plan) -> None:
        ll = _landlock()
        plan.state[self.name] = ll.Ruleset(handled_fs=ll.AccessFS.NONE, handled_net=ll.AccessNet.NONE,
                                           scoped=ll.Scope.SIGNAL | ll.Scope.ABSTRACT_UNIX_SOCKET)

    def apply(self, plan: Plan) -> None:
        plan.state[self.name].restrict()


class SeccompSockets(Layer):
    """seccomp: no socket(2) of any kind, and no io_uring (which could open one behind seccomp's back).

    Neither the namespaces nor Landlock (ABI <= 7) stop a connect() to a pathname unix
    socket of the machine (Docker's, D-Bus's, X11's), which can be a way out of any
    sandbox. Socket pairs, connected to nothing else, stay allowed.
    """

    name, guards = "seccomp_sockets", ("network",)
    remedy = "install libseccomp (apt-get install libseccomp2) and pyseccomp (pip install pyseccomp)"
    DENIED = ("socket", "io_uring_setup", "io_uring_enter", "io_uring_register")

    def unavailable(self, plan: Plan) -> str | None:
        if not LINUX:
            return "seccomp is Linux-only"
        try:
            import pyseccomp  # noqa: F401, PLC0415 - loads the system's libseccomp
        except (ImportError, RuntimeError, OSError) as exc:
            return f"pyseccomp unusable here ({exc})"
        return None

    def prepare(self, plan: Plan) -> None:
        import errno  # noqa: PLC0415

        import pyseccomp  # noqa: PLC0415

        rules = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
        for call in self.DENIED:
            rules.add_rule(pyseccomp.ERRNO(errno.EACCES), call)
        plan.state[self.name] = rules

    def apply(self, plan: Plan) -> None:
        plan.state[self.name].load()  # sets no_new_privs first (libseccomp's default)


#: the layers, in the order they are applied in the child
LAYERS: tuple[Layer, ...] = (ResourceLimits(), UidDrop(), UserNamespace(), DiskQuota(), PidNamespace(),
                             NetworkNamespace(), LandlockFilesystem(), LandlockNetwork(), LandlockScope(), SeccompSockets())

#: what must hold for ``--isolation strict``
GUARDS = ("filesystem", "process", "network")
