"""What a check is, what it gets to work with, and what it returns.

A check is one small object with a ``name``, its ``points`` (from the
config), a ``visibility`` and a ``run(ctx) -> Verdict``. It draws inputs from
``ctx.rng``, runs one probe of the student's module through ``ctx.probe`` (a
jailed child process), and judges the plain arrays that come back here, in
the grader's process, where the expected values are computed afterwards.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..i18n import N_, _, parse
from ..sandbox import Limits, Outcome, run_probe

#: what a stub of the release raises (and what the grader says for a function not written yet)
NOT_IMPLEMENTED = N_("{function} is not implemented yet")
#: where in mlp.py a student exception came from, said after the message in brackets
LOCATION = N_("mlp.py line {line}, in {function}")
LOCATION_CODE = N_("mlp.py line {line}, in {function}: {code}")
#: how the child (sandbox/child.py, stdlib only) writes the location: always in English, translated here
_CHILD_LOCATION = re.compile(r"mlp\.py line (?P<line>\d+), in (?P<function>[^:]+?)(?:: (?P<code>.*))?", re.DOTALL)


def location(where: str, code: bool = True) -> str:
    """The child's ``mlp.py line 42, in backward: <code>`` in the current language (without the code line
    unless ``code``); any other text is returned as it is."""
    found = _CHILD_LOCATION.fullmatch(where)
    if found is None:
        return where
    if code and found["code"]:
        return _(LOCATION_CODE).format(line=found["line"], function=found["function"], code=found["code"])
    return _(LOCATION).format(line=found["line"], function=found["function"])


@dataclass
class Verdict:
    """How much of a check's points were earned (0..1) and why not all."""

    fraction: float
    message: str = ""

    @classmethod
    def passed(cls, note: str = "") -> "Verdict":
        return cls(1.0, note)

    @classmethod
    def failed(cls, message: str) -> "Verdict":
        return cls(0.0, message)


@dataclass
class Context:
    """Everything a check may use: the student's file, the config, a seeded rng, the sandbox."""

    #: the student's mlp.py as the grader read it, once (``autograder.submission``); each child gets these bytes
    source: bytes
    config: dict[str, Any]
    seed: int
    public: bool = False
    #: the check being run, and the checks whose child timed out so far
    current: str = ""
    timeouts: list[str] = field(default_factory=list)
    #: contract functions that never returned -> the check where that happened
    hung: dict[str, str] = field(default_factory=dict)
    #: what is computed once per grading: shared probe runs, and findings one check computes for another
    #: (a deferral must see the verdict it defers to)
    memo: dict[str, Any] = field(default_factory=dict)

    def remember(self, key: str, compute):
        """``compute()`` once per grading under ``key``: checks that share a probe run, or defer to each other,
        read the same result."""
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]

    def rng(self, salt: str) -> np.random.Generator:
        """A generator for one check, fixed by the grading seed and ``salt``."""
        digest = hashlib.sha256(f"{self.seed}:{salt}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))

    def limits(self, **changes: Any) -> Limits:
        """The configured limits with ``changes``; after a timeout, shorter default time limits."""
        box = self.config["sandbox"]
        base = dict(wall_s=float(box["timeout_s"]), cpu_s=int(box["cpu_s"]), memory_mb=int(box["memory_mb"]),
                    threads=int(box["threads"]), disk_mb=int(box["disk_mb"]))
        if self.timeouts and "wall_s" not in changes:
            base["wall_s"] = min(base["wall_s"], float(box["timeout_after_timeout_s"]))
            base["cpu_s"] = min(base["cpu_s"], max(1, int(box["timeout_after_timeout_s"])))
        base.update(changes)
        return Limits(**base)

    def probe(self, name: str, inputs: dict[str, np.ndarray], options: dict | None = None,
              limits: Limits | None = None, share: str | None = None) -> Outcome:
        """Run probe ``name`` in a fresh child; ``share`` lets several checks reuse one run."""
        if share is not None:
            return self.remember("probe " + share, lambda: self.probe(name, inputs, options, limits))
        outcome = run_probe(self.source, name, inputs, options or {}, limits or self.limits())
        if outcome.status == "timeout":
            if self.timeouts and limits is None:  # (a check that sets its own limits keeps them)
                outcome.message += _(" (limit lowered after the timeout in {check})").format(check=self.timeouts[0])
            self.timeouts.append(self.current)
            if outcome.hung:
                self.hung.setdefault(outcome.hung, self.current)
        return outcome


class Check:
    """One graded unit. Subclasses set ``name``, ``title`` and implement ``run``."""

    name: ClassVar[str] = ""
    #: in English, marked with ``N_``; :meth:`heading` gives it in the report's language
    title: ClassVar[str] = ""
    #: what the student's code is called for, named in messages
    subject: ClassVar[str] = ""
    #: contract functions this check calls: it is not run once one of them has hung
    calls: ClassVar[tuple[str, ...]] = ()
    #: 'visible' checks show their full message; hidden ones too, but never their inputs
    visibility: ClassVar[str] = "visible"
    #: part of the public suite students run before submitting
    public: ClassVar[bool] = True

    def run(self, ctx: Context) -> Verdict:  # pragma: no cover - interface
        raise NotImplementedError

    def heading(self) -> str:
        """The title in the current language."""
        return _(self.title)

    def __repr__(self) -> str:
        return f"<check {self.name}>"


def failure(outcome: Outcome, subject: str) -> Verdict:
    """The verdict for a child run that did not return arrays, in one plain sentence."""
    where = outcome.where
    if outcome.status == "not_implemented":
        raw, stub = outcome.message, parse(NOT_IMPLEMENTED, outcome.message)
        if stub is not None:  # the release's own words: said in the report's language
            text = _(NOT_IMPLEMENTED).format(function=stub["function"])
        elif not raw:
            text = _(NOT_IMPLEMENTED).format(function=subject)
        elif "not implemented" not in raw:
            text = _("{function} is not implemented yet ({detail})").format(function=subject, detail=raw)
        else:
            text = raw
        if not text.startswith(subject):
            text = _("{subject} cannot be checked yet: {reason}").format(subject=subject, reason=text)
        where = location(where, code=False)
    elif outcome.status == "contract":
        text = outcome.message
    else:
        text = (outcome.message if outcome.message.startswith(subject)
                else _("{subject} {problem}").format(subject=subject, problem=outcome.message))
    if where:
        text += f" [{location(where)}]"
    return Verdict.failed(text)


def constant(*arrays: np.ndarray) -> bool:
    """True when every array holds one value throughout (zeros, say): a property of it may hold vacuously."""
    return all(a.size == 0 or np.ptp(a) == 0 for a in arrays)


def describe_shape(arr: np.ndarray) -> str:
    return str(tuple(arr.shape))


def stable_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
