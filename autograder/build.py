"""Generate the student release and the reference solution from ``source/``.

``source/<assignment>/`` is the one annotated source of truth. Regions between
nbgrader's markers are the solution::

    ### BEGIN SOLUTION            ### BEGIN HIDDEN TESTS
    ...                           ...
    ### END SOLUTION              ### END HIDDEN TESTS

``build`` writes two trees from it:

* ``assignment/<assignment>/`` — the release: solution regions become a
  ``raise NotImplementedError(...)`` stub (Python) or ``YOUR ANSWER HERE``
  (markdown), hidden-test regions vanish, outputs are cleared. nbgrader copies
  ``.py`` files verbatim, so stripping them is our job; notebooks get the same
  treatment nbgrader's ``ClearSolutions`` gives them (a test compares the two).
* ``solution/<assignment>/`` — the reference: marker lines removed, code kept.

``check`` recomputes both trees in memory and lists every file that differs.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

ASSIGNMENT = "mlp_backprop"
BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
NOTEBOOK_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
MARKDOWN_STUB = "YOUR ANSWER HERE"
_DEF = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+(\w+)")


class MarkerError(ValueError):
    """An unbalanced or nested marker in a source file."""


@dataclass(frozen=True)
class Region:
    """A marked region: ``kind`` is 'solution' or 'hidden'; lines [start, end] inclusive of markers."""

    kind: str
    start: int
    end: int
    indent: str


def find_regions(lines: list[str], where: str = "<source>") -> list[Region]:
    """Locate marked regions in ``lines`` (no trailing newlines)."""
    regions, open_at, open_kind = [], None, None
    for i, line in enumerate(lines):
        text = line.strip()
        for kind, begin, end in (("solution", BEGIN_SOLUTION, END_SOLUTION),
                                 ("hidden", BEGIN_HIDDEN, END_HIDDEN)):
            if text == begin:
                if open_at is not None:
                    raise MarkerError(f"{where}:{i + 1}: {begin} inside an open region")
                open_at, open_kind = i, kind
            elif text == end:
                if open_kind != kind:
                    raise MarkerError(f"{where}:{i + 1}: {end} without {begin}")
                indent = line[: len(line) - len(line.lstrip())]
                regions.append(Region(kind, open_at, i, indent))
                open_at, open_kind = None, None
    if open_at is not None:
        raise MarkerError(f"{where}:{open_at + 1}: region never closed")
    return regions


def _enclosing_name(lines: list[str], before: int) -> str | None:
    """Dotted name (``Class.method``) of the code that holds line ``before``, for stub messages."""
    names, indent = [], len(lines[before]) - len(lines[before].lstrip())
    for line in reversed(lines[:before]):
        match = _DEF.match(line)
        depth = len(line) - len(line.lstrip())
        if match and depth < indent:
            names.insert(0, match.group(1))
            indent = depth
    return ".".join(names) or None


def strip(text: str, *, release: bool, stub: str | None = None, where: str = "<source>") -> str:
    """Return ``text`` as the release (``release=True``) or the solution.

    In the release a solution region becomes ``stub`` (default: a named
    ``raise NotImplementedError``) at the marker's indentation, and a hidden
    region is dropped; in the solution only the marker lines go.
    """
    lines = text.split("\n")
    out, cursor = [], 0
    for region in find_regions(lines, where):
        out.extend(lines[cursor:region.start])
        body = lines[region.start + 1:region.end]
        if not release:
            out.extend(body)
        elif region.kind == "solution":
            if stub is None:
                name = _enclosing_name(lines, region.start) or "this part"
                stub_lines = ["# YOUR CODE HERE",
                              f'raise NotImplementedError("{name} is not implemented yet")']
            else:
                stub_lines = stub.split("\n")
            out.extend(region.indent + s if s else s for s in stub_lines)
        cursor = region.end + 1
    out.extend(lines[cursor:])
    return "\n".join(out)


def _cell_source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _split_source(text: str) -> list[str]:
    """Notebook JSON stores sources as lines that keep their newline."""
    return text.splitlines(keepends=True)


def build_notebook(text: str, *, release: bool, where: str) -> str:
    """Release or solution version of a notebook given as JSON text."""
    nb = json.loads(text)
    for cell in nb["cells"]:
        src = _cell_source(cell)
        stub = MARKDOWN_STUB if cell["cell_type"] == "markdown" else NOTEBOOK_STUB
        cell["source"] = _split_source(strip(src, release=release, stub=stub, where=where))
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def render(source_dir: Path, *, release: bool) -> dict[str, bytes]:
    """All files of one generated tree, relative path -> content."""
    files = {}
    for path in sorted(source_dir.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or ".ipynb_checkpoints" in path.parts:
            continue
        rel = path.relative_to(source_dir).as_posix()
        if path.suffix == ".py":
            content = strip(path.read_text(), release=release, where=rel).encode()
        elif path.suffix == ".ipynb":
            content = build_notebook(path.read_text(), release=release, where=rel).encode()
        else:
            content = path.read_bytes()
        files[rel] = content
    return files


def targets(root: Path, assignment: str = ASSIGNMENT) -> dict[Path, dict[str, bytes]]:
    """Generated trees keyed by their output folder."""
    source_dir = root / "source" / assignment
    if not source_dir.is_dir():
        raise FileNotFoundError(f"{source_dir} not found: run from the repository root or pass --root")
    return {
        root / "assignment" / assignment: render(source_dir, release=True),
        root / "solution" / assignment: render(source_dir, release=False),
    }


def check(root: Path, assignment: str = ASSIGNMENT) -> list[str]:
    """Files that are missing, stale or extra in the generated trees (empty when up to date)."""
    problems = []
    for out_dir, files in targets(root, assignment).items():
        on_disk = {p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts} if out_dir.is_dir() else set()
        for rel, content in files.items():
            path = out_dir / rel
            if rel not in on_disk:
                problems.append(f"missing: {path}")
            elif path.read_bytes() != content:
                problems.append(f"out of date: {path}")
        problems += [f"not in source/: {out_dir / rel}" for rel in sorted(on_disk - files.keys())]
    return problems


def build(root: Path, assignment: str = ASSIGNMENT) -> list[Path]:
    """Write both generated trees; return the files written."""
    written = []
    for out_dir, files in targets(root, assignment).items():
        if out_dir.is_dir():
            for stale in out_dir.rglob("*"):
                if stale.is_file() and stale.relative_to(out_dir).as_posix() not in files:
                    stale.unlink()
        for rel, content in files.items():
            path = out_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_bytes() != content:
                path.write_bytes(content)
                written.append(path)
    return written
