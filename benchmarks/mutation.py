"""Mutation testing of the grader: the grader is a test suite, and its strength is what it catches.

    python -m benchmarks.mutation [--style reference layers ...] [--jobs 2] [--limit K]

A *mutant* is a correct solution with one small change (an operator, a
comparison, a constant, an axis, a dropped ``.T`` or division, a swapped
reduction, a deleted statement...), made with :mod:`ast` on the code a
student writes (between the release's solution markers for the reference;
every contract function but the given ``MLP.__init__`` for the other
styles). Each mutant is classified *behaviourally* against its unmutated
style by :func:`battery`, which calls the contract on fixed random inputs in
a subprocess (forward, input unchanged, params re-read, loss on ordinary and
extreme scores, backward with ``batch_sz == N`` and ``!= N``, repeated and
after another forward, compute_grad, a short training run, predict):

* ``equivalent``: every contract output equal (rtol 1e-7): must keep 100;
* ``differing``: some contract output differs or raises: must lose points;
* ``history``: only the training history differs, which the grader does not
  grade (its format is free; the notebook plots it): reported, not scored.

Each is then graded with the real :func:`autograder.grade` on every check
but the MNIST accuracy one (it trains for a minute and is the end-to-end
backstop; the loop's contract is judged on stand-ins). The mutation score
is the share of differing mutants that lose points; a *false deduction* is
an equivalent mutant below full marks.
"""
from __future__ import annotations

import argparse
import ast
import copy
import json
import multiprocessing
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "source" / "mlp_backprop" / "mlp.py"
STYLES = {
    "reference": SOURCE,
    **{p.stem: p for p in sorted((ROOT / "tests" / "alternatives").glob("*.py"))},
}
RESULTS = Path(__file__).with_name("results")
#: every check but the MNIST accuracy one
CHECKS = ["interface", "onehot", "forward", "predict", "loss", "gradient", "compute_grad", "train"]

# ----------------------------------------------------------------------------- mutation operators

BINOP_SWAPS = {ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.Div], ast.Div: [ast.Mult],
               ast.MatMult: [ast.Mult], ast.FloorDiv: [ast.Div], ast.Pow: [ast.Mult]}
COMPARE_SWAPS = {ast.Gt: [ast.GtE, ast.Lt], ast.GtE: [ast.Gt], ast.Lt: [ast.LtE, ast.Gt], ast.LtE: [ast.Lt],
                 ast.Eq: [ast.NotEq], ast.NotEq: [ast.Eq]}
METHOD_SWAPS = {"max": ["min", "mean"], "min": ["max"], "sum": ["mean"], "mean": ["sum"], "argmax": ["argmin"],
                "maximum": ["minimum"], "exp": ["log"], "log": ["exp"], "permutation": ["arange"]}


@dataclass(frozen=True)
class Mutant:
    """One small change of a style's module: where, which operator, the text before and after."""

    style: str
    index: int
    line: int
    operator: str
    before: str
    after: str
    text: str

    def describe(self) -> str:
        return f"{self.style}#{self.index} line {self.line} [{self.operator}] {self.before!r} -> {self.after!r}"


def _changes(node: ast.AST):
    """(operator, replacement node or source text) for one node: the mutation points it offers."""
    def clone(**fields):
        """A copy of ``node`` with ``fields`` replaced."""
        twin = copy.deepcopy(node)
        for key, value in fields.items():
            setattr(twin, key, value)
        return twin

    if isinstance(node, ast.BinOp):
        for op in BINOP_SWAPS.get(type(node.op), []):
            yield "operator", clone(op=op())
        if isinstance(node.op, (ast.Div, ast.Mult, ast.Add, ast.Sub, ast.FloorDiv)):
            yield "drop right operand", node.left
    elif isinstance(node, ast.Compare) and len(node.ops) == 1:
        for op in COMPARE_SWAPS.get(type(node.ops[0]), []):
            yield "comparison", clone(ops=[op()])
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
        values = {node.value + 1, 1 - node.value if node.value in (0, 1) else node.value * 2}
        for value in sorted(values - {node.value}):
            yield "constant", ast.Constant(type(node.value)(value))
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield "constant", ast.Constant(not node.value)
    elif isinstance(node, ast.Attribute) and node.attr == "T":
        yield "drop .T", node.value
    elif isinstance(node, ast.Attribute) and node.attr in METHOD_SWAPS:
        for other in METHOD_SWAPS[node.attr]:
            yield "function", clone(attr=other)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield "drop minus", node.operand
    elif isinstance(node, ast.Call) and node.keywords:
        for i, kw in enumerate(node.keywords):
            if kw.arg in ("axis", "keepdims"):
                yield f"drop {kw.arg}=", clone(keywords=node.keywords[:i] + node.keywords[i + 1:])
            if kw.arg == "axis" and isinstance(kw.value, ast.Constant) and kw.value.value in (0, 1):
                flipped = ast.keyword(arg="axis", value=ast.Constant(1 - kw.value.value))
                yield "axis", clone(keywords=node.keywords[:i] + [flipped] + node.keywords[i + 1:])
    elif isinstance(node, ast.AugAssign) and type(node.op) in (ast.Add, ast.Sub):
        yield "operator", clone(op=ast.Sub() if isinstance(node.op, ast.Add) else ast.Add())
    if isinstance(node, (ast.Assign, ast.AugAssign)) or (isinstance(node, ast.Expr) and not (
            isinstance(node.value, ast.Constant) and isinstance(node.value.value, str))):
        yield "delete statement", "pass"


def _eligible_lines(text: str) -> set[int]:
    """Lines of code a student writes in a style without solution markers: every function body but the
    given ``MLP.__init__`` and helpers whose name starts with ``_``."""
    eligible = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not (node.name == "MLP" and item.name == "__init__"):
                    eligible |= set(range(item.body[0].lineno, item.end_lineno + 1))
        elif isinstance(node, ast.FunctionDef) and not node.name.startswith("_") and node.col_offset == 0:
            eligible |= set(range(node.body[0].lineno, node.end_lineno + 1))
    return eligible


def _offsets(text: str) -> list[int]:
    """Byte offset of the start of each line (1-based index; ast columns are UTF-8 byte offsets)."""
    starts, total = [0, 0], 0
    for line in text.encode().splitlines(keepends=True):
        total += len(line)
        starts.append(total)
    return starts


def mutants(style: str) -> list[Mutant]:
    """Every mutant of ``style``, in a fixed order (by position, then operator)."""
    text, eligible = _submitted(style)
    raw, starts, found, tree = text.encode(), _offsets(text), [], ast.parse(text)
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) not in eligible or getattr(node, "end_lineno", None) not in eligible:
            continue
        lo = starts[node.lineno] + node.col_offset
        hi = starts[node.end_lineno] + node.end_col_offset
        before = raw[lo:hi].decode()
        for operator, change in _changes(node):
            after = change if isinstance(change, str) else ast.unparse(change)
            if after == before:
                continue
            if isinstance(change, ast.expr) and not isinstance(node, ast.stmt):
                after = f"({after})" if "\n" not in after else after
            mutated = (raw[:lo] + after.encode() + raw[hi:]).decode()
            try:
                ast.parse(mutated)
            except SyntaxError:
                continue
            found.append((node.lineno, node.col_offset, operator, before, after, mutated))
    found.sort(key=lambda m: m[:5])
    # one mutant per distinct program (the first operator to make it), none the same program as the original
    unique: dict[str, tuple | None] = {ast.dump(tree): None}
    for line, _col, op, before, after, mutated in found:
        unique.setdefault(ast.dump(ast.parse(mutated)), (line, op, before, after, mutated))
    return [Mutant(style, i, *fields) for i, fields in enumerate(f for f in unique.values() if f is not None)]


# ----------------------------------------------------------------------------- behaviour


def battery(path: str) -> dict[str, object]:
    """Call the contract of the module at ``path`` on fixed inputs; name -> array, or 'error: Type'.

    Keys starting with ``history`` are the training history (not graded)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("mutant_mlp", path)
    mod = importlib.util.module_from_spec(spec)
    out: dict[str, object] = {}

    def record(key, fn):
        try:
            value = fn()
            if isinstance(value, dict):
                for k in sorted(value):
                    out[f"{key}.{k}"] = np.array(value[k], dtype=np.float64)
            else:
                out[key] = np.array(value, dtype=np.float64)
        except BaseException as exc:  # noqa: BLE001 - a mutant may raise anything
            out[key] = f"error: {type(exc).__name__}"

    try:
        spec.loader.exec_module(mod)
    except BaseException as exc:  # noqa: BLE001
        return {"import": f"error: {type(exc).__name__}"}
    rng = np.random.default_rng(20261206)
    n, d, h, c = 7, 13, 19, 4

    def params():
        return {"W1": rng.standard_normal((d, h)) / np.sqrt(d), "b1": rng.standard_normal(h) * 0.5,
                "W2": rng.standard_normal((h, c)) / np.sqrt(h), "b2": rng.standard_normal(c) * 0.5}

    def model(p):
        m = mod.MLP(d, h, c, seed=0)
        for k in m.params:
            m.params[k][...] = p[k]
        return m

    labels = np.array([0, 1, 2, 3, 1, 0, 2])
    record("onehot", lambda: mod.make_labels_onehot(labels, c))
    p, x, x2 = params(), rng.standard_normal((n, d)), rng.standard_normal((n, d))
    x_copy = x.copy()
    record("forward", lambda: model(p).forward(x))
    record("forward.input_unchanged", lambda: np.array_equal(x, x_copy))

    def reread():
        m = model(p)
        m.forward(x)
        m.params["W1"] = p["W1"] * 0.5
        m.params["b2"] += 1.0
        return m.forward(x)
    record("forward.reread", reread)
    upstream = rng.standard_normal((n, c))

    def backward(batch_sz, before=None, twice=False):
        def run():
            m = model(p)
            if before is not None:
                m.forward(before)
            m.forward(x)
            grads = m.backward(upstream, batch_sz)
            return m.backward(upstream, batch_sz) if twice else grads
        return run
    record("backward.n", backward(n))
    record("backward.odd", backward(n + 3))
    record("backward.twice", backward(n, twice=True))
    record("backward.latest", backward(n, before=x2))

    def loss(scores):
        def run():
            m = model(p)
            m.forward = lambda data: scores.copy()
            fn = mod.SoftmaxCrossEntropy(m, c)
            return {"loss": fn.forward(x, labels), "probs": fn.probs}
        return run
    level = np.resize([1000.0, -3000.0, -1000.0], n)[:, None]
    for name, scores in {"random": 3 * rng.standard_normal((n, c)), "equal": np.full((n, c), 0.7),
                         "within": np.tile([1000.0, -1000.0, 900.0, -1100.0], (n, 1)) + rng.uniform(-1, 1, (n, c)),
                         "across": level + rng.uniform(-2, 2, (n, c))}.items():
        record(f"loss.{name}", loss(scores))

    def compute_grad():
        m, seen = model(p), {}
        m.backward = lambda g, b: seen.update(upstream=np.array(g), batch_sz=b) or {}
        fn = mod.SoftmaxCrossEntropy(m, c)
        fn.forward(x, labels)
        fn.compute_grad(labels, n + 2)
        return seen
    record("compute_grad", compute_grad)

    def end_to_end():
        fn = mod.SoftmaxCrossEntropy(model(p), c)
        fn.forward(x, labels)
        return fn.compute_grad(labels, n)
    record("end_to_end", end_to_end)

    def train():
        m = model(p)
        data, y = rng.standard_normal((11, d)), np.arange(11) % c
        history = mod.train_mlp_neuralnet(m, mod.SoftmaxCrossEntropy(m, c), data, y, 0.1, 4, 2, seed=3)
        record("history", lambda: {k: np.asarray(v, dtype=np.float64).reshape(-1)
                                   for k, v in (history or {}).items()})
        return m.params
    record("train", train)
    record("predict", lambda: mod.predict(model(p), x))
    return out


def _battery_subprocess(text: str, timeout: float = 60) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "mlp.py", Path(tmp) / "out.json"
        path.write_text(text)
        code = ("import json, sys, numpy as np; from benchmarks.mutation import battery; r = battery(sys.argv[1]); "
                "json.dump({k: v if isinstance(v, str) else {'shape': list(v.shape), 'v': v.reshape(-1).tolist()} "
                "for k, v in r.items()}, open(sys.argv[2], 'w'))")
        try:
            subprocess.run([sys.executable, "-c", code, str(path), str(out)], cwd=ROOT, timeout=timeout,
                           capture_output=True, env={"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"})
            raw = json.loads(out.read_text())
        except (subprocess.TimeoutExpired, OSError, ValueError):
            return {"battery": "error: timeout or crash"}
    return {k: v if isinstance(v, str) else np.array(v["v"], dtype=np.float64).reshape(v["shape"])
            for k, v in raw.items()}


def same(a: object, b: object) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-7, atol=1e-10, equal_nan=True))


def classify(reference: dict[str, object], mutant: dict[str, object]) -> str:
    """'equivalent', 'history' (only the ungraded training history differs) or 'differing'."""
    keys = set(reference) | set(mutant)
    differ = {k for k in keys if k not in reference or k not in mutant or not same(reference[k], mutant[k])}
    if not differ:
        return "equivalent"
    return "history" if all(k.startswith("history") for k in differ) else "differing"


# ----------------------------------------------------------------------------- grading


def grade_text(text: str) -> tuple[float, float, list[str]]:
    """Score, maximum and the names of the checks below full marks, for a module's text."""
    from autograder import grade

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "mlp.py").write_text(text)
        result = grade(tmp, only=CHECKS, lang="en")
    lost = [r.name for r in result.checks if r.score < r.max_score]
    return result.score, result.max_score, lost


def judge(mutant: Mutant, reference: dict[str, object]) -> dict:
    """Classify and grade one mutant against its style's ``reference`` behaviour: the row of the mutation table."""
    kind = classify(reference, _battery_subprocess(mutant.text))
    score, maximum, lost = grade_text(mutant.text)
    ok = (kind == "differing" and score < maximum) or (kind == "equivalent" and score == maximum) or kind == "history"
    return {**{k: v for k, v in asdict(mutant).items() if k != "text"}, "kind": kind, "score": score,
            "max": maximum, "lost": lost, "ok": ok}


def _submitted(style: str) -> tuple[str, set[int]]:
    """The module of ``style`` as a student submits it (the reference's solution markers removed), and the
    numbers of its lines a student writes (between the markers; for the other styles, ``_eligible_lines``)."""
    source = STYLES[style].read_text()
    if style != "reference":
        return source, _eligible_lines(source)
    kept, eligible, inside = [], set(), False
    for line in source.splitlines():
        if "### BEGIN SOLUTION" in line or "### END SOLUTION" in line:
            inside = "BEGIN" in line
            continue
        kept.append(line)
        if inside:
            eligible.add(len(kept))
    return "\n".join(kept) + "\n", eligible


def mutant_base(style: str) -> str:
    """The unmutated module of ``style`` as a student submits it."""
    return _submitted(style)[0]


def sample(items: list, k: int) -> list:
    """``k`` items spread evenly over ``items`` (a deterministic sample)."""
    if k >= len(items):
        return list(items)
    return [items[round(i * (len(items) - 1) / (k - 1))] for i in range(k)] if k > 1 else items[:1]


def _judge_in_worker(args):
    mutant, reference = args
    return judge(mutant, reference)


def _verdict(row: dict) -> str:
    return (f"{'SURVIVOR' if row['kind'] == 'differing' else 'FALSE DEDUCTION'}: {row['style']}#{row['index']} "
            f"line {row['line']} [{row['operator']}] {row['before']!r} -> {row['after']!r}: "
            f"{row['score']:g}/{row['max']:g} {row['lost']}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mutation")
    parser.add_argument("--style", nargs="+", default=["reference", "layers"], choices=sorted(STYLES))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="an evenly spread sample of this many per style")
    args = parser.parse_args(argv)
    started, rows = time.monotonic(), []
    for style in args.style:
        reference = _battery_subprocess(mutant_base(style))
        score, maximum, lost = grade_text(mutant_base(style))
        assert score == maximum, f"the unmutated {style} scores {score}/{maximum} ({lost})"
        todo = mutants(style)
        todo = sample(todo, args.limit) if args.limit else todo
        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            for done, row in enumerate(pool.imap(_judge_in_worker, [(m, reference) for m in todo]), 1):
                rows.append(row)
                print(f"\r{style}: {done}/{len(todo)} graded", end="", flush=True)
                if not row["ok"]:
                    print(f"\r  {_verdict(row)}", flush=True)
        print()
    figures = {}
    for style in args.style:
        mine = [r for r in rows if r["style"] == style]
        differing = [r for r in mine if r["kind"] == "differing"]
        equivalent = [r for r in mine if r["kind"] == "equivalent"]
        killed = sum(r["score"] < r["max"] for r in differing)
        false = sum(r["score"] < r["max"] for r in equivalent)
        figures[style] = {"mutants": len(mine), "differing": len(differing), "killed": killed,
                          "equivalent": len(equivalent), "false_deductions": false,
                          "history_only": sum(r["kind"] == "history" for r in mine),
                          "score": killed / len(differing) if differing else 1.0}
        print(f"{style}: {len(mine)} mutants: {len(differing)} differing, {killed} killed "
              f"(mutation score {figures[style]['score']:.1%}); {len(equivalent)} equivalent, {false} false "
              f"deductions; {figures[style]['history_only']} differ only in the ungraded history")
    for row in rows:
        if not row["ok"]:
            print(f"  {_verdict(row)}")
    print(f"({time.monotonic() - started:.0f} s)")
    report = {"styles": figures, "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "mutation.json").write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
