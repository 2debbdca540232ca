"""Feedback in the student's language: gettext catalogues, one language per grading call.

Every message the grader writes for people goes through ``_()`` (or
``ngettext``), with named placeholders filled in afterwards, so translators
may reorder them::

    _("MLP.forward returned {got}, expected {expected}").format(got=..., expected=...)

Strings defined before a grading runs (check titles, module constants) are
marked with ``N_()`` for extraction and translated where they are used.

The language is chosen per call (``grade(..., lang=...)``) and held in a
:class:`contextvars.ContextVar` while that grading runs (:func:`language`), so
graders running side by side in threads never mix languages; a thread started
during a grading must run in a copy of the context (``contextvars.copy_context``).
:func:`choose` picks it: an explicit ``lang``, else ``[report] lang`` in the
config, else ``$MLP_GRADER_LANG``, else the language the release folder names
(:data:`RELEASE_FILE`: the Korean release grades in Korean without any setting),
else the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``: ``ko_KR.UTF-8`` gives
Korean, anything else English).

Catalogues (package data): ``locale/mlp_grader.pot`` (the template, extracted
from the sources) and ``locale/<lang>/LC_MESSAGES/mlp_grader.po``. No ``.mo``
is kept in git: the ``.po`` is compiled in memory with Babel the first time a
process needs that language. Maintenance, from the repository root::

    pybabel extract -F autograder/locale/babel.cfg --no-location --no-wrap --sort-by-file \\
        --project mlp-backprop-grader -o autograder/locale/mlp_grader.pot autograder
    pybabel update -i autograder/locale/mlp_grader.pot -d autograder/locale -D mlp_grader \\
        --no-wrap --no-fuzzy-matching --ignore-obsolete
    # translate the new (empty) entries of autograder/locale/ko/LC_MESSAGES/mlp_grader.po
    # (a new language: pybabel init --no-wrap -i autograder/locale/mlp_grader.pot -d autograder/locale
    #  -D mlp_grader -l LANG, then add it to LANGUAGES)

``tests/test_i18n.py`` fails while a message lacks its Korean form, a
placeholder differs, or the catalogues are out of date with the sources.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import gettext
import io
import os
import re
import string
import threading
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

DOMAIN = "mlp_grader"
LOCALE_DIR = Path(__file__).with_name("locale")
#: the language the messages are written in
SOURCE = "en"
#: every language a report can be written in
LANGUAGES = ("en", "ko")
#: environment variables read, first set one wins (POSIX order, after the grader's own)
ENV_VARS = ("MLP_GRADER_LANG", "LC_ALL", "LC_MESSAGES", "LANG")
_ALIASES = {"en": "en", "english": "en", "c": "en", "posix": "en",
            "ko": "ko", "kr": "ko", "korean": "ko", "kor": "ko", "한국어": "ko"}

_current: contextvars.ContextVar[str] = contextvars.ContextVar("mlp_grader_language", default=SOURCE)
_lock = threading.Lock()
_catalogues: dict[str, gettext.NullTranslations] = {}
#: language -> why its catalogue could not be loaded (said once, when a grading asks for that language)
_problems: dict[str, str] = {}
_warned: set[str] = set()


# ----------------------------------------------------------------------------- choosing the language


def normalize(value: str | None) -> str | None:
    """A language of :data:`LANGUAGES` for ``value`` ('ko', 'ko_KR.UTF-8', 'ko-KR', 'korean'...);
    None for '', 'auto' or None. Raises ``ValueError`` for a language the grader does not speak."""
    if value is None:
        return None
    text = str(value).strip()
    if text.lower() in ("", "auto"):
        return None
    head = re.split(r"[_.@-]", text, maxsplit=1)[0].lower()
    if head in _ALIASES:
        return _ALIASES[head]
    raise ValueError(f"unknown language {value!r}: expected one of {', '.join(LANGUAGES)} or auto")


def _from_variables(environ: Mapping[str, str] | None, variables: Iterable[str]) -> str | None:
    """Korean when the first set of ``variables`` says ko..., English when it says anything else, else None."""
    environ = os.environ if environ is None else environ
    for var in variables:
        value = (environ.get(var) or "").strip()
        if value and value.lower() != "auto":
            return "ko" if value.lower().startswith("ko") else SOURCE
    return None


def from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The grader's locale: Korean when the first set of :data:`ENV_VARS` says ko..., else English."""
    return _from_variables(environ, ENV_VARS) or SOURCE


#: the file of a release folder that names its language (``mlp-grade build`` writes it into every release)
RELEASE_FILE = "mlp-grade.toml"
_RELEASE_FILE_MAX = 4096


def release_language(submission: str | Path | None) -> str | None:
    """The language the release folder of ``submission`` (a folder holding mlp.py, or the file) names in its
    :data:`RELEASE_FILE` (``[report] lang``), or None.

    Read as data (a small regular file parsed as TOML, never executed), and only that one key: it comes with
    the student's files, so it may choose the language of the feedback and nothing else. A missing,
    unreadable, symlinked, oversized or odd file is no setting at all (a grading never fails over it).
    """
    if submission is None:
        return None
    folder = Path(submission)
    if not folder.is_dir():
        folder = folder.parent
    import tomllib

    from .submission import Refused, read_file  # the one safe way to read a submission's file

    try:
        text = read_file(folder / RELEASE_FILE, _RELEASE_FILE_MAX).decode("utf-8")
        value = (tomllib.loads(text).get("report") or {}).get("lang")
        return normalize(value) if isinstance(value, str) else None
    except (Refused, ValueError, UnicodeDecodeError, AttributeError):
        return None


def choose(lang: str | None = None, config: Mapping | None = None,
           environ: Mapping[str, str] | None = None, release: str | None = None) -> str:
    """The language of one grading: ``lang``, else ``[report] lang`` of ``config``, else
    ``$MLP_GRADER_LANG``, else ``release`` (the release folder's language, :func:`release_language`), else
    the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``), else English.

    Raises ``ValueError`` when ``lang`` or the config names a language the grader does not speak.
    """
    configured = ((config or {}).get("report") or {}).get("lang")
    for value in (lang, configured):
        code = normalize(value)
        if code is not None:
            return code
    return (_from_variables(environ, ENV_VARS[:1]) or normalize(release)
            or _from_variables(environ, ENV_VARS[1:]) or SOURCE)


def current() -> str:
    """The language of the grading (or report) running in this context."""
    return _current.get()


@contextlib.contextmanager
def language(lang: str | None) -> Iterator[str]:
    """Speak ``lang`` (None: the one in force) in this context until the block ends."""
    code = normalize(lang) or current()
    if code != SOURCE:
        translations(code)
        with _lock:
            problem = _problems.get(code) if code not in _warned else None
            _warned.add(code)
        if problem:
            warnings.warn(f"the {code!r} messages cannot be loaded ({problem}): feedback stays in English",
                          stacklevel=3)
    token = _current.set(code)
    try:
        yield code
    finally:
        _current.reset(token)


def in_language_of_result(render: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator of a report function ``render(result, ...)``: it speaks the language ``result`` was graded in."""
    @functools.wraps(render)
    def speaking(result: Any, *args: Any, **kwargs: Any) -> Any:
        with language(getattr(result, "lang", None)):
            return render(result, *args, **kwargs)

    return speaking


# ----------------------------------------------------------------------------- catalogues


def po_file(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def _compile(lang: str) -> gettext.NullTranslations:
    """The catalogue of ``lang``, compiled in memory from its ``.po`` (fuzzy entries left out).

    When it cannot be (no Babel, a broken file), English is used and the reason kept in ``_problems``:
    a broken catalogue must never cost a report.
    """
    try:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po
    except ImportError:  # pragma: no cover - Babel is a dependency
        _problems[lang] = "Babel is not installed: pip install Babel"
        return gettext.NullTranslations()
    try:
        with po_file(lang).open("rb") as f:
            catalog = read_po(f, locale=lang, domain=DOMAIN)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        return gettext.GNUTranslations(buffer)
    except Exception as exc:  # noqa: BLE001
        _problems[lang] = f"{po_file(lang)}: {type(exc).__name__}: {exc}"
        return gettext.NullTranslations()


def translations(lang: str | None = None) -> gettext.NullTranslations:
    """The catalogue of ``lang`` (default: the current language), loaded once per process."""
    code = normalize(lang) or current()
    if code == SOURCE:
        return _NULL
    with _lock:
        if code not in _catalogues:
            _catalogues[code] = _compile(code)
        return _catalogues[code]


_NULL = gettext.NullTranslations()


def _(message: str) -> str:
    """``message`` in the current language (itself when it has no translation)."""
    return translations().gettext(message) if message else message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of ``singular``/``plural`` for the number ``n``, in the current language."""
    return translations().ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for extraction only; translate it with ``_()`` where it is used."""
    return message


# ----------------------------------------------------------------------------- reading messages back


def placeholders(message: str) -> set[str]:
    """The ``{name}`` placeholders of a message (format spec included when there is one)."""
    found = set()
    for _literal, field, spec, conversion in string.Formatter().parse(message):
        if field is not None:
            found.add(field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else ""))
    return found


@functools.lru_cache(maxsize=512)
def _regex(form: str) -> re.Pattern:
    parts, seen = [], set()
    for literal, field, _spec, _conversion in string.Formatter().parse(form):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(f"(?P={field})" if field in seen else f"(?P<{field}>.+?)")
            seen.add(field)
    return re.compile("".join(parts), re.DOTALL)


def forms(message: str) -> list[str]:
    """``message`` and its translation in every language of :data:`LANGUAGES`."""
    found = [message]
    for lang in LANGUAGES:
        form = translations(lang).gettext(message)
        if form not in found:
            found.append(form)
    return found


def parse(message: str, text: str, languages: Iterable[str] | None = None) -> dict[str, str] | None:
    """The placeholder values when ``text`` is ``message`` filled in (in any language, or in
    ``languages``), else None: for code that must recognise its own messages in every language."""
    candidates = forms(message) if languages is None else list(dict.fromkeys(
        translations(lang).gettext(message) for lang in languages))
    for form in candidates:
        found = _regex(form).fullmatch(text)
        if found is not None:
            return found.groupdict()
    return None


def occurs(message: str, text: str) -> bool:
    """Whether ``message`` filled in (in any language) occurs somewhere in ``text``."""
    return any(_regex(form).search(text) for form in forms(message))


def retranslate(text: str, templates: Iterable[str], values: Mapping[str, Iterable[str]] | None = None) -> str:
    """``text``, an English message made from one of ``templates``, in the current language.

    ``values`` gives, per placeholder, templates its value may itself be made from. Text that
    matches no template (student code's own words, say) is returned unchanged.
    """
    for template in templates:
        found = _regex(template).fullmatch(text)
        if found is None:
            continue
        filled = {name: retranslate(value, (values or {}).get(name, ())) for name, value in found.groupdict().items()}
        return _(template).format(**filled)
    return text
