"""Generate the student release and the reference solution from ``source/``, in every language.

``source/<assignment>/`` is the one annotated source of truth. Regions between
nbgrader's markers are the solution::

    ### BEGIN SOLUTION            ### BEGIN HIDDEN TESTS
    ...                           ...
    ### END SOLUTION              ### END HIDDEN TESTS

The source is bilingual (``LANGUAGES``: English and Korean); the code exists
once and only the prose is written per language:

* notebook cells: a markdown cell whose metadata holds ``"lang": "ko"`` (or
  ``"en"``) belongs to that language only; an untagged cell is shared. Code
  cells are always shared (a tagged code cell is an error);
* in Python (``.py`` files and code cells) and other text files:

  - a block between ``### BEGIN LANG ko`` and ``### END LANG ko`` lines is kept
    in that language only (``mlp.py``'s docstrings are such blocks);
  - a comment line ``# [ko] 설명`` is kept in that language only, as ``# 설명``;
  - a line ending in ``  # [ko]`` (the tag alone, after the code) is kept in that
    language only, without the tag: a ``print`` whose message is translated.

  The marker lines and tags never reach the output. Every language must give
  the same code: the Python tokens of each file and each code cell are
  compared across languages, comments and string literals aside (strings too
  in cells with nbgrader metadata: the grade cells' ``check(...)`` calls), and
  the nbgrader metadata of all cells (grade ids, points, in order) must be
  identical in every language (:class:`LanguageError` otherwise).

The grader's numbers that students read (the gradient threshold, the accuracy
tiers, the accuracy check's epochs, learning rate and batch size, points) are
written ``{{grader:KEY|FORMAT}}`` in the source and filled in from
``default_config.toml`` (:func:`fill_facts`); a grade cell's
``{{grader:cell.points}}`` is its own nbgrader points.

``build`` writes, for each language, two trees:

* ``assignment/<assignment>/`` (English) and ``assignment/ko/<assignment>/``
  (Korean) — the release: solution regions become a
  ``raise NotImplementedError(...)`` stub (Python) or ``YOUR ANSWER HERE``
  (markdown), hidden-test regions vanish, outputs are cleared. nbgrader copies
  ``.py`` files verbatim, so stripping them is our job; notebooks get the same
  treatment nbgrader's ``ClearSolutions`` gives them (a test compares the two).
* ``solution/<assignment>/`` and ``solution/ko/<assignment>/`` — the reference:
  marker lines removed, code kept.

The folder keeps the assignment's name in both languages, so an nbgrader course
made from either (:func:`annotated_notebook`) calls it ``mlp_backprop``.
``check`` recomputes every tree in memory and lists every file that differs.
"""
from __future__ import annotations

import copy
import io
import json
import math
import re
import tokenize
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

#: the languages of the release; the first is the default, generated at the historical paths
LANGUAGES = ("en", "ko")
DEFAULT_LANG = LANGUAGES[0]
#: the key of a notebook cell's metadata that names its language
LANG_KEY = "lang"
_LANG_BLOCK = re.compile(r"^\s*### (BEGIN|END) LANG (\S+)\s*$")
_LANG_LINE = re.compile(r"^(\s*)# \[([a-z]{2})\](?: (.*))?$")
_LANG_TAIL = re.compile(r"^(.*\S)\s+# \[([a-z]{2})\]$")


class MarkerError(ValueError):
    """An unbalanced or nested marker in a source file."""


class LanguageError(ValueError):
    """A language marker that is unbalanced or unknown, or languages whose code differs."""


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


#: the comment above a Python stub, per language (nbgrader's own words in English)
_STUB_COMMENT = {"en": "# YOUR CODE HERE", "ko": "# 여기에 코드를 작성하세요"}


def python_stub(name: str, lang: str = DEFAULT_LANG) -> list[str]:
    """The lines of a release stub for the function ``name``, in ``lang``: its message is the grader's own
    "is not implemented yet" in that language, which the grader recognises in every language."""
    from . import i18n
    from .checks.base import NOT_IMPLEMENTED

    with i18n.language(lang):
        message = i18n._(NOT_IMPLEMENTED).format(function=name)
    return [_STUB_COMMENT[lang], f"raise NotImplementedError({json.dumps(message, ensure_ascii=False)})"]


def strip(text: str, *, release: bool, stub: str | None = None, where: str = "<source>",
          lang: str = DEFAULT_LANG) -> str:
    """Return ``text`` as the release (``release=True``) or the solution.

    In the release a solution region becomes ``stub`` (default: a named
    ``raise NotImplementedError``, its message in ``lang``) at the marker's
    indentation, and a hidden region is dropped; in the solution only the marker lines go.
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
                stub_lines = python_stub(_enclosing_name(lines, region.start) or "this part", lang)
            else:
                stub_lines = stub.split("\n")
            out.extend(region.indent + s if s else s for s in stub_lines)
        cursor = region.end + 1
    out.extend(lines[cursor:])
    return "\n".join(out)


# ------------------------------------------------------------------------------------------- languages


def _known(tag: str, where: str) -> str:
    if tag not in LANGUAGES:
        raise LanguageError(f"{where}: unknown language {tag!r} (known: {', '.join(LANGUAGES)})")
    return tag


def select_language(text: str, lang: str, *, where: str = "<source>", line_tags: bool = True) -> str:
    """``text`` in language ``lang``: LANG blocks and (with ``line_tags``) tagged lines resolved.

    ``line_tags`` is for Python and other ``#``-comment text; markdown has blocks only
    (a line ``# [ko] ...`` there is a heading).
    """
    _known(lang, where)
    out, block, opened = [], None, 0
    for i, line in enumerate(text.split("\n")):
        match = _LANG_BLOCK.match(line)
        if match:
            kind, tag = match.group(1), _known(match.group(2), f"{where}:{i + 1}")
            if kind == "BEGIN":
                if block is not None:
                    raise LanguageError(f"{where}:{i + 1}: BEGIN LANG {tag} inside the open LANG {block} block")
                block, opened = tag, i
            elif block != tag:
                raise LanguageError(f"{where}:{i + 1}: END LANG {tag} without BEGIN LANG {tag}")
            else:
                block = None
            continue
        if block is not None and block != lang:
            continue
        if line_tags:
            match = _LANG_LINE.match(line)
            if match:
                indent, tag, rest = match.groups()
                if _known(tag, f"{where}:{i + 1}") == lang:
                    out.append(f"{indent}# {rest}" if rest else f"{indent}#")
                continue
            match = _LANG_TAIL.match(line)
            if match:
                if _known(match.group(2), f"{where}:{i + 1}") == lang:
                    out.append(match.group(1))
                continue
        out.append(line)
    if block is not None:
        raise LanguageError(f"{where}:{opened + 1}: LANG {block} block never closed")
    return "\n".join(out)


_FSTRING_START = getattr(tokenize, "FSTRING_START", None)  # Python >= 3.12 splits f-strings
_FSTRING_END = getattr(tokenize, "FSTRING_END", None)
_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}


def code_tokens(text: str, *, strings: bool = False) -> list[tuple[int, str]]:
    """The Python tokens of ``text`` without comments and layout; strings as one placeholder
    each unless ``strings``. Text that does not tokenize is compared line by line, comments aside."""
    try:
        tokens, depth = [], 0
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in _SKIP:
                continue
            if _FSTRING_START is not None and not strings:
                if tok.type == _FSTRING_START:
                    depth += 1
                    if depth == 1:
                        tokens.append((tokenize.STRING, "<str>"))
                    continue
                if tok.type == _FSTRING_END:
                    depth -= 1
                    continue
                if depth:
                    continue
            if tok.type == tokenize.STRING and not strings:
                tokens.append((tok.type, "<str>"))
            else:
                tokens.append((tok.type, tok.string))
        return tokens
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return [(0, line.strip()) for line in text.split("\n") if line.strip() and not line.strip().startswith("#")]


def _same_code(texts: dict[str, str], where: str, *, strings: bool = False) -> None:
    """Raise LanguageError unless every language's ``text`` has the same code tokens."""
    (first, reference), *others = texts.items()
    expected = code_tokens(reference, strings=strings)
    for lang, text in others:
        got = code_tokens(text, strings=strings)
        if got != expected:
            at = next((i for i, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
            show = lambda toks: " ".join(s for _, s in toks[max(0, at - 4):at + 4])  # noqa: E731
            raise LanguageError(f"{where}: the code of {lang!r} differs from {first!r} "
                                f"(only comments{'' if strings else ' and strings'} may): "
                                f"{first}: ...{show(expected)}... {lang}: ...{show(got)}...")


def _cell_source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _split_source(text: str) -> list[str]:
    """Notebook JSON stores sources as lines that keep their newline."""
    return text.splitlines(keepends=True)


def _dump_notebook(nb: dict) -> str:
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _localize_cells(nb: dict, lang: str, where: str, config: dict) -> dict:
    nb = copy.deepcopy(nb)
    cells = []
    for index, cell in enumerate(nb["cells"]):
        here = f"{where} cell {index} ({cell.get('id', 'no id')})"
        tag = cell.get("metadata", {}).pop(LANG_KEY, None)
        if tag is not None:
            _known(tag, here)
            if cell["cell_type"] == "code":
                raise LanguageError(f"{here}: a code cell is shared by every language: tag its comment "
                                    "lines (# [ko] ...), not the cell")
            if tag != lang:
                continue
        source = select_language(_cell_source(cell), lang, where=here, line_tags=cell["cell_type"] == "code")
        points = cell.get("metadata", {}).get("nbgrader", {}).get("points")
        cell["source"] = _split_source(fill_facts(source, lang, config, here, points))
        cells.append(cell)
    nb["cells"] = cells
    return nb


def _check_notebooks_agree(nbs: dict[str, dict], where: str) -> None:
    """Same code cells (same code, same metadata) and the same nbgrader cells in every language."""
    def code_cells(nb):
        return [c for c in nb["cells"] if c["cell_type"] == "code"]

    def graded(nb):
        return [(c["cell_type"], c["metadata"]["nbgrader"]) for c in nb["cells"] if "nbgrader" in c["metadata"]]

    (first, reference), *others = nbs.items()
    for lang, nb in others:
        if graded(nb) != graded(reference):
            raise LanguageError(f"{where}: the nbgrader cells of {lang!r} (grade ids, points, order) differ "
                                f"from {first!r}")
        if len(code_cells(nb)) != len(code_cells(reference)):
            raise LanguageError(f"{where}: {lang!r} and {first!r} have different numbers of code cells")
    for index, cells in enumerate(zip(*(code_cells(nb) for nb in nbs.values()))):
        metas = [c["metadata"] for c in cells]
        here = f"{where} code cell {index} ({cells[0].get('id', 'no id')})"
        if any(m != metas[0] for m in metas):
            raise LanguageError(f"{here}: the metadata differs between languages")
        _same_code({lang: _cell_source(c) for lang, c in zip(nbs, cells)}, here, strings="nbgrader" in metas[0])


def localize(source_dir: Path, config: dict | None = None) -> dict[str, dict[str, bytes]]:
    """The annotated source in every language: language -> relative path -> content.

    Solution markers are kept (this is what nbgrader's course ``source/`` takes); the grader's
    numbers (``{{grader:...}}``) are filled in from ``config`` (default: ``default_config.toml``).
    Raises :class:`LanguageError` when the languages do not share the same code.
    """
    if config is None:
        from .config import load_config

        config = load_config()
    out: dict[str, dict[str, bytes]] = {lang: {} for lang in LANGUAGES}
    for path in sorted(source_dir.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or ".ipynb_checkpoints" in path.parts:
            continue
        rel = path.relative_to(source_dir).as_posix()
        raw = path.read_bytes()
        if path.suffix == ".ipynb":
            nb = json.loads(raw.decode())
            nbs = {lang: _localize_cells(nb, lang, rel, config) for lang in LANGUAGES}
            _check_notebooks_agree(nbs, rel)
            for lang, localized in nbs.items():
                out[lang][rel] = _dump_notebook(localized).encode()
            continue
        try:
            text = raw.decode()
        except UnicodeDecodeError:  # binary: the same in every language
            for lang in LANGUAGES:
                out[lang][rel] = raw
            continue
        texts = {lang: fill_facts(select_language(text, lang, where=rel, line_tags=path.suffix != ".md"), lang, config,
                                  rel) for lang in LANGUAGES}
        if path.suffix == ".py":
            _same_code(texts, rel)
        for lang, localized in texts.items():
            out[lang][rel] = localized.encode()
    return out


# ------------------------------------------------------------------------------------------- the grader's numbers

#: ``{{grader:KEY}}`` or ``{{grader:KEY|FORMAT}}`` in a source file: a number of the grading config
#: (``default_config.toml``), written in at build time so that what students read is what the grader does
FACT = re.compile(r"\{\{grader:([\w.]+)(?:\|(\w+))?\}\}")
#: the key of a grade cell's own points (its nbgrader metadata, which a test holds equal to the config's points)
CELL_POINTS = "cell.points"


class FactError(ValueError):
    """A ``{{grader:...}}`` placeholder that names no number of the config, or an unknown format."""


def config_value(config: dict, key: str) -> float:
    """The number at the dotted ``key`` of ``config`` (``gradient.threshold``, ``accuracy.tiers.0.0``,
    ``points.accuracy.mnist``: keys may hold dots, lists take indices); ``points.total``: the sum of the points."""
    if key == "points.total":
        return sum(config["points"].values())
    node, parts = config, key.split(".")
    while parts:
        if isinstance(node, dict):
            n = next((n for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in node), 0)
            if not n:
                raise FactError(f"no {key!r} in the grading config")
            node, parts = node[".".join(parts[:n])], parts[n:]
        elif isinstance(node, list) and parts[0].isdigit() and int(parts[0]) < len(node):
            node, parts = node[int(parts[0])], parts[1:]
        else:
            raise FactError(f"no {key!r} in the grading config")
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        raise FactError(f"{key!r} in the grading config is not a number: {node!r}")
    return node


def format_number(value: float, fmt: str | None, lang: str) -> str:
    """``value`` as prose: ``num`` (default) 1e-5 -> ``1e-5``, 0.5 -> ``0.5``; ``pow10`` 1e-5 -> ``10^{-5}``
    (LaTeX); ``pct`` 0.935 -> ``93.5 %`` (``93.5%`` in Korean, where the sign takes no space)."""
    if fmt in (None, "num"):
        return re.sub(r"e([+-])0*(\d)", lambda m: "e" + m.group(1).replace("+", "") + m.group(2), f"{value:g}")
    if fmt == "pow10":
        exponent = round(math.log10(value)) if value > 0 else None
        if exponent is None or not math.isclose(10.0 ** exponent, value):
            raise FactError(f"{value!r} is not a power of ten")
        return f"10^{{{exponent}}}"
    if fmt == "pct":
        return f"{value * 100:.10g}" + ("%" if lang == "ko" else " %")
    raise FactError(f"unknown format {fmt!r} (known: num, pow10, pct)")


def fill_facts(text: str, lang: str, config: dict, where: str = "<source>", cell_points: float | None = None) -> str:
    """``text`` with every ``{{grader:KEY|FORMAT}}`` replaced by the config's number (see :data:`FACT`)."""
    def number(match: re.Match) -> str:
        key, fmt = match.groups()
        try:
            if key == CELL_POINTS:
                if cell_points is None:
                    raise FactError(f"{{{{grader:{CELL_POINTS}}}}} outside a grade cell")
                return format_number(cell_points, fmt, lang)
            return format_number(config_value(config, key), fmt, lang)
        except FactError as exc:
            raise FactError(f"{where}: {exc}") from None

    return FACT.sub(number, text)


# ------------------------------------------------------------------------------------------- the trees


def build_notebook(text: str, *, release: bool, where: str) -> str:
    """Release or solution version of a (single-language) notebook given as JSON text."""
    nb = json.loads(text)
    for cell in nb["cells"]:
        src = _cell_source(cell)
        stub = MARKDOWN_STUB if cell["cell_type"] == "markdown" else NOTEBOOK_STUB
        cell["source"] = _split_source(strip(src, release=release, stub=stub, where=where))
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return _dump_notebook(nb)


def generate(files: dict[str, bytes], *, release: bool, where: str = "", lang: str = DEFAULT_LANG) -> dict[str, bytes]:
    """One generated tree from one language's annotated files (see :func:`localize`)."""
    out = {}
    for rel, content in files.items():
        here = f"{where}{rel}"
        if rel.endswith(".py"):
            out[rel] = strip(content.decode(), release=release, where=here, lang=lang).encode()
        elif rel.endswith(".ipynb"):
            out[rel] = build_notebook(content.decode(), release=release, where=here).encode()
        else:
            out[rel] = content
    return out


def render(source_dir: Path, *, release: bool, lang: str = DEFAULT_LANG) -> dict[str, bytes]:
    """All files of one generated tree, relative path -> content."""
    return generate(localize(source_dir)[lang], release=release, where=f"[{lang}] ", lang=lang)


def _lang_parts(lang: str) -> tuple[str, ...]:
    _known(lang, "--lang")
    return () if lang == DEFAULT_LANG else (lang,)


def release_dir(root: Path, lang: str = DEFAULT_LANG, assignment: str = ASSIGNMENT) -> Path:
    """``assignment/<assignment>`` for the default language, ``assignment/<lang>/<assignment>`` otherwise."""
    return root.joinpath("assignment", *_lang_parts(lang), assignment)


def solution_dir(root: Path, lang: str = DEFAULT_LANG, assignment: str = ASSIGNMENT) -> Path:
    """``solution/<assignment>`` for the default language, ``solution/<lang>/<assignment>`` otherwise."""
    return root.joinpath("solution", *_lang_parts(lang), assignment)


def _source_dir(root: Path, assignment: str) -> Path:
    source_dir = root / "source" / assignment
    if not source_dir.is_dir():
        raise FileNotFoundError(f"{source_dir} not found: run from the repository root or pass --root")
    return source_dir


def annotated_notebook(root: Path, lang: str = DEFAULT_LANG, assignment: str = ASSIGNMENT) -> bytes:
    """The annotated notebook in ``lang``, solution markers kept: what an nbgrader course's source/ holds."""
    _known(lang, "--lang")
    return localize(_source_dir(root, assignment))[lang][f"{assignment}.ipynb"]


def targets(root: Path, assignment: str = ASSIGNMENT) -> dict[Path, dict[str, bytes]]:
    """Generated trees keyed by their output folder: release and solution in every language."""
    localized = localize(_source_dir(root, assignment))
    trees = {}
    for lang in LANGUAGES:
        trees[release_dir(root, lang, assignment)] = generate(localized[lang], release=True, where=f"[{lang}] ",
                                                              lang=lang)
        trees[solution_dir(root, lang, assignment)] = generate(localized[lang], release=False, where=f"[{lang}] ",
                                                               lang=lang)
    return trees


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
    """Write every generated tree; return the files written."""
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
