"""``mlp-grade batch``: grade a whole class in parallel, resumably.

    mlp-grade batch SUBMISSIONS_DIR --jobs 2 --out OUT [--force] [--config FILE] [--dask ADDRESS]

SUBMISSIONS_DIR holds one submission per subfolder: nbgrader's
``submitted/<student>/mlp_backprop/mlp.py`` (pass ``submitted/``) or a flat
``<student>/mlp.py``. Each student's Result is written atomically to
``OUT/results/<student>.json`` together with the sha256 of the graded file,
so a killed run resumes where it stopped (a changed submission is graded
again; ``--force`` regrades all). Ctrl-C, SIGTERM or SIGHUP stops it within
seconds: every worker's grading is interrupted (its children killed, its
folders removed), the results written so far stay, ``grades.csv`` is written
for them, and the exit status is 128 + the signal's number; the same command
later grades the rest. ``OUT/grades.csv`` has one row per student,
one column per check, the total and, for a submission refused unread
(``autograder.submission``: a symbolic link, a FIFO, too large), why. Each student is graded in a fresh
worker process; a submission that breaks its worker costs only its own row.

With ``--dask ADDRESS`` (``tcp://host:8786``, or a scheduler file ``*.json``)
the submissions are graded on an existing Dask cluster instead (``pip install
'mlp-backprop-grader[dask]'``, the package installed on every worker): each
task sends one ``mlp.py`` to a worker, which grades it with the same
``grade()`` and confinement in a private temporary folder; the results come
back here and are written, resumed and tabulated as above. The grading secret
is resolved here and sent with the config, so every worker draws the same
hidden inputs; each worker reads MNIST from its own ``$MLP_DATA_DIR`` or cache.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import copy
import csv
import hashlib
import io
import json
import os
import re
import signal
import sys
import time
from pathlib import Path

from ..config import ConfigError, load_config
from ..grading import find_module, grade, select
from ..interruption import deferred, die_with_parent, exit_status, install, on_signals, signal_of
from ..sandbox import scratch
from ..submission import Refused
from ..sandbox.confinement import IsolationError, require

SAFE = re.compile(r"[^A-Za-z0-9_.@-]+")
#: the hash recorded for a submission that was refused unread (a symbolic link, a FIFO, too large, none)
REFUSED = "refused"


def discover(root: Path) -> dict[str, Path]:
    """Student id -> submission folder, one per subfolder of ``root`` (sorted)."""
    return {SAFE.sub("_", p.name): p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")}


def file_hash(folder: Path, config: dict | None = None) -> str:
    """sha256 of the student's mlp.py, read safely; "refused" when it cannot be graded (see ``submission``)."""
    try:
        return find_module(folder, config).sha256
    except Refused:
        return REFUSED


def write_atomic(path: Path, text: str, newline: str | None = None) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it: readers see the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8", newline=newline)
    os.replace(tmp, path)


def _grade_one(student: str, folder: str, config: dict) -> dict:
    """Runs in a worker process."""
    result = grade(folder, config=config).to_dict()
    result["student"] = student
    result["sha256"] = result["sha256"] or REFUSED
    return result


def _grade_sent(student: str, source: bytes, config: dict) -> dict:
    """Runs in a Dask worker: grade the ``mlp.py`` sent, in a private temporary folder of that machine."""
    with scratch.folder() as tmp:
        folder = Path(tmp) / SAFE.sub("_", student)
        folder.mkdir()
        (folder / "mlp.py").write_bytes(source)
        result = grade(str(folder), config=config).to_dict()
    result["student"] = student
    result["sha256"] = hashlib.sha256(source).hexdigest()
    return result


def _worker_start(parent: int) -> None:
    """In each pool worker: interrupted by SIGINT, SIGTERM and SIGHUP (the grading cleans up, the worker
    ends), and sent SIGTERM when the batch process dies, even by SIGKILL."""
    install()
    die_with_parent(signal.SIGTERM, parent)


def _stop_workers(pool: cf.ProcessPoolExecutor, futures: list[cf.Future], grace_s: float = 4.0) -> None:
    """Cancel what has not started and interrupt every worker of ``pool`` (SIGTERM: its grading kills its
    children and removes its folders), also those the pool starts meanwhile for a call already queued,
    until all is done; SIGKILL what is still there after ``grace_s``."""
    for future in futures:
        future.cancel()
    signalled, deadline = set(), time.monotonic() + grace_s
    while time.monotonic() < deadline:
        # (the executor has no public list of its processes)
        alive = [w for w in list((pool._processes or {}).values()) if w.is_alive()]
        if not alive and all(f.done() for f in futures):
            return
        for worker in alive:
            if worker.pid not in signalled:
                signalled.add(worker.pid)
                with contextlib.suppress(OSError, ValueError):
                    worker.terminate()
        time.sleep(0.02)
    for worker in list((pool._processes or {}).values()):
        with contextlib.suppress(OSError, ValueError):
            worker.kill()


def _graded_locally(todo: dict[str, Path], config: dict, jobs: int):
    """(student, result dict or the exception) as each finishes, in a local process pool; stopped, its
    workers interrupted and their gradings cleaned up, when the batch is (Ctrl-C, SIGTERM)."""
    pool = cf.ProcessPoolExecutor(max_workers=max(1, jobs), max_tasks_per_child=1, initializer=_worker_start,
                                  initargs=(os.getpid(),))
    futures: dict[cf.Future, str] = {}
    try:
        for student, folder in todo.items():
            futures[pool.submit(_grade_one, student, str(folder), config)] = student
        for future in cf.as_completed(futures):
            try:
                yield futures[future], future.result()
            except Exception as exc:  # noqa: BLE001 - a dead worker costs only its own student
                yield futures[future], exc
    except BaseException:  # KeyboardInterrupt (interruption.Interrupted), or the caller stopped early
        _stop_workers(pool, list(futures))
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _graded_on_dask(todo: dict[str, Path], config: dict, address: str):
    """(student, result dict or the exception) as each finishes, on the Dask cluster at ``address``."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise SystemExit("mlp-grade batch --dask needs Dask: pip install 'mlp-backprop-grader[dask]'") from None
    from ..grading import _secret

    config = copy.deepcopy(config)  # the workers' copy, with this machine's secret
    config["grader"]["secret"] = _secret(config)
    target = {"scheduler_file": address} if address.endswith(".json") else {"address": address}
    with Client(**target, set_as_default=False) as client, _cancelled_on_exit(client) as futures:
        local = {}
        for student, folder in todo.items():
            try:
                module = find_module(folder, config)
            except Refused:  # nothing to run: graded here (the refusal), no student code involved
                local[student] = folder
                continue
            futures[client.submit(_grade_sent, student, module.source, config, pure=False,
                                  key=f"mlp-grade-{student}-{os.getpid()}-{time.time_ns()}")] = student
        for student, folder in local.items():
            yield student, _grade_one(student, str(folder), config)
        # as_completed finds a client's event loop by default from the default client, which this is not
        for future in as_completed(futures, loop=client.loop):
            student = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - a lost task costs only its own student
                yield student, exc
                continue
            result["submission"] = str(todo[student])
            yield student, result


@contextlib.contextmanager
def _cancelled_on_exit(client):
    """A dict for the batch's futures; those not finished are cancelled when the batch stops early."""
    futures: dict = {}
    try:
        yield futures
    except BaseException:
        with contextlib.suppress(Exception):
            client.cancel(list(futures))
        raise


def _crashed(student: str, folder: Path, config: dict, why: str) -> dict:
    """The row of a student whose worker died: every check failed, said plainly."""
    checks = [{"name": c.name, "title": c.title, "score": 0.0, "max_score": float(config["points"][c.name]),
               "status": "failed", "message": f"grading stopped: {why}", "visibility": c.visibility, "seconds": 0.0}
              for c in select("graded", skip=config["grader"]["skip"])]
    return {"student": student, "submission": str(folder), "suite": "graded", "checks": checks, "notes": [why],
            "seconds": 0.0, "score": 0.0, "max_score": sum(c["max_score"] for c in checks),
            "sha256": file_hash(folder, config)}


def is_done(path: Path, folder: Path, config: dict | None = None) -> bool:
    try:
        return json.loads(path.read_text()).get("sha256") == file_hash(folder, config)
    except (OSError, ValueError):
        return False


def write_csv(out: Path, students: list[str], config: dict) -> Path:
    names = [c.name for c in select("graded", skip=config["grader"]["skip"])]
    rows = []
    for student in students:
        try:
            result = json.loads((out / "results" / f"{student}.json").read_text())
        except (OSError, ValueError):
            continue
        scores = {c["name"]: c["score"] for c in result["checks"]}
        rows.append([student, *[scores.get(n, "") for n in names], result["score"], result.get("refused", "")])
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["student", *names, "total", "not_gradable"])
    writer.writerows(rows)
    path = out / "grades.csv"
    write_atomic(path, table.getvalue(), newline="")
    return path


class Progress:
    """graded / below full marks / ETA on stderr (tqdm when installed)."""

    def __init__(self, total: int):
        self.total, self.done, self.below_full, self.started = total, 0, 0, time.monotonic()
        try:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=total, unit="student", desc="grading")
        except ImportError:
            self.bar = None

    def update(self, score: float, max_score: float) -> None:
        self.done += 1
        self.below_full += score < max_score
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.below_full} below full marks")
            self.bar.update(1)
        else:
            rate = (time.monotonic() - self.started) / self.done
            sys.stderr.write(f"\r{self.done}/{self.total} graded, {self.below_full} below full marks, "
                             f"ETA {rate * (self.total - self.done):.0f} s")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        else:
            sys.stderr.write("\n")


def run_batch(root: Path, out: Path, jobs: int = 2, force: bool = False, config: dict | None = None,
              dask: str | None = None) -> dict:
    """Grade every submission under ``root`` (on the Dask cluster at ``dask`` when given, else in a local
    process pool); return counts {'graded', 'skipped', 'crashed'}."""
    config = config or load_config()
    jail = require(config["sandbox"]["isolation"])  # refuse before any student code runs
    if jail.level != "strict":
        print(f"mlp-grade batch: warning for the instructor: {jail.summary()}", file=sys.stderr)
    students = discover(root)
    todo = {s: f for s, f in students.items() if force or not is_done(out / "results" / f"{s}.json", f, config)}
    counts = {"graded": 0, "skipped": len(students) - len(todo), "crashed": 0}
    progress = Progress(len(todo))
    graded = _graded_on_dask(todo, config, dask) if dask else _graded_locally(todo, config, jobs)
    try:
        for student, result in graded:
            if isinstance(result, IsolationError):  # a worker that cannot confine: not graded, rerun later
                print(f"mlp-grade batch: {student} not graded: {result}", file=sys.stderr)
                continue
            if isinstance(result, BaseException):
                result = _crashed(student, todo[student], config,
                                  f"the grading worker died ({type(result).__name__})")
                counts["crashed"] += 1
            with deferred():  # a result is written whole, or not at all
                write_atomic(out / "results" / f"{student}.json", json.dumps(result, indent=1))
            counts["graded"] += 1
            progress.update(result["score"], result["max_score"])
    finally:  # interrupted too: the table of what is done (a rerun grades the rest)
        graded.close()
        progress.close()
        write_csv(out, list(students), config)
    return counts


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mlp-grade batch", description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--force", action="store_true", help="regrade students already graded")
    parser.add_argument("--config")
    parser.add_argument("--isolation", choices=["best", "strict"],
                        help="strict: refuse to grade unless student code is fully confined here")
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="grade on this existing Dask cluster (tcp://host:8786 or a scheduler file .json) "
                             "instead of the local process pool")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder")
    try:
        config = load_config(args.config, {"sandbox": {"isolation": args.isolation}} if args.isolation else None)
    except ConfigError as exc:
        parser.error(str(exc))
    started = time.monotonic()
    try:
        with on_signals():  # Ctrl-C, SIGTERM, SIGHUP: workers stopped, results so far kept, a rerun resumes
            counts = run_batch(args.submissions, args.out, args.jobs, args.force, config, dask=args.dask)
    except IsolationError as exc:
        print(f"mlp-grade batch: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt as exc:
        print(f"mlp-grade batch: interrupted by {signal.Signals(signal_of(exc)).name} after "
              f"{time.monotonic() - started:.1f} s; results so far in {args.out / 'results'}, grades in "
              f"{args.out / 'grades.csv'}: run the same command again to grade the rest", file=sys.stderr)
        return exit_status(exc)
    print(f"{counts['graded']} graded, {counts['skipped']} already done, {counts['crashed']} worker crashes "
          f"in {time.monotonic() - started:.1f} s; grades in {args.out / 'grades.csv'}")
    return 0
