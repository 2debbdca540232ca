"""``mlp-grade similarity``: pairs of submissions that are suspiciously alike, for the instructor only.

    mlp-grade similarity SUBMISSIONS_DIR [--skeleton RELEASE_MLP_PY] [--threshold 0.7] [--out similarity.html]
                                         [--json pairs.json]

Token winnowing as MOSS does it (Schleimer, Wilkerson, Aiken: *Winnowing:
local algorithms for document fingerprinting*, SIGMOD 2003), over Python's own
``tokenize`` tokens of a canonical form of the code:

* **canonical**: before tokens, the syntax tree is rewritten so that respelling
  changes nothing (:func:`canonical`): numpy's equivalent spellings (``@`` for
  ``np.dot`` / ``np.matmul`` / ``.dot``; ``x.sum(axis=0)`` for ``np.sum(x, 0)``,
  and so for ``mean``, ``max``, ``reshape``...; ``.T`` for ``transpose``;
  ``x.shape[0]`` for ``len(x)``; any alias of numpy read ``np``; ``a += b`` for
  ``a = a + b``; ``z > 0`` for ``0 < z``; keyword arguments sorted), dead code
  dropped (constant ``if``/``while`` branches, statements after ``return``,
  statements that compute nothing, assignments never read, helpers never
  called that are not in the skeleton, imports), and the module's own helpers
  inlined into their callers (``f(a)``, ``self.m(a)``: straight-line code
  ending in one ``return``), so a method split into helpers or one with its
  helpers inlined compare as whole, call-resolved methods;
* **normalised**: comments and docstrings are dropped; every identifier becomes
  ``V`` (so renamed variables, helpers and attributes change nothing) except
  keywords, builtins and numpy / ndarray attributes after a dot (``.sum``,
  ``.T``: renaming those would change the program); every number becomes ``N``,
  every string ``S``;
* **order-free**: the module is cut into units (each top-level function, each
  method, each class header, the other top-level statements) and the units are
  sorted by their normalised tokens, so reordered functions and methods give
  the same stream;
* **fingerprinted**: every run of ``k`` tokens is hashed; in each window of
  ``window`` consecutive hashes the smallest is kept (winnowing), so any shared
  run of at least ``k + window - 1`` tokens is detected;
* **boilerplate subtracted**: every ``k``-gram of the release skeleton (the
  given code, docstrings and signatures), every ``k``-gram that independent
  solutions of this assignment share (the reference, the alternative styles:
  found in at least two of them; shipped as fingerprints only,
  ``similarity_common.json``, rebuilt by ``python -m benchmarks.similarity
  --write-common``) and every ``k``-gram found in more than ``max_share``
  submissions (MOSS's ``-m``) is ignored;
* **scored**: for a pair with shared fingerprints, the matched regions are grown
  greedily over identical hashes; each side's score is the fraction of its own
  (non-boilerplate) tokens inside a matched region. A pair is flagged when the
  larger of the two is at least ``threshold`` and at least ``min_tokens``
  tokens matched.

The thresholds are measured by ``python -m benchmarks --only similarity``
(and guarded in ``tests/test_similarity.py``): independent solutions written
from the skeleton (the reference solution and its single-bug variants, the
styles of ``tests/alternatives`` and ``tests/similarity_corpus``) against
copies disguised in several ways.
A flag is a reason to look at the side-by-side regions, never a verdict.
"""
from __future__ import annotations

import argparse
import ast
import builtins
import copy
import hashlib
import html
import io
import itertools
import json
import keyword
import sys
import tokenize
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

#: noise threshold: shorter shared runs of tokens are never reported
K = 12
#: winnowing window: shared runs of K + WINDOW - 1 tokens or more are always found
WINDOW = 8
#: flag a pair when one side has at least this fraction of its own tokens in matched regions ...
#: (measured by ``python -m benchmarks --only similarity``: disguised copies score 0.97 and more on their
#: smaller side, independent solutions at most 0.48 on their larger)
THRESHOLD = 0.7
#: ... and at least this many tokens matched
MIN_TOKENS = 60
#: k-grams found in more submissions than this are boilerplate (MOSS's -m)
MAX_SHARE = 10
#: the version of the normalisation: shipped fingerprints made by another are not used
NORMALISATION = 2


def _kept_names() -> frozenset[str]:
    names = set(keyword.kwlist) | set(dir(builtins))
    return frozenset(n for n in names if not n.startswith("_") or n in ("__init__", "__call__"))


def _kept_attributes() -> frozenset[str]:
    names: set[str] = set(dir(dict)) | set(dir(list))
    try:
        import numpy as np

        names |= set(dir(np)) | set(dir(np.ndarray)) | set(dir(np.random.Generator)) | set(dir(np.random))
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    return frozenset(n for n in names if not n.startswith("_"))


KEPT_NAMES = _kept_names()
KEPT_ATTRIBUTES = _kept_attributes()
_DROPPED = {tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING, tokenize.ENDMARKER,
            tokenize.TYPE_COMMENT if hasattr(tokenize, "TYPE_COMMENT") else -1}


@dataclass(frozen=True)
class Token:
    """A normalised token and where it is in the source (1-based lines)."""

    text: str
    line: int
    end_line: int
    #: the order-free unit (function, method, class header...) it belongs to, in sorted order
    unit: int = 0


@dataclass
class Fingerprinted:
    """One submission, normalised and hashed."""

    name: str
    source: str
    tokens: list[Token]
    #: hash of the k-gram starting at each token position (len(tokens) - K + 1 of them)
    hashes: list[int]
    #: the winnowed fingerprints (hashes), boilerplate not yet removed
    fingerprints: set[int]
    error: str = ""

    @property
    def lines(self) -> list[str]:
        return self.source.splitlines()


@dataclass
class Region:
    """A matched run: tokens ``a_start .. a_start + length`` of A equal ``b_start ..`` of B (normalised)."""

    a_start: int
    b_start: int
    length: int
    a_lines: list[int] = field(default_factory=list)
    b_lines: list[int] = field(default_factory=list)


@dataclass
class Pair:
    a: str
    b: str
    #: fraction of A's own tokens matched in B, and of B's in A
    score_a: float
    score_b: float
    matched_tokens: int
    regions: list[Region]
    flagged: bool

    @property
    def score(self) -> float:
        return max(self.score_a, self.score_b)

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "score": round(self.score, 4), "score_a": round(self.score_a, 4),
                "score_b": round(self.score_b, 4), "matched_tokens": self.matched_tokens, "flagged": self.flagged,
                "regions": [{"a_lines": _spans(r.a_lines), "b_lines": _spans(r.b_lines), "tokens": r.length}
                            for r in self.regions]}


@dataclass
class SimilarityReport:
    submissions: dict[str, Fingerprinted]
    #: every pair with shared (non-boilerplate) fingerprints, highest score first
    pairs: list[Pair]
    params: dict
    skeletons: list[str]
    #: per submission, the fraction of its own (non-skeleton) tokens inside code shared by more than
    #: ``max_share`` submissions, which is not compared: high for many students = a widely shared solution
    common: dict[str, float] = field(default_factory=dict)

    @property
    def flagged(self) -> list[Pair]:
        return [p for p in self.pairs if p.flagged]

    def groups(self) -> list[list[str]]:
        """Students linked by flagged pairs (connected components), largest first."""
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for pair in self.flagged:
            parent[find(pair.a)] = find(pair.b)
        members: dict[str, list[str]] = {}
        for name in parent:
            members.setdefault(find(name), []).append(name)
        return sorted((sorted(m) for m in members.values()), key=lambda m: (-len(m), m))

    def to_dict(self) -> dict:
        return {"params": self.params, "skeletons": self.skeletons, "common": self.common,
                "unreadable": {n: s.error for n, s in self.submissions.items() if s.error},
                "groups": self.groups(), "pairs": [p.to_dict() for p in self.pairs]}


def _spans(lines: Iterable[int]) -> list[list[int]]:
    """[3, 4, 5, 9] -> [[3, 5], [9, 9]]."""
    out: list[list[int]] = []
    for line in sorted(set(lines)):
        if out and line == out[-1][1] + 1:
            out[-1][1] = line
        else:
            out.append([line, line])
    return out


# ----------------------------------------------------------------------------- canonical form (before tokens)
#
# Rewrites of the syntax tree that change how the code is spelled, not what it computes, so that a copy
# disguised by respelling reads as its original: numpy's equivalent spellings, dead code, helpers split
# out of a method or inlined into it.

#: numpy functions that are also ndarray methods: np.f(x, ...) is written x.f(...)
METHOD_FORMS = frozenset({"sum", "mean", "max", "min", "argmax", "argmin", "reshape", "transpose", "clip", "std",
                          "var", "prod", "cumsum", "any", "all", "round", "astype", "copy", "ravel", "flatten"})
#: methods whose first positional argument is the axis
AXIS_FIRST = frozenset({"sum", "mean", "max", "min", "argmax", "argmin", "std", "var", "prod", "cumsum", "any",
                        "all"})
#: numpy functions that are operators
OPERATORS = {"dot": ast.MatMult, "matmul": ast.MatMult, "multiply": ast.Mult, "add": ast.Add,
             "subtract": ast.Sub, "divide": ast.Div, "true_divide": ast.Div, "power": ast.Pow}
#: math functions with a numpy twin
MATH_TWINS = frozenset({"exp", "log", "sqrt", "tanh", "log1p", "expm1"})
#: at most this many rounds of inlining (a helper calling a helper...) ...
INLINE_ROUNDS = 3
#: ... while the module is less than this many times its size
INLINE_GROWTH = 4


def _constant_truth(node: ast.expr) -> bool | None:
    """True / False when ``node`` is a constant condition (``False``, ``0``, ``not 1``, ``False and x``)."""
    if isinstance(node, ast.Constant):
        return bool(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _constant_truth(node.operand)
        return None if inner is None else not inner
    if isinstance(node, ast.BoolOp):
        values = [_constant_truth(v) for v in node.values]
        if isinstance(node.op, ast.And) and False in values:
            return False
        if isinstance(node.op, ast.Or) and True in values:
            return True
    return None


def _pure(node: ast.AST) -> bool:
    """No call, no assignment expression, no await/yield: evaluating it changes nothing."""
    return not any(isinstance(n, (ast.Call, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom))
                   for n in ast.walk(node))


def _loaded(tree: ast.AST) -> set[str]:
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
    return names


class _Spelling(ast.NodeTransformer):
    """numpy's (and Python's) equivalent spellings, one canonical form each."""

    def __init__(self, numpy_names: set[str], from_numpy: dict[str, str], math_names: set[str]):
        self.numpy_names, self.from_numpy, self.math_names = numpy_names, from_numpy, math_names

    def _np(self, node: ast.expr) -> str | None:
        """'f' when ``node`` is numpy's f (np.f, numpy.f, f imported from numpy), else None."""
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in self.numpy_names:
                return node.attr
            if node.value.id in self.math_names and node.attr in MATH_TWINS:
                return node.attr
        if isinstance(node, ast.Name) and node.id in self.from_numpy:
            return self.from_numpy[node.id]
        return None

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        name = self._np(node)
        if name is not None:  # every numpy alias reads np.
            return ast.copy_location(ast.Attribute(ast.Name("np", ast.Load()), name, node.ctx), node)
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        name = self.from_numpy.get(node.id)
        if name is not None and isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.Attribute(ast.Name("np", ast.Load()), name, ast.Load()), node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        func = node.func
        name = self._np(func)
        self.generic_visit(node)
        node.keywords.sort(key=lambda k: k.arg or "")
        if name in OPERATORS and len(node.args) == 2 and not node.keywords:
            return ast.copy_location(ast.BinOp(node.args[0], OPERATORS[name](), node.args[1]), node)
        if name == "negative" and len(node.args) == 1 and not node.keywords:
            return ast.copy_location(ast.UnaryOp(ast.USub(), node.args[0]), node)
        if name in ("maximum", "minimum") and len(node.args) == 2:
            node.args.sort(key=ast.dump)
        if name in METHOD_FORMS and node.args:
            method = ast.Attribute(node.args[0], name, ast.Load())
            node = ast.copy_location(ast.Call(method, node.args[1:], node.keywords), node)
            func = method
        if isinstance(func, ast.Attribute) and self._np(func) is None:
            method = func.attr
            if method == "dot" and len(node.args) == 1 and not node.keywords:
                return ast.copy_location(ast.BinOp(func.value, ast.MatMult(), node.args[0]), node)
            if method == "transpose" and not node.args and not node.keywords:
                return ast.copy_location(ast.Attribute(func.value, "T", ast.Load()), node)
            if method in AXIS_FIRST and node.args:
                node.keywords = sorted([ast.keyword("axis", node.args[0])] + node.keywords, key=lambda k: k.arg or "")
                node.args = node.args[1:]
            if method == "reshape" and len(node.args) > 1:
                node.args = [ast.Tuple(node.args, ast.Load())]
        if isinstance(func, ast.Name) and func.id == "len" and len(node.args) == 1 and not node.keywords:
            shape = ast.Attribute(node.args[0], "shape", ast.Load())
            return ast.copy_location(ast.Subscript(shape, ast.Constant(0), ast.Load()), node)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        base = node.left
        if isinstance(node.op, ast.Pow) and isinstance(base, ast.Attribute) and base.attr == "e" \
                and isinstance(base.value, ast.Name) and base.value.id == "np":
            exp = ast.Attribute(ast.Name("np", ast.Load()), "exp", ast.Load())
            return ast.copy_location(ast.Call(exp, [node.right], []), node)
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        flipped = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE}
        if len(node.ops) == 1 and isinstance(node.left, ast.Constant) and type(node.ops[0]) in flipped:
            return ast.copy_location(ast.Compare(node.comparators[0], [flipped[type(node.ops[0])]()], [node.left]),
                                     node)
        return node

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        self.generic_visit(node)
        value = node.value
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and isinstance(value, ast.BinOp) \
                and isinstance(value.left, ast.Name) and value.left.id == node.targets[0].id:
            return ast.copy_location(ast.AugAssign(node.targets[0], value.op, value.right), node)
        return node


def _body_fields(node: ast.AST) -> list[str]:
    return [f for f in ("body", "orelse", "finalbody") if isinstance(getattr(node, f, None), list)]


def _prune(body: list[ast.stmt], required: bool = True) -> list[ast.stmt]:
    """Dead code out of one block: constant branches, statements after return/raise/continue/break,
    statements that compute nothing (bare names, constants, docstrings, pure expressions, ``pass``,
    ``x = x``)."""
    out: list[ast.stmt] = []
    for stmt in body:
        for field_name in _body_fields(stmt):
            setattr(stmt, field_name, _prune(getattr(stmt, field_name), field_name == "body"))
        for handler in getattr(stmt, "handlers", []) or []:
            handler.body = _prune(handler.body)
        if isinstance(stmt, (ast.If, ast.While)):
            truth = _constant_truth(stmt.test)
            if truth is False:
                out.extend(stmt.orelse)
                continue
            if truth is True and isinstance(stmt, ast.If):
                out.extend(stmt.body)
                continue
        if isinstance(stmt, ast.Expr) and _pure(stmt.value):
            continue
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) \
                and isinstance(stmt.value, ast.Name) and stmt.value.id == stmt.targets[0].id:
            continue
        if isinstance(stmt, ast.AugAssign) and isinstance(stmt.value, ast.Constant) and (
                (isinstance(stmt.op, (ast.Add, ast.Sub)) and stmt.value.value == 0)
                or (isinstance(stmt.op, (ast.Mult, ast.Div)) and stmt.value.value == 1)):
            continue
        out.append(stmt)
        if isinstance(stmt, (ast.Return, ast.Raise, ast.Continue, ast.Break)):
            break
    return out or ([ast.Pass()] if required else [])


def _drop_unused_assignments(function: ast.AST) -> None:
    """Assignments to local names never read (``_ = 0``, a result never used): the target goes; a call in
    the value stays as a statement (it may change something)."""
    while True:
        used = _loaded(function)
        changed = False
        for node in ast.walk(function):
            for field_name in _body_fields(node):
                body, kept = getattr(node, field_name), []
                for stmt in body:
                    targets = stmt.targets if isinstance(stmt, ast.Assign) else \
                        [stmt.target] if isinstance(stmt, (ast.AugAssign, ast.AnnAssign)) else None
                    if targets and all(isinstance(t, ast.Name) and t.id not in used for t in targets):
                        changed = True
                        value = getattr(stmt, "value", None)
                        if value is not None and not _pure(value):
                            kept.append(ast.copy_location(ast.Expr(value), stmt))
                        continue
                    kept.append(stmt)
                setattr(node, field_name, kept or [ast.Pass()])
        if not changed:
            return


class _Inliner(ast.NodeTransformer):
    """Calls of the module's own helpers replaced by the helper's body, so that a method split into helpers
    and one with its helpers inlined read the same: ``f(a)`` for a top-level ``def f``, ``self.m(a)`` for a
    method of the same class, when the helper is straight-line code ending in at most one ``return``."""

    def __init__(self, functions: dict[str, ast.FunctionDef], methods: dict[str, ast.FunctionDef]):
        self.functions, self.methods = functions, methods
        self.hoisted: list[ast.stmt] = []
        self.inlined: set[str] = set()
        self.current = ""

    @staticmethod
    def inlinable(function: ast.FunctionDef) -> bool:
        body = function.body
        if function.decorator_list or function.args.vararg or function.args.kwarg:
            return False
        returns = [n for n in ast.walk(function) if isinstance(n, (ast.Return, ast.Yield, ast.YieldFrom))]
        nested = [n for n in ast.walk(function) if n is not function
                  and isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))]
        if nested or any(not isinstance(n, ast.Return) for n in returns):
            return False
        return not returns or (len(returns) == 1 and body and body[-1] is returns[0])

    def _callee(self, call: ast.Call) -> tuple[str, ast.FunctionDef, ast.expr | None] | None:
        func = call.func
        if isinstance(func, ast.Name) and func.id in self.functions:
            return func.id, self.functions[func.id], None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self" \
                and func.attr in self.methods:
            return func.attr, self.methods[func.attr], func.value
        return None

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        found = self._callee(node)
        if found is None or found[0] == self.current or any(isinstance(a, ast.Starred) for a in node.args):
            return node
        name, function, receiver = found
        params = [a.arg for a in function.args.posonlyargs + function.args.args]
        args = ([receiver] if receiver is not None else []) + list(node.args)
        if len(args) > len(params):
            return node
        bound = dict(zip(params, args))
        defaults = function.args.defaults
        for param, default in zip(params[len(params) - len(defaults):], defaults):
            bound.setdefault(param, default)
        for kw in node.keywords:
            if kw.arg is None:
                return node
            bound[kw.arg] = kw.value
        for kwarg, default in zip(function.args.kwonlyargs, function.args.kw_defaults):
            if kwarg.arg not in bound and default is not None:
                bound[kwarg.arg] = default
        body = copy.deepcopy(function.body)
        renames = {p: a.id for p, a in bound.items() if isinstance(a, ast.Name)}
        prefix = [ast.copy_location(ast.Assign([ast.Name(p, ast.Store())], a), node)
                  for p, a in bound.items() if p not in renames]
        for stmt in body:
            for sub in ast.walk(stmt):
                if isinstance(sub, ast.Name) and sub.id in renames:
                    sub.id = renames[sub.id]
        result: ast.expr = ast.Constant(None)
        if body and isinstance(body[-1], ast.Return):
            result = body.pop().value or ast.Constant(None)
        self.hoisted.extend(prefix + body)
        self.inlined.add(name)
        return ast.copy_location(result, node)

    def block(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out = []
        for stmt in body:
            for field_name in _body_fields(stmt):
                setattr(stmt, field_name, self.block(getattr(stmt, field_name)))
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.append(stmt)
                continue
            self.hoisted = []
            if _body_fields(stmt) or isinstance(stmt, ast.Try):  # the header only: the blocks were done above
                for header in ("test", "iter", "items"):
                    value = getattr(stmt, header, None)
                    if isinstance(value, list):
                        setattr(stmt, header, [self.visit(v) for v in value])
                    elif value is not None:
                        setattr(stmt, header, self.visit(value))
                out.extend(self.hoisted)
                out.append(stmt)
                continue
            new = self.visit(stmt)
            out.extend(self.hoisted)
            if isinstance(new, ast.Expr) and isinstance(new.value, ast.Constant):
                continue  # the call of a helper returning nothing
            out.append(new)
        return out


def _inline(tree: ast.Module, keep: frozenset[str]) -> None:
    """Inline the module's helpers into their callers (INLINE_ROUNDS deep) and drop helpers left uncalled
    that are not part of the assignment's interface (``keep``)."""
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    size = sum(1 for _ in ast.walk(tree))
    for _round in range(INLINE_ROUNDS):
        if sum(1 for _ in ast.walk(tree)) > INLINE_GROWTH * size:
            break  # a helper called everywhere: enough
        functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef) and _Inliner.inlinable(n)}
        inliner = _Inliner(functions, {})
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                inliner.current = node.name
                node.body = inliner.block(node.body)
        for cls in classes:
            methods = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef) and _Inliner.inlinable(n)}
            inner = _Inliner(functions, methods)
            for method in cls.body:
                if isinstance(method, ast.FunctionDef):
                    inner.current = method.name
                    method.body = inner.block(method.body)
            inliner.inlined |= inner.inlined
        if not inliner.inlined:
            break
    used = _loaded(tree)
    tree.body = [n for n in tree.body if not (isinstance(n, ast.FunctionDef) and n.name not in used
                                              and n.name not in keep)]
    for cls in classes:
        cls.body = [n for n in cls.body if not (isinstance(n, ast.FunctionDef) and n.name not in used
                                                and n.name not in keep and not n.name.startswith("__"))] \
            or [ast.Pass()]


def _imports(tree: ast.Module) -> tuple[set[str], dict[str, str], set[str]]:
    numpy_names, from_numpy, math_names = {"np", "numpy"}, {}, {"math"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "numpy":
                    numpy_names.add(alias.asname or "numpy")
                elif alias.name == "math":
                    math_names.add(alias.asname or "math")
        elif isinstance(node, ast.ImportFrom) and node.module == "numpy":
            for alias in node.names:
                from_numpy[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module == "math":
            for alias in node.names:
                if alias.name in MATH_TWINS:
                    from_numpy[alias.asname or alias.name] = alias.name
    return numpy_names, from_numpy, math_names


def canonical(source: str, keep: Iterable[str] | None = None) -> tuple[str, dict[int, int]]:
    """The source rewritten into its canonical spelling, and, for each of its lines, the line of ``source``
    it comes from. ``keep``: names that stay even when nothing calls them (the assignment's interface;
    default: every name without a leading underscore)."""
    tree = ast.parse(source)
    numpy_names, from_numpy, math_names = _imports(tree)
    tree.body = [n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom))]  # everyone's the same
    tree = _Spelling(numpy_names, from_numpy, math_names).visit(tree)
    tree.body = _prune(tree.body)
    defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    kept = frozenset(keep) if keep is not None else frozenset(n for n in defined if not n.startswith("_"))
    _inline(tree, kept)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _drop_unused_assignments(node)
            node.body = _prune(node.body)
    tree.body = _prune(tree.body)
    ast.fix_missing_locations(tree)
    text = ast.unparse(tree) + "\n"
    lines: dict[int, int] = {}
    again = ast.parse(text)
    statements = [n for n in ast.walk(tree) if isinstance(n, ast.stmt)]
    for new, old in zip((n for n in ast.walk(again) if isinstance(n, ast.stmt)), statements):
        lines[new.lineno] = getattr(old, "lineno", 0) or lines.get(new.lineno - 1, 1)
    return text, lines


# ----------------------------------------------------------------------------- normalising


def _docstring_lines(tree: ast.AST) -> set[int]:
    """Lines of bare string statements (docstrings and string 'comments')."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def _units(tree: ast.Module) -> list[tuple[int, int]]:
    """Line ranges of the order-free units: functions, methods, class headers (with their other
    statements, whose lines fall in the class's range and no method's), other top-level statements."""
    units = []
    for node in tree.body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        end = node.end_lineno or node.lineno
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    units.append((min([item.lineno] + [d.lineno for d in item.decorator_list]),
                                  item.end_lineno or item.lineno))
        units.append((start, end))
    return units


def normalise(source: str, keep: Iterable[str] | None = None, rewrite: bool = True) -> list[Token]:
    """The normalised, order-free token stream of ``source`` (raises SyntaxError when it does not parse):
    its :func:`canonical` form (``rewrite``), tokenised; each token carries the line of ``source`` it comes from."""
    origin: dict[int, int] = {}
    if rewrite:
        ast.parse(source)  # a syntax error is the submission's
        try:
            source, origin = canonical(source, keep)
        except (RecursionError, ValueError, TypeError, AttributeError, MemoryError):  # odd code: as written
            origin = {}
    tree = ast.parse(source)
    doc_lines = _docstring_lines(tree)
    units = _units(tree)
    # innermost unit first, so a method's tokens go to the method, not its class
    by_size = sorted(range(len(units)), key=lambda u: units[u][1] - units[u][0])
    line_unit: dict[int, int] = {}
    for u in by_size:
        for line in range(units[u][0], units[u][1] + 1):
            line_unit.setdefault(line, u)
    streams: dict[int, list[Token]] = {u: [] for u in range(len(units))}
    previous = None
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in _DROPPED:
            continue
        if tok.type == tokenize.STRING and tok.start[0] in doc_lines:
            continue
        if tok.type == tokenize.NEWLINE and previous is None:
            continue
        if tok.type == tokenize.NAME:
            after_dot = previous is not None and previous.string == "."
            kept = tok.string in KEPT_ATTRIBUTES if after_dot else tok.string in KEPT_NAMES
            text = tok.string if kept else "V"
        elif tok.type == tokenize.NUMBER:
            text = "N"
        elif tok.type == tokenize.STRING:
            text = "S"
        elif tok.type == tokenize.NEWLINE:
            if previous is not None and previous.type == tokenize.NEWLINE:
                continue
            text = ";"
        else:
            text = tok.string
        unit = line_unit.get(tok.start[0], -1)
        line = origin.get(tok.start[0], tok.start[0])
        streams.setdefault(unit, []).append(Token(text, line, line))
        previous = tok
    ordered = sorted((s for s in streams.values() if s), key=lambda s: [t.text for t in s])
    return [Token(t.text, t.line, t.end_line, u) for u, s in enumerate(ordered) for t in s]


def _hash(texts: Iterable[str]) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(texts).encode(), digest_size=8).digest(), "big")


def kgram_hashes(tokens: list[Token], k: int = K) -> list[int]:
    texts = [t.text for t in tokens]
    return [_hash(texts[i:i + k]) for i in range(len(texts) - k + 1)]


def winnow(hashes: list[int], window: int = WINDOW) -> set[int]:
    """The minimum hash of every window of ``window`` consecutive hashes (all of them for a short file)."""
    if len(hashes) <= window:
        return set(hashes)
    return {min(hashes[i:i + window]) for i in range(len(hashes) - window + 1)}


def fingerprint(name: str, source: str, k: int = K, window: int = WINDOW,
                keep: Iterable[str] | None = None, rewrite: bool = True) -> Fingerprinted:
    try:
        tokens = normalise(source, keep, rewrite)
    except (SyntaxError, ValueError, tokenize.TokenError) as exc:
        return Fingerprinted(name, source, [], [], set(), error=f"does not parse: {exc}")
    hashes = kgram_hashes(tokens, k)
    return Fingerprinted(name, source, tokens, hashes, winnow(hashes, window))


# ----------------------------------------------------------------------------- comparing


def _covered(hashes: list[int], ignored: set[int], k: int, count: int) -> list[bool]:
    """Token positions inside at least one k-gram whose hash is in ``ignored``."""
    cover = [False] * count
    for i, h in enumerate(hashes):
        if h in ignored:
            for j in range(i, min(count, i + k)):
                cover[j] = True
    return cover


def _regions(a: Fingerprinted, b: Fingerprinted, shared: set[int], k: int) -> list[Region]:
    """Greedy maximal runs of identical, shared k-grams of A found in B (each B position used once)."""
    where_b: dict[int, list[int]] = {}
    for j, h in enumerate(b.hashes):
        if h in shared:
            where_b.setdefault(h, []).append(j)
    used_b: set[int] = set()
    regions = []
    i = 0
    while i < len(a.hashes):
        h = a.hashes[i]
        if h not in shared:
            i += 1
            continue
        best_j, best_t = -1, 0
        for j in where_b.get(h, [])[:50]:
            if j in used_b:
                continue
            t = 0
            while (i + t < len(a.hashes) and j + t < len(b.hashes) and a.hashes[i + t] == b.hashes[j + t]
                   and a.hashes[i + t] in shared):
                t += 1
            if t > best_t:
                best_j, best_t = j, t
        if best_t == 0:
            i += 1
            continue
        used_b.update(range(best_j, best_j + best_t))
        regions.extend(_split_by_unit(a, b, i, best_j, best_t + k - 1))
        i += best_t
    return regions


def _split_by_unit(a: Fingerprinted, b: Fingerprinted, i: int, j: int, length: int) -> list[Region]:
    """A matched run cut where either side moves to another function or class, so that each region
    shows as one block of source on each side."""
    regions, start = [], 0
    for t in range(1, length + 1):
        if t == length or a.tokens[i + t].unit != a.tokens[i + t - 1].unit \
                or b.tokens[j + t].unit != b.tokens[j + t - 1].unit:
            region = Region(i + start, j + start, t - start)
            region.a_lines = sorted({n for tok in a.tokens[i + start:i + t] for n in range(tok.line, tok.end_line + 1)})
            region.b_lines = sorted({n for tok in b.tokens[j + start:j + t] for n in range(tok.line, tok.end_line + 1)})
            regions.append(region)
            start = t
    return regions


def interface_names(skeletons: Iterable[str]) -> frozenset[str] | None:
    """The functions, classes and methods the skeletons define (kept even when the module never calls them)."""
    names: set[str] = set()
    found = False
    for text in skeletons:
        found = True
        names.update(n.name for n in ast.walk(ast.parse(text))
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))
    return frozenset(names) if found else None


def shared_kgrams(authors: Mapping[str, Iterable[str]], k: int = K, keep: Iterable[str] | None = None,
                  least: int = 2, rewrite: bool = True) -> set[int]:
    """The k-gram hashes found in the solutions of at least ``least`` authors (author -> their sources):
    the code any solution of the assignment shares, subtracted like the skeleton."""
    seen: Counter = Counter()
    for texts in authors.values():
        mine: set[int] = set()
        for text in texts:
            mine.update(fingerprint("corpus", text, k, keep=keep, rewrite=rewrite).hashes)
        seen.update(mine)
    return {h for h, n in seen.items() if n >= least}


#: the shipped fingerprints of the code every solution shares (python -m benchmarks.similarity --write-common)
COMMON_FILE = Path(__file__).with_name("similarity_common.json")


def shipped_common(k: int = K) -> set[int]:
    """The fingerprints of :data:`COMMON_FILE` (empty when it was made for other parameters or is missing)."""
    try:
        data = json.loads(COMMON_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if data.get("k") != k or data.get("normalisation") != NORMALISATION:
        return set()
    return {int(h, 16) for h in data["hashes"]}


def compare(sources: Mapping[str, str], skeletons: Iterable[str] = (), *, k: int = K, window: int = WINDOW,
            threshold: float = THRESHOLD, min_tokens: int = MIN_TOKENS, max_share: int = MAX_SHARE,
            skeleton_names: Iterable[str] = (), common: Iterable[int] = (), rewrite: bool = True) -> SimilarityReport:
    """Compare every pair of ``sources`` (name -> Python source); ``skeletons``: the given code; ``common``:
    k-gram hashes of code any solution shares (:func:`shared_kgrams`), subtracted like the skeleton;
    ``rewrite`` False: tokens of the source as written (no :func:`canonical` form; for comparison)."""
    skeletons = list(skeletons)
    keep = interface_names(skeletons)
    subs = {name: fingerprint(name, text, k, window, keep, rewrite) for name, text in sources.items()}
    given: set[int] = set(common)
    for text in skeletons:
        skeleton = fingerprint("skeleton", text, k, window, keep, rewrite)
        if skeleton.error:
            raise ValueError(f"the skeleton {skeleton.error}")
        given.update(skeleton.hashes)
    share = Counter(h for s in subs.values() for h in set(s.hashes))
    boiler = given | {h for h, n in share.items() if n > max_share}
    own, common = {}, {}
    for name, sub in subs.items():
        cover = _covered(sub.hashes, boiler, k, len(sub.tokens))
        own[name] = len(cover) - sum(cover)
        not_given = len(sub.tokens) - sum(_covered(sub.hashes, given, k, len(sub.tokens)))
        if not sub.error:
            common[name] = round((not_given - own[name]) / not_given, 4) if not_given else 0.0
    index: dict[int, list[str]] = {}
    for name, sub in subs.items():
        for h in sub.fingerprints - boiler:
            index.setdefault(h, []).append(name)
    candidates: set[tuple[str, str]] = set()
    for names in index.values():
        candidates.update(itertools.combinations(sorted(names), 2))
    pairs = []
    for a_name, b_name in sorted(candidates):
        a, b = subs[a_name], subs[b_name]
        shared = (set(a.hashes) & set(b.hashes)) - boiler
        regions = _regions(a, b, shared, k)
        a_cover = [False] * len(a.tokens)
        b_cover = [False] * len(b.tokens)
        for r in regions:
            a_cover[r.a_start:r.a_start + r.length] = [True] * r.length
            b_cover[r.b_start:r.b_start + r.length] = [True] * r.length
        a_boiler = _covered(a.hashes, boiler, k, len(a.tokens))
        b_boiler = _covered(b.hashes, boiler, k, len(b.tokens))
        matched_a = sum(c and not bo for c, bo in zip(a_cover, a_boiler))
        matched_b = sum(c and not bo for c, bo in zip(b_cover, b_boiler))
        score_a = matched_a / own[a_name] if own[a_name] else 0.0
        score_b = matched_b / own[b_name] if own[b_name] else 0.0
        matched = max(matched_a, matched_b)
        flagged = max(score_a, score_b) >= threshold and matched >= min_tokens
        regions.sort(key=lambda r: -r.length)
        pairs.append(Pair(a_name, b_name, min(score_a, 1.0), min(score_b, 1.0), matched, regions, flagged))
    pairs.sort(key=lambda p: (-p.score, p.a, p.b))
    params = {"k": k, "window": window, "threshold": threshold, "min_tokens": min_tokens, "max_share": max_share}
    return SimilarityReport(subs, pairs, params, list(skeleton_names), common)


# ----------------------------------------------------------------------------- finding the files


def default_skeleton() -> Path | None:
    """The release ``mlp.py`` of the repository checkout, when there is one."""
    from ..build import ASSIGNMENT

    for root in (Path.cwd(), Path(__file__).resolve().parents[2]):
        candidate = root / "assignment" / ASSIGNMENT / "mlp.py"
        if candidate.is_file():
            return candidate
    return None


def read_submissions(folders: Mapping[str, Path], config: dict | None = None) -> dict[str, str]:
    """student -> source of its mlp.py, read safely (``autograder.submission``: no symbolic link followed,
    regular files of at most ``[sandbox] max_source_kb``); students without a readable one are left out."""
    from ..config import load_config
    from ..submission import read_or_none

    config = config or load_config()
    sources = {}
    for student, folder in folders.items():
        module = read_or_none(folder, config)
        if module is not None:
            sources[student] = module.source.decode("utf-8", errors="replace")
    return sources


def run(submissions: Path | Mapping[str, Path], skeletons: Iterable[Path] | None = None,
        **options) -> SimilarityReport:
    """Compare the submissions (a batch folder, or student -> folder) against the skeletons (default: the release),
    the code every solution shares (default: the shipped fingerprints) subtracted."""
    options.setdefault("common", shipped_common(options.get("k", K)))
    if isinstance(submissions, Path):
        from ..workflows.batch import discover

        submissions = discover(submissions)
    if skeletons is None:
        found = default_skeleton()
        skeletons = [found] if found else []
    skeletons = list(skeletons)
    return compare(read_submissions(submissions), [p.read_text() for p in skeletons],
                   skeleton_names=[str(p) for p in skeletons], **options)


# ----------------------------------------------------------------------------- HTML


PALETTE = ["#ffe08a", "#a8e6cf", "#ffb3c1", "#b5d0ff", "#e0c3fc", "#ffd6a5", "#caffbf", "#9bf6ff"]


def _lines_html(sub: Fingerprinted, lines: list[int], color: str, context: int = 0) -> str:
    text = sub.lines
    shown = sorted({n for line in lines for n in range(line - context, line + context + 1) if 1 <= n <= len(text)})
    rows, last = [], None
    for n in shown:
        if last is not None and n != last + 1:
            rows.append('<span class="gap">⋮</span>')
        mark = f' style="background:{color}"' if n in lines else ""
        rows.append(f'<span class="ln">{n:4d}</span><span{mark}>{html.escape(text[n - 1]) or " "}</span>')
        last = n
    return "<pre class=\"code\">" + "\n".join(rows) + "</pre>"


def pair_html(report: SimilarityReport, pair: Pair, max_regions: int = 6) -> str:
    a, b = report.submissions[pair.a], report.submissions[pair.b]
    rows = []
    for i, region in enumerate(pair.regions[:max_regions]):
        color = PALETTE[i % len(PALETTE)]
        rows.append(f"<tr><td>{_lines_html(a, region.a_lines, color)}</td>"
                    f"<td>{_lines_html(b, region.b_lines, color)}</td></tr>")
    more = len(pair.regions) - max_regions
    note = f"<p class=\"muted\">{more} smaller matched regions not shown.</p>" if more > 0 else ""
    return (f'<details class="pair"><summary><b>{html.escape(pair.a)}</b> ↔ <b>{html.escape(pair.b)}</b>: '
            f"{pair.score_a:.0%} of {html.escape(pair.a)}'s own code and {pair.score_b:.0%} of "
            f"{html.escape(pair.b)}'s matched ({pair.matched_tokens} tokens, {len(pair.regions)} regions)</summary>"
            f'<table class="side"><tr><th>{html.escape(pair.a)}</th><th>{html.escape(pair.b)}</th></tr>'
            + "".join(rows) + "</table>" + note + "</details>")


def section_html(report: SimilarityReport, max_pairs: int = 25, open_first: int = 3) -> str:
    """The similarity section of the class report: groups, the flagged pairs side by side, the closest others."""
    p = report.params
    parts = [f"<p>Token winnowing over normalised Python tokens of a canonical form of the code (names, literals, "
             f"comments, docstrings, the order of functions, numpy's equivalent spellings, dead code and the split "
             f"into helpers ignored; k = {p['k']} tokens, window {p['window']}); the code independent solutions of "
             f"the assignment share, the release skeleton"
             f"{' (' + html.escape(', '.join(Path(s).name for s in report.skeletons)) + ')' if report.skeletons else ''}"
             f" and code shared by more than {p['max_share']} submissions are subtracted. Flagged: at least "
             f"{p['threshold']:.0%} of one side's own code in matched regions and at least {p['min_tokens']} "
             f"tokens. A flag is a reason to read the code, not a verdict.</p>"]
    if not report.skeletons:
        parts.append('<p class="warn">No skeleton was given: the code handed out counts as matching.</p>')
    widely = sorted(n for n, f in report.common.items() if f >= 0.5)
    if widely:
        parts.append(f'<p class="warn" id="widely-shared">{len(widely)} submission{"s are" if len(widely) != 1 else " is"}'
                     f" mostly (≥ 50 % of the own code) made of code found in more than {p['max_share']} "
                     "submissions, which is not compared: a common idiom, or one solution shared widely. Rerun "
                     f"with a larger --max-share to compare them: {html.escape(', '.join(widely))}.</p>")
    unreadable = {n: s.error for n, s in report.submissions.items() if s.error}
    if unreadable:
        parts.append(f"<p class=\"muted\">Not compared (syntax errors): {html.escape(', '.join(sorted(unreadable)))}</p>")
    flagged = report.flagged
    if not flagged:
        parts.append(f"<p><b>No pair flagged</b> among {len(report.submissions)} submissions.</p>")
    else:
        groups = report.groups()
        parts.append(f"<p><b>{len(flagged)} pair{'s' if len(flagged) != 1 else ''} flagged</b> among "
                     f"{len(report.submissions)} submissions, in {len(groups)} group{'s' if len(groups) != 1 else ''}:</p>"
                     "<ul>" + "".join(f"<li>{len(g)} students: {html.escape(', '.join(g))}</li>" for g in groups)
                     + "</ul>")
    listed = flagged[:max_pairs] + [q for q in report.pairs if not q.flagged and q.matched_tokens >= p["min_tokens"]][:10]
    rows = "".join(f"<tr class=\"{'flag' if q.flagged else ''}\"><td>{html.escape(q.a)}</td><td>{html.escape(q.b)}</td>"
                   f"<td class=\"num\">{q.score:.0%}</td><td class=\"num\">{q.score_a:.0%}</td>"
                   f"<td class=\"num\">{q.score_b:.0%}</td><td class=\"num\">{q.matched_tokens}</td>"
                   f"<td>{'flagged' if q.flagged else 'closest below the threshold'}</td></tr>" for q in listed)
    if rows:
        parts.append('<table class="data" id="similarity-pairs"><tr><th>A</th><th>B</th><th class="num">score</th>'
                     '<th class="num">of A</th><th class="num">of B</th><th class="num">tokens</th><th></th></tr>'
                     + rows + "</table>")
    if len(report.pairs) > len(listed):
        parts.append(f"<p class=\"muted\">{len(report.pairs) - len(listed)} other pairs share some code "
                     "(in similarity.json).</p>")
    for i, pair in enumerate(flagged[:max_pairs]):
        block = pair_html(report, pair)
        parts.append(block.replace("<details", "<details open", 1) if i < open_first else block)
    return "\n".join(parts)


# ----------------------------------------------------------------------------- command


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mlp-grade similarity", description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="one submission per subfolder, as for mlp-grade batch")
    parser.add_argument("--skeleton", type=Path, action="append",
                        help="the code handed out (repeatable; default: assignment/mlp_backprop/mlp.py of the "
                             "checkout)")
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    parser.add_argument("--min-tokens", type=int, default=MIN_TOKENS)
    parser.add_argument("--max-share", type=int, default=MAX_SHARE)
    parser.add_argument("--out", type=Path, help="write an HTML page with the matched regions side by side")
    parser.add_argument("--json", type=Path, help="write every compared pair as JSON")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder")
    if args.skeleton is None and default_skeleton() is None:
        print("mlp-grade similarity: warning: no skeleton (pass --skeleton): the given code counts as matching",
              file=sys.stderr)
    report = run(args.submissions, args.skeleton, threshold=args.threshold, min_tokens=args.min_tokens,
                 max_share=args.max_share)
    for pair in report.flagged:
        print(f"{pair.score:4.0%}  {pair.a} <-> {pair.b}  ({pair.score_a:.0%} / {pair.score_b:.0%}, "
              f"{pair.matched_tokens} tokens)")
    print(f"{len(report.flagged)} flagged pairs among {len(report.submissions)} submissions", file=sys.stderr)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_dict(), indent=1))
    if args.out:
        from .page import page

        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(page("Similarity", [("Similarity (instructor only)", section_html(report))]),
                            encoding="utf-8")
        print(f"side by side: {args.out}", file=sys.stderr)
    return 0
