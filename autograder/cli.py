"""``mlp-grade``: grade a submission, or run one of the instructor commands.

    mlp-grade SUBMISSION [--format text|json|gradescope|junit|classroom|markdown]
                         [--out FILE] [--config FILE] [--fail-under PCT] [--public] [--only NAME ...]
    mlp-grade build [--check] [--root DIR]
    mlp-grade train [MODULE] [--epochs N] ...

Exit status: 0 when a report was produced (whatever the score); 1 when
``--fail-under`` is not met; 2 for a usage error; 3 when the grader itself
failed on a check (the report is still written); 128 + the signal's number
(130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP) when interrupted, after
writing the report of what ran.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from . import build as build_mod
from .config import ConfigError, load_config
from .interruption import exit_status, on_signals, signal_of

EXIT_OK, EXIT_FAIL_UNDER, EXIT_USAGE, EXIT_GRADER = 0, 1, 2, 3


def repo_root(explicit: str | None = None) -> Path:
    """The repository checkout holding ``source/``: --root, the current folder, or this package's parent."""
    candidates = [Path(explicit)] if explicit else [Path.cwd(), Path(__file__).resolve().parents[1]]
    for root in candidates:
        if (root / "source" / build_mod.ASSIGNMENT).is_dir():
            return root
    raise SystemExit(f"mlp-grade: no source/{build_mod.ASSIGNMENT} under {candidates[0]}: run this from the "
                     "repository checkout or pass --root")


def _write(text: str, out: str | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def cmd_grade(argv: list[str]) -> int:
    from . import grade
    from .report import FORMATS, render
    from .sandbox.confinement import IsolationError

    parser = argparse.ArgumentParser(prog="mlp-grade", description="Grade a submission of mlp_backprop.",
                                     epilog="Other commands: " + ", ".join(sorted(COMMANDS)) +
                                            " (mlp-grade COMMAND --help).")
    parser.add_argument("submission", help="a folder holding the student's mlp.py, or the file itself")
    parser.add_argument("--format", default="text", choices=sorted(FORMATS))
    parser.add_argument("--out", help="write the report here instead of stdout")
    parser.add_argument("--config", help="TOML file overriding default_config.toml (points, limits, thresholds)")
    parser.add_argument("--fail-under", type=float, metavar="PCT",
                        help="exit 1 when the score is below PCT percent of the maximum")
    parser.add_argument("--public", action="store_true", help="run the public checks only (what students run)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these checks (names or prefixes)")
    parser.add_argument("--report", action="append", default=[], metavar="FORMAT=FILE",
                        help="also write the report in FORMAT to FILE (repeatable), e.g. junit=report.xml")
    parser.add_argument("--color", choices=["auto", "always", "never"], default="auto")
    parser.add_argument("--lang", metavar="LANG",
                        help="language of the feedback: en or ko (default: the config's [report] lang, else "
                             "$MLP_GRADER_LANG, else the release's mlp-grade.toml (the Korean release: ko), "
                             "else LC_ALL / LANG: ko_KR.UTF-8 gives Korean)")
    parser.add_argument("--isolation", choices=["best", "strict"],
                        help="strict: refuse to run student code unless it is fully confined (default: the "
                             "config's [sandbox] isolation, 'best')")
    args = parser.parse_args(argv)
    extra = []
    for item in args.report:
        fmt, _, file = item.partition("=")
        if fmt not in FORMATS or not file:
            parser.error(f"--report {item}: expected FORMAT=FILE with FORMAT in {', '.join(sorted(FORMATS))}")
        extra.append((fmt, file))
    try:
        config = load_config(args.config, {"sandbox": {"isolation": args.isolation}} if args.isolation else None)
    except ConfigError as exc:
        parser.error(str(exc))
    if not os.path.lexists(args.submission):  # a symbolic link is graded (refused with its reason), not an error
        parser.error(f"{args.submission} does not exist")
    from .i18n import choose, release_language
    try:
        lang = choose(args.lang, config, release=release_language(args.submission))
    except ValueError as exc:
        parser.error(f"--lang / [report] lang: {exc}")
    progress = None
    if args.format == "text" and args.out is None and sys.stderr.isatty():
        def progress(check):  # noqa: ANN001
            sys.stderr.write(f"\r\033[K  {check.name} {check.score:g}/{check.max_score:g}")
            sys.stderr.flush()
    interrupted = None
    try:
        with on_signals():  # SIGINT, SIGTERM, SIGHUP: children killed, folders removed, what ran reported
            result = grade(args.submission, config=config, suite="public" if args.public else "graded",
                           only=args.only, on_check=progress, lang=lang)
    except IsolationError as exc:
        print(f"mlp-grade: {exc}", file=sys.stderr)
        return EXIT_GRADER
    except KeyboardInterrupt as exc:
        if getattr(exc, "partial", None) is None:
            return exit_status(exc)
        interrupted, result = exc, exc.partial
        print(f"mlp-grade: interrupted by {signal.Signals(signal_of(exc)).name}: the report holds the checks "
              "that ran", file=sys.stderr)
    if result.isolation.get("level") != "strict":
        print(f"mlp-grade: warning for the instructor: {result.isolation.get('summary')}", file=sys.stderr)
    if progress:
        sys.stderr.write("\r\033[K")
    color = args.color == "always" or (args.color == "auto" and args.out is None and sys.stdout.isatty()
                                       and "NO_COLOR" not in os.environ)
    _write(render(result, args.format, color=color, config=config), args.out)
    for fmt, file in extra:
        _write(render(result, fmt, config=config), file)
    if interrupted is not None:
        return exit_status(interrupted)
    if result.grader_error:
        return EXIT_GRADER
    if args.fail_under is not None and result.score < args.fail_under / 100 * result.max_score:
        return EXIT_FAIL_UNDER
    return EXIT_OK


def cmd_build(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mlp-grade build",
                                     description="Generate assignment/ and solution/ from source/.")
    parser.add_argument("--check", action="store_true", help="only verify they are up to date (exit 1 if not)")
    parser.add_argument("--root", help="repository root (default: the current folder)")
    args = parser.parse_args(argv)
    root = repo_root(args.root)
    if args.check:
        problems = build_mod.check(root)
        for problem in problems:
            print(problem)
        if problems:
            print("generated files are out of date: run `mlp-grade build`", file=sys.stderr)
            return 1
        print("assignment/ and solution/ are up to date with source/")
        return 0
    for path in build_mod.build(root):
        print(f"wrote {path.relative_to(root)}")
    return 0


def cmd_train(argv: list[str]) -> int:
    from .training_demo import main as train_main

    return train_main(argv)


def cmd_batch(argv: list[str]) -> int:
    from .workflows.batch import main as batch_main

    return batch_main(argv)


def cmd_nbgrader_course(argv: list[str]) -> int:
    from .workflows.packaging import nbgrader_course

    parser = argparse.ArgumentParser(prog="mlp-grade nbgrader-course",
                                     description="Lay out a ready nbgrader course directory.")
    parser.add_argument("dest", type=Path)
    parser.add_argument("--exchange", type=Path, help="nbgrader exchange folder (default DEST/exchange)")
    parser.add_argument("--course-id", default="mlp_course")
    parser.add_argument("--lang", choices=build_mod.LANGUAGES, default=build_mod.DEFAULT_LANG,
                        help="language of the notebook, mlp.py and autograde's check lines (default: en)")
    parser.add_argument("--root", help="repository root (default: the current folder)")
    args = parser.parse_args(argv)
    dest = nbgrader_course(repo_root(args.root), args.dest, args.exchange, args.course_id, lang=args.lang)
    print(f"nbgrader course in {dest}: cd {dest} && nbgrader generate_assignment {build_mod.ASSIGNMENT}")
    return 0


def cmd_release(argv: list[str]) -> int:
    from .workflows.packaging import release_repo

    parser = argparse.ArgumentParser(prog="mlp-grade release",
                                     description="Write the student template repository (no solution in it).")
    parser.add_argument("dest", type=Path)
    parser.add_argument("--lang", choices=build_mod.LANGUAGES, default=build_mod.DEFAULT_LANG,
                        help="language of the notebook, mlp.py and README (default: en)")
    parser.add_argument("--root", help="repository root (default: the current folder)")
    args = parser.parse_args(argv)
    print(f"student template repository in {release_repo(repo_root(args.root), args.dest, lang=args.lang)}")
    return 0


def cmd_gradescope_zip(argv: list[str]) -> int:
    from .workflows.packaging import gradescope_zip

    parser = argparse.ArgumentParser(prog="mlp-grade gradescope-zip",
                                     description="Build the Gradescope autograder bundle.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--config", type=Path, help="grading TOML to bundle (default: the built-in defaults)")
    parser.add_argument("--lang", choices=build_mod.LANGUAGES,
                        help="language of the students' feedback, written into the bundled config as [report] lang "
                             "(default: the config's)")
    parser.add_argument("--root", help="repository root (default: the current folder)")
    args = parser.parse_args(argv)
    if args.config is not None:
        try:
            load_config(args.config)
        except ConfigError as exc:
            parser.error(str(exc))
    try:
        bundle = gradescope_zip(repo_root(args.root), args.out, args.config, lang=args.lang)
    except ConfigError as exc:
        parser.error(str(exc))
    print(f"Gradescope bundle: {bundle}")
    return 0


def cmd_report(argv: list[str]) -> int:
    from .instructor.class_report import main as report_main

    return report_main(argv)


def cmd_similarity(argv: list[str]) -> int:
    from .instructor.similarity import main as similarity_main

    return similarity_main(argv)


def cmd_lms_export(argv: list[str]) -> int:
    from .instructor.lms import main as lms_main

    return lms_main(argv)


COMMANDS = {"build": cmd_build, "train": cmd_train, "batch": cmd_batch, "nbgrader-course": cmd_nbgrader_course,
            "release": cmd_release, "gradescope-zip": cmd_gradescope_zip}
COMMANDS.update({"report": cmd_report, "similarity": cmd_similarity, "lms-export": cmd_lms_export})


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        return COMMANDS[argv[0]](argv[1:])
    return cmd_grade(argv)


if __name__ == "__main__":
    sys.exit(main())
