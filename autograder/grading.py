"""``grade(path) -> Result``: run the pipeline on one submission.

Scores are computed here, in the grader's process, from the verdicts of the
checks; nothing a child process prints, writes or exits with enters a score
except the numeric arrays the checks asked it for.
"""
from __future__ import annotations

import contextvars
import hashlib
import os
import secrets
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from . import data, i18n
from .checks import PIPELINE, Check, Context, GraderError, Verdict
from .checks.base import failure
from .checks.interface import IMPORTING, parse_module
from .config import load_config
from .feedback import say_once
from .interruption import deferred
from .sandbox.confinement import require
from .sandbox.runner import CpuMeter, cancel_on, one_blas_thread
from .submission import Refused, Submission, max_bytes, open_submission

STUDENT_FILE = "mlp.py"
PUBLIC_SEED = 20261123
#: a check not run because a contract function it calls hung in an earlier check
NOT_RUN = i18n.N_("not run: {function} never returned in {check} (infinite loop?); fix that first")
#: a check not run (or not finished) because the grading was stopped (Ctrl-C, SIGTERM)
INTERRUPTED = i18n.N_("not run: the grading was interrupted")


@dataclass
class CheckResult:
    """The outcome of one check: points earned out of ``max_score`` and why."""

    name: str
    title: str
    score: float
    max_score: float
    status: str  # passed | failed | error (the grader's own fault)
    message: str
    visibility: str
    seconds: float

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class Result:
    """A graded submission."""

    submission: str
    suite: str
    checks: list[CheckResult] = field(default_factory=list)
    #: notes for the student (e.g. why nothing ran)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: the confinement student code ran under (``Isolation.to_dict()``): for the instructor, never shown to students
    isolation: dict[str, Any] = field(default_factory=dict)
    #: the language of the titles and messages (``autograder.i18n``); the reports are written in it too
    lang: str = i18n.SOURCE
    #: why the submission could not be graded at all (a symbolic link, a FIFO, too large, missing), else ""
    refused: str = ""
    #: sha256 of the graded mlp.py's bytes ("" when refused)
    sha256: str = ""

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.checks), 4)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_score for c in self.checks), 4)

    @property
    def grader_error(self) -> bool:
        return any(c.status == "error" for c in self.checks)

    def __getitem__(self, name: str) -> CheckResult:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(score=self.score, max_score=self.max_score)
        return out


def find_module(path: str | Path, config: dict[str, Any] | None = None) -> Submission:
    """The student's mlp.py at ``path`` (the file, or the shallowest one in the folder), read once, safely.

    Raises ``Refused`` (a symbolic link, not a regular file, too large, none found): see ``autograder.submission``.
    """
    return open_submission(path, max_bytes(config or load_config()))


def _secret(config: dict[str, Any]) -> str:
    """The grading secret: config, then $MLP_GRADER_SECRET, then one kept in the user cache.

    The kept one, ``<cache>/grader-secret``, is used only when it is a regular
    file (opened without following a symlink) owned by this user, with no
    permission for group or others, holding 64 hex digits. Anything else there
    is not used: it is replaced, with a warning, by a fresh secret written
    atomically with mode 0600 (in a folder created with mode 0700).
    """
    if config["grader"]["secret"]:
        return str(config["grader"]["secret"])
    if os.environ.get("MLP_GRADER_SECRET"):
        return os.environ["MLP_GRADER_SECRET"]
    return _kept_secret(data.cache_dir() / "grader-secret")


_SECRET_DIGITS = frozenset("0123456789abcdef")


def _read_kept_secret(path: Path) -> tuple[str | None, str | None]:
    """(secret, None) when ``path`` holds a trustworthy secret, (None, problem) when not, (None, None) when absent."""
    import errno
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, ("is a symbolic link" if exc.errno == errno.ELOOP else f"cannot be read ({exc.strerror or exc})")
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "is not a regular file"
        if info.st_uid != os.geteuid():
            return None, f"belongs to uid {info.st_uid}, not to this user (uid {os.geteuid()})"
        if info.st_mode & 0o077:
            return None, f"has mode {stat.S_IMODE(info.st_mode):04o}: group or others may read or write it"
        raw = os.read(fd, 80)
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    finally:
        os.close(fd)
    value = raw[:-1] if raw.endswith(b"\n") else raw
    text = value.decode("ascii", "replace")
    if len(text) != 64 or not set(text) <= _SECRET_DIGITS:
        return None, "does not hold 64 hexadecimal digits"
    return text, None


def _write_kept_secret(path: Path, value: str, replace: bool) -> None:
    """Write ``value`` to a new mode-0600 file beside ``path``, then move it into place atomically.

    ``replace`` False links it in only if ``path`` does not exist yet (``FileExistsError``
    when another process made one meanwhile); True replaces what is there (a symlink
    itself, never its target). Raises ``OSError``.
    """
    data.make_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(value)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path, follow_symlinks=False)
    finally:
        tmp.unlink(missing_ok=True)


def _kept_secret(path: Path) -> str:
    """The secret kept at ``path``, verified before use; made, or replaced with a warning, when missing or bad."""
    import warnings

    fresh = secrets.token_hex(32)
    for _ in range(3):
        value, problem = _read_kept_secret(path)
        if value is not None:
            return value
        try:
            _write_kept_secret(path, fresh, replace=problem is not None)
        except FileExistsError:
            continue  # another grader made one just now: check it and use it
        except OSError as exc:
            warnings.warn(f"the grading secret {path} {problem or 'is missing'} and could not be "
                          f"{'replaced' if problem else 'made'} "
                          f"({exc.strerror or exc}): this run uses a fresh secret of its own; set "
                          f"MLP_GRADER_SECRET or [grader] secret for repeatable grading", stacklevel=3)
            return fresh
        if problem is not None:
            warnings.warn(f"the grading secret {path} {problem}: not used; replaced it with a fresh one "
                          f"(mode 0600), so hidden inputs differ from earlier gradings on this machine",
                          stacklevel=3)
        value, _ = _read_kept_secret(path)
        return value or fresh  # another grader's replacement, if one landed just after ours
    return fresh


def grading_seed(module_bytes: bytes, config: dict[str, Any], public: bool) -> int:
    """Public runs use a fixed seed; graded runs one derived from the secret and the submission."""
    if public:
        return PUBLIC_SEED
    digest = hashlib.sha256(_secret(config).encode() + hashlib.sha256(module_bytes).digest()).digest()
    return int.from_bytes(digest[:8], "little")


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in patterns)


def select(suite: str, only: Iterable[str] | None = None, skip: Iterable[str] = ()) -> list[Check]:
    """The checks of ``suite`` ('graded' or 'public'): only those named (or prefixed) in ``only``, minus ``skip``."""
    checks = [c for c in PIPELINE if (suite == "graded" or c.public) and not _matches(c.name, skip)]
    if only:
        checks = [c for c in checks if _matches(c.name, list(only))]
    return checks


def _run_one(check: Check, ctx: Context, points: float) -> CheckResult:
    started = time.monotonic()
    ctx.current = check.name
    status = "failed"
    try:
        verdict = check.run(ctx)
    except GraderError as exc:
        message = i18n._("the grader could not run this check: {error}").format(error=exc)
        verdict, status = Verdict.failed(message), "error"
    except Exception as exc:  # noqa: BLE001 - a grader bug must not lose the report
        where = traceback.extract_tb(exc.__traceback__)[-1]
        message = i18n._("internal grader error ({error} at {place}); please report it").format(
            error=f"{type(exc).__name__}: {exc}", place=f"{Path(where.filename).name}:{where.lineno}")
        verdict, status = Verdict.failed(message), "error"
    fraction = min(1.0, max(0.0, float(verdict.fraction)))
    if status != "error":
        status = "passed" if fraction >= 1.0 else "failed"
    return CheckResult(check.name, check.heading(), round(points * fraction, 4), float(points), status,
                       verdict.message, check.visibility, round(time.monotonic() - started, 3))


def _unrun(check: Check, points: dict, reason: str) -> CheckResult:
    """The result of a check that did not run: no points, ``reason`` as its message."""
    return CheckResult(check.name, check.heading(), 0.0, float(points.get(check.name, 0)), "failed", reason,
                       check.visibility, 0.0)


def _import_failure(ctx: Context) -> str | None:
    """The message every check gets when mlp.py cannot even be imported (tried once, shared)."""
    tree, problem = parse_module(ctx.source)
    if tree is None:
        return problem
    outcome = ctx.probe("import", {}, share="import")
    if outcome.ok or outcome.status == "not_implemented":
        return None
    message = failure(outcome, i18n._(IMPORTING)).message
    if outcome.status == "timeout":
        message += i18n._(". Code at the top level of mlp.py runs on import: keep experiments under "
                          "`if __name__ == \"__main__\":`")
    return message


class _Beside:
    """A check run in a thread beside the loop (a second child process), on its own copy of the context.

    The report is the one-at-a-time report: the check is stopped as soon as a function it calls
    hangs elsewhere (it is then "not run"). Checks marked ``beside`` set their own limits, which
    earlier timeouts do not lower, so their outcome is the same in either lane.
    The thread is awaited on an event it sets when done, never with ``Thread.join``: on Python 3.11 a
    join interrupted by a signal marks the thread stopped, and a second join returns while it still runs.
    """

    def __init__(self, check: Check, ctx: Context, points: float, lanes: list[_Beside]):
        self.check, self.cancel, self.done, self.outcome = check, threading.Event(), threading.Event(), None
        self.ctx = replace(ctx, current=check.name, timeouts=[], hung={}, memo=dict(ctx.memo))
        # in a copy of this context: the thread speaks the grading's language (i18n's context variable)
        self.thread = threading.Thread(target=contextvars.copy_context().run, args=(self._run, points),
                                       name=check.name, daemon=True)
        with deferred():  # started and listed in ``lanes``, or neither
            self.thread.start()
            lanes.append(self)

    def _run(self, points: float) -> None:
        try:
            with cancel_on(self.cancel):
                self.outcome = _run_one(self.check, self.ctx, points)
        finally:
            self.done.set()

    def wait(self) -> None:
        while not self.done.wait(0.1):
            pass

    def result(self, ctx: Context) -> CheckResult | None:
        """Its result as if run here, merging what it recorded into ``ctx``; None: run it again."""
        self.wait()
        if self.cancel.is_set() or self.outcome is None:
            return None
        ctx.timeouts += self.ctx.timeouts
        for name, where in self.ctx.hung.items():
            ctx.hung.setdefault(name, where)
        return self.outcome


def _start_beside(checks: list[Check], ctx: Context, points: dict, meter: CpuMeter,
                  lanes: list[_Beside]) -> dict[str, _Beside]:
    """Start the checks marked ``beside`` now when ``[sandbox] parallel`` allows (``auto``: a core sat idle).

    Only while this process's BLAS is held at one thread (``grade`` holds it): forking beside a
    multithreaded BLAS call can hang. A lane that cannot start is run in order instead. Each lane is
    added to ``lanes`` as soon as it runs (for the caller to stop, whatever happens next).
    """
    mode = ctx.config["sandbox"].get("parallel", "auto")  # (checked when the config is loaded)
    marked = []  # only checks at the end: nothing after them may depend on what they record in ctx
    for check in reversed(checks):
        if not getattr(check, "beside", False):
            break
        marked.append(check)
    if not marked or mode is False or (mode == "auto" and meter.idle_cores() < 0.75):
        return {}
    started = {}
    for check in marked:
        try:
            lane = _Beside(check, ctx, float(points.get(check.name, 0)), lanes)
        except RuntimeError:  # no thread to be had (a process limit): this one runs in order
            continue
        started[check.name] = lane
    return started


def _stop_beside(lanes: list[_Beside]) -> None:
    """Stop what still runs beside (the loop ended early, or was interrupted) and wait until it has: its child
    killed and its folder removed."""
    for lane in lanes:
        if not lane.done.is_set():
            lane.cancel.set()
    for lane in lanes:
        lane.wait()


def grade(path: str | Path, config: dict[str, Any] | str | Path | None = None, suite: str = "graded",
          only: Iterable[str] | None = None,
          on_check: Callable[[CheckResult], None] | None = None, lang: str | None = None) -> Result:
    """Grade the submission at ``path`` (a folder holding mlp.py, or the file).

    Args:
        config: a config dict, a TOML file, or None for the defaults.
        suite: 'graded' (hidden random inputs, MNIST accuracy) or 'public'
            (the fixed cases students run before submitting).
        only: check names or prefixes ('gradient') to run; default all.
        on_check: called with each CheckResult as it finishes (progress).
        lang: the language of titles and messages, 'en' or 'ko'; default
            ``[report] lang`` of the config, else ``$MLP_GRADER_LANG``, else
            the language the release folder names (``mlp-grade.toml``: the
            Korean release says ko), else the grader's locale (``LANG``
            ``ko_KR.UTF-8``: Korean; see ``autograder.i18n.choose``).
            Scores do not depend on it.
    Raises:
        IsolationError: ``[sandbox] isolation = "strict"`` and this machine
            cannot confine student code fully (nothing was run).
        ValueError: ``lang`` (or the config) names a language the grader does not speak.
        KeyboardInterrupt: the grading was interrupted (Ctrl-C, or a signal under
            ``interruption.on_signals``); every child it started is gone, and its
            ``partial`` attribute holds the Result so far (checks not run say so).
    """
    if not isinstance(config, dict):
        config = load_config(config)
    with i18n.language(i18n.choose(lang, config, release=i18n.release_language(path))) as chosen:
        try:
            result = _grade(path, config, suite, only, on_check)
        except KeyboardInterrupt as exc:
            if getattr(exc, "partial", None) is not None:
                exc.partial.lang = chosen
            raise
        result.lang = chosen
    return result


def _grade(path: str | Path, config: dict[str, Any], suite: str, only: Iterable[str] | None,
           on_check: Callable[[CheckResult], None] | None) -> Result:
    started = time.monotonic()
    checks = select(suite, only, config["grader"]["skip"])
    points = config["points"]
    try:
        jail = require(config["sandbox"]["isolation"])
    except KeyboardInterrupt as exc:  # interrupted while the confinement was being tested: nothing ran
        exc.partial = Result(submission=str(path), suite=suite,
                             checks=[_unrun(c, points, i18n._(INTERRUPTED)) for c in checks])
        raise
    result = Result(submission=str(path), suite=suite, isolation=jail.to_dict())
    try:
        module = find_module(path, config)
    except Refused as refusal:
        result.refused = refusal.message()
        result.checks = [_unrun(c, points, result.refused) for c in checks]
        say_once(result.checks)
        result.seconds = round(time.monotonic() - started, 3)
        return result
    result.sha256 = module.sha256
    ctx = Context(source=module.source, config=config,
                  seed=grading_seed(module.source, config, public=suite == "public"), public=suite == "public")
    meter = CpuMeter()
    # one BLAS thread in this process while it grades: a fork (every probe) while another thread of the
    # process (a lane beside, another grading) is inside a multithreaded BLAS call can hang for ever
    release, lanes = None, []
    try:
        release = one_blas_thread()
        broken = _import_failure(ctx)
        beside = _start_beside(checks, ctx, points, meter, lanes) if broken is None and release is not None else {}
        for check in checks:
            blocked = next((f for f in check.calls if f in ctx.hung), None)
            if broken is None and blocked is not None:
                reason = i18n._(NOT_RUN).format(function=blocked, check=ctx.hung[blocked])
            else:
                reason = broken
            lane = beside.pop(check.name, None)
            if reason is not None:
                if lane is not None:
                    lane.cancel.set()
                outcome = _unrun(check, points, reason)
            else:
                outcome = (lane and lane.result(ctx)) or _run_one(check, ctx, float(points.get(check.name, 0)))
            for other in beside.values():  # one that calls a function which hung here will not run: stop it
                if any(f in ctx.hung for f in other.check.calls):
                    other.cancel.set()
            result.checks.append(outcome)
            if on_check is not None:
                on_check(outcome)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM / SIGHUP under interruption.on_signals
        _stop_beside(lanes)
        done = {c.name for c in result.checks}
        finished = {lane.check.name: lane.outcome for lane in lanes if lane.outcome and not lane.cancel.is_set()}
        result.checks += [finished[c.name] for c in checks if c.name in finished and c.name not in done]
        say_once(result.checks)  # (the note of the checks not run is said in each)
        done |= set(finished)
        result.checks += [_unrun(c, points, i18n._(INTERRUPTED)) for c in checks if c.name not in done]
        result.checks.sort(key=lambda r: [c.name for c in checks].index(r.name))
        result.seconds = round(time.monotonic() - started, 3)
        exc.partial = result  # what ran, for the caller to write; the interruption goes on
        raise
    finally:
        _stop_beside(lanes)
        if release is not None:
            release()
    say_once(result.checks)
    result.seconds = round(time.monotonic() - started, 3)
    return result
