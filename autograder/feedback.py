"""Feedback a tired student can read: each hint said once per report.

Check messages are clauses joined by ``"; "`` (a finding, then its likely
cause). One bug often shows in several checks (a missing ReLU mask fails the
numerical-gradient checks on W1 and b1 alike); the first check to state a
clause keeps it, later ones drop it and point back to that check instead.
Clauses are compared as written, in the report's language: a translation
keeps the clauses of its English message (one ``"; "`` per ``"; "``); reports
show them with :func:`shown`, joined the way the language writes them.
"""
from __future__ import annotations

from typing import Iterable, Protocol

from .i18n import N_, _

SEPARATOR = "; "
#: the clause that points back to the checks that said a hint first
ECHO = N_("same cause as in {checks}")
# TRANSLATORS: how the clauses of a feedback line are joined when people read it (Korean: a full stop)
JOIN = N_("; ")


def shown(message: str) -> str:
    """``message`` as people read it in the current language: the clauses stay joined by :data:`SEPARATOR`
    in results (``say_once`` and the class report split on it), and a report shows them joined the way the
    language writes sentences (:data:`JOIN`; Korean has no semicolon)."""
    join = _(JOIN) if message else SEPARATOR
    return message if join == SEPARATOR else message.replace(SEPARATOR, join)


class _Message(Protocol):
    name: str
    message: str


def say_once(results: Iterable[_Message]) -> None:
    """Rewrite ``message`` of each result (in order) so that no clause repeats within the report."""
    first_said: dict[str, str] = {}
    for result in results:
        if not result.message:
            continue
        kept, echoes = [], []
        for clause in result.message.split(SEPARATOR):
            key = clause.strip()
            if key not in first_said:
                first_said[key] = result.name
                kept.append(clause)
            elif first_said[key] != result.name and first_said[key] not in echoes:
                echoes.append(first_said[key])
        if echoes:
            kept.append(_(ECHO).format(checks=", ".join(echoes)))
        result.message = SEPARATOR.join(kept)
