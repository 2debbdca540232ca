"""Interface: the module compiles and imports; each contract name exists with its signature.

Presence and signatures are read from the source text with ``ast`` in the
grader's process (nothing the student's code says about itself is believed);
the import is tried in the sandbox.
"""
from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass

from ..i18n import N_, _
from .base import Check, Context, Verdict, failure

#: what a stub of the release gets (the class report recognises the skeleton as handed in by them)
STUB_FUNCTION = N_("{name}: not implemented yet (it raises NotImplementedError)")
STUB_METHODS = N_("{names}: not implemented yet (raise NotImplementedError)")

#: the subject of the import's failures (the runner's message starts with it too)
IMPORTING = N_("importing mlp.py")

#: contract name -> {callable: expected parameter names (without self)}
CONTRACT: dict[str, dict[str, tuple[str, ...]]] = {
    "make_labels_onehot": {"make_labels_onehot": ("labels", "num_cls")},
    "MLP": {"__init__": ("num_in", "num_hid_neurons", "num_cls", "seed"),
            "forward": ("data",), "backward": ("upstream_grad", "batch_sz")},
    "SoftmaxCrossEntropy": {"__init__": ("model", "num_cls"), "forward": ("data", "labels"),
                            "compute_grad": ("labels", "batch_sz")},
    "train_mlp_neuralnet": {"train_mlp_neuralnet": ("model", "loss_fn", "data", "labels", "lr", "batch_sz",
                                                    "num_epochs", "seed")},
    "predict": {"predict": ("model", "data")},
}


def parse_module(source: bytes) -> tuple[ast.Module | None, str]:
    """The syntax tree of mlp.py's bytes, or None and what the student must fix (empty file, not UTF-8 text
    (or the encoding its coding line declares), the line of a syntax error)."""
    try:
        encoding, _lines = tokenize.detect_encoding(io.BytesIO(source).readline)
        text = source.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError) as exc:
        line = source[:getattr(exc, "start", 0)].count(b"\n") + 1
        return None, _("mlp.py is not UTF-8 text (line {line}): save it with the UTF-8 encoding").format(line=line)
    if not text.strip():
        return None, _("mlp.py is empty: submit the file with your code in it")
    try:
        return ast.parse(text), ""
    except SyntaxError as exc:
        return None, _("mlp.py has a syntax error on line {line}: {error}").format(line=exc.lineno, error=exc.msg)
    except ValueError as exc:
        return None, _("mlp.py cannot be parsed: {error}").format(error=exc)


def _params(fn: ast.FunctionDef) -> list[str]:
    args = fn.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    return names[1:] if names and names[0] in ("self", "cls") else names


def _signature_problem(fn: ast.FunctionDef, expected: tuple[str, ...], label: str) -> str:
    got = _params(fn)
    positional = [a.arg for a in fn.args.posonlyargs + fn.args.args]
    positional = positional[1:] if positional and positional[0] in ("self", "cls") else positional
    if positional[:len(expected)] != list(expected):
        return _("{function} takes ({got}); the contract is ({expected})").format(
            function=label, got=", ".join(got), expected=", ".join(expected))
    n_defaults = len(fn.args.defaults)
    required_extra = positional[len(expected):len(positional) - n_defaults]
    if required_extra:
        return _("{function} has extra required parameter(s) {names}; give them defaults").format(
            function=label, names=", ".join(required_extra))
    return ""


def is_stub(fn: ast.FunctionDef) -> bool:
    """True when the body raises NotImplementedError at its top level (the release's stubs do)."""
    for stmt in fn.body:
        if isinstance(stmt, ast.Raise) and stmt.exc is not None:
            target = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
            if isinstance(target, ast.Name) and target.id == "NotImplementedError":
                return True
    return False


def find_problem(tree: ast.Module, name: str) -> str:
    """'' when ``name`` is defined at top level with the contract's signature, else why not."""
    top = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    assigned = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                if isinstance(t, ast.Name)}
    node = top.get(name)
    if node is None:
        return "" if name in assigned else _("mlp.py does not define {name}").format(name=name)
    spec = CONTRACT[name]
    if isinstance(node, ast.FunctionDef):
        if name not in spec:
            return _("{name} must be a class").format(name=name)
        return _signature_problem(node, spec[name], f"{name}()") or (
            _(STUB_FUNCTION).format(name=name) if is_stub(node) else "")
    if name in spec:
        return _("{name} must be a function, not a class").format(name=name)
    methods = {n.name: n for n in node.body if isinstance(n, ast.FunctionDef)}
    problems, stubs = [], []
    for method, expected in spec.items():
        if method not in methods:
            problems.append(_("{name} is missing").format(name=f"{name}.{method}"))
        else:
            problem = _signature_problem(methods[method], expected, f"{name}.{method}()")
            problems += [problem] if problem else []
            stubs += [f"{name}.{method}"] if is_stub(methods[method]) else []
    if not problems and stubs:
        problems.append(_(STUB_METHODS).format(names=", ".join(stubs)))
    return "; ".join(problems)


@dataclass
class InterfaceCheck(Check):
    """``symbol`` exists at the top level of mlp.py with the contract's signature, and mlp.py imports."""

    symbol: str
    TITLE = N_("{symbol} exists with the contract's signature")

    def __post_init__(self):
        self.name = f"interface.{self.symbol}"
        self.title = self.TITLE.format(symbol=self.symbol)
        self.subject = self.symbol

    def heading(self) -> str:
        return _(self.TITLE).format(symbol=self.symbol)

    def run(self, ctx: Context) -> Verdict:
        tree, problem = parse_module(ctx.source)
        if tree is None:
            return Verdict.failed(problem)
        problem = find_problem(tree, self.symbol)
        if problem:
            return Verdict.failed(problem)
        outcome = ctx.probe("import", {}, share="import")
        if not outcome.ok and outcome.status != "not_implemented":
            return failure(outcome, _(IMPORTING))
        return Verdict.passed()
