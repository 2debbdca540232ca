"""Feedback a tired student can read: each hint said once per report.

Check messages are clauses joined by ``"; "`` (a finding, then its likely
cause). One bug often shows in several checks (a missing ReLU mask fails the
numerical-gradient checks on W1 and b1 alike); the first check to state a
clause keeps it, later ones drop it and point back to that check instead.
"""
from __future__ import annotations

from typing import Iterable, Protocol

SEPARATOR = "; "


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
            kept.append(f"same cause as in {', '.join(echoes)}")
        result.message = SEPARATOR.join(kept)
