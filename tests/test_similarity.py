"""The similarity check: disguised copies are found, independent solutions from the same skeleton are not.

Independent solutions: the reference solution and the correct alternative
styles of ``tests/alternatives/`` (written separately, all from the release
skeleton). Planted copies: one of them with its variables, helpers and
attributes renamed, its functions, classes and methods reordered and its
comments and docstrings rewritten (``disguise``).
"""
from __future__ import annotations

import ast
import builtins
import copy as copy_module
import io
import random
import tokenize

CONTRACT = {"make_labels_onehot", "MLP", "SoftmaxCrossEntropy", "train_mlp_neuralnet", "predict", "forward",
            "backward", "compute_grad", "__init__", "params", "data", "hidden_layer_output", "probs", "model",
            "num_cls", "np", "numpy", "self"}
WORDS = ["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta", "zeta", "rho"]
COMMENTS = ["# step", "# see lecture 4", "# TODO tidy up", "# this works", "# as in the slides", "# careful here"]


def disguise(source: str, seed: int = 0) -> str:
    """What a student hiding a copy does: rename the variables, helpers and attributes, reorder the
    functions, classes and methods, rewrite the docstrings and put other comments elsewhere.
    The signatures of the contract stay (the grader reads them)."""
    rng = random.Random(seed)
    tree = ast.parse(source)
    params = {a.arg for node in ast.walk(tree) if isinstance(node, ast.arguments)
              for a in node.posonlyargs + node.args + node.kwonlyargs + [x for x in (node.vararg, node.kwarg) if x]}
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            bound.add(node.attr)
    in_fstrings = {n.id for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
                   for n in ast.walk(node) if isinstance(n, ast.Name)}  # tokenize sees f-strings whole (3.11)
    bound -= CONTRACT | params | in_fstrings | set(dir(builtins))
    rename = {name: f"{rng.choice(WORDS)}_{i}" for i, name in enumerate(sorted(bound))}
    tokens = [tok._replace(string=rename[tok.string]) if tok.type == tokenize.NAME and tok.string in rename else tok
              for tok in tokenize.generate_tokens(io.StringIO(source).readline)]
    tree = ast.parse(tokenize.untokenize(tokens))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                body[0].value.value = rng.choice(["My solution.", "Homework 2.", "Implemented as asked."])
            if isinstance(node, (ast.Module, ast.ClassDef)):
                head = [s for s in body if not isinstance(s, (ast.FunctionDef, ast.ClassDef))]
                defs = [s for s in body if isinstance(s, (ast.FunctionDef, ast.ClassDef))]
                rng.shuffle(defs)
                node.body = head + defs
    lines = []
    for line in ast.unparse(tree).splitlines():  # ast.unparse drops every comment: write others
        stripped = line.lstrip()
        if stripped and not stripped.startswith(('"', "'", "else", "elif", "except", "finally")) and rng.random() < 0.2:
            lines.append(line[: len(line) - len(stripped)] + rng.choice(COMMENTS))
        lines.append(line)
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- more disguises (benchmarks.similarity)


def _parse_functions(tree: ast.Module):
    """(owner class or None, function) for every top-level function and method."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            yield None, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    yield node, item


def dead_code(source: str, seed: int = 0) -> str:
    """Padding: ``if False:`` blocks holding copies of real statements, ``_ = 0`` and bare names between
    statements, ``pass``, unused helper functions and methods."""
    rng = random.Random(seed)
    tree = ast.parse(source)
    for owner, function in list(_parse_functions(tree)):
        body, padded = function.body, []
        for stmt in body:
            padded.append(stmt)
            roll = rng.random()
            if roll < 0.25:
                padded.append(ast.parse(f"_ = {rng.randint(0, 9)}").body[0])
            elif roll < 0.4:
                padded.append(ast.If(ast.Constant(False), [copy_module.deepcopy(rng.choice(body))], []))
            elif roll < 0.5:
                padded.append(ast.Expr(ast.Name(function.args.args[0].arg if function.args.args else "None",
                                                ast.Load())))
            elif roll < 0.6:
                padded.append(ast.Pass())
        if isinstance(padded[-1], (ast.Return, ast.Raise)) is False and rng.random() < 0.5:
            padded.append(ast.Pass())
        function.body = padded
        if owner is not None and rng.random() < 0.5:
            owner.body.append(ast.parse(f"def _unused_{function.name}(self, values):\n"
                                        "    total = np.abs(values).sum(axis=0)\n"
                                        "    return total / (np.max(total) + 1e-12)\n").body[0])
    for i in range(2):
        tree.body.append(ast.parse(f"def _spare_{i}(x, scale={i + 2}):\n    y = np.tanh(x) * scale\n"
                                   f"    z = y - y.mean(axis=0)\n    return z / (z.std() + 1e-8)\n").body[0])
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


class _Respell(ast.NodeTransformer):
    """numpy's other spellings: ``np.dot`` / ``.dot`` for ``@``, ``np.sum(x)`` for ``x.sum()``,
    ``np.transpose`` for ``.T``, ``len`` for ``.shape[0]``, ``a = a + b`` for ``a += b``, ``0 < z``."""

    def __init__(self, rng: random.Random, np_name: str):
        self.rng, self.np = rng, np_name

    def _np(self, attr: str) -> ast.Attribute:
        return ast.Attribute(ast.Name(self.np, ast.Load()), attr, ast.Load())

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.MatMult):
            if self.rng.random() < 0.5:
                return ast.Call(self._np("dot"), [node.left, node.right], [])
            return ast.Call(ast.Attribute(node.left, "dot", ast.Load()), [node.right], [])
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("sum", "mean", "max", "reshape") and not (
                isinstance(func.value, ast.Name) and func.value.id in ("np", self.np)):
            return ast.Call(self._np(func.attr), [func.value, *node.args], node.keywords)
        return node

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if node.attr == "T" and isinstance(node.ctx, ast.Load):
            return ast.Call(self._np("transpose"), [node.value], [])
        if isinstance(node.value, ast.Name) and node.value.id == "np":
            node.value.id = self.np
        return node

    def visit_Subscript(self, node):
        self.generic_visit(node)
        if isinstance(node.value, ast.Attribute) and node.value.attr == "shape" and \
                isinstance(node.slice, ast.Constant) and node.slice.value == 0:
            return ast.Call(ast.Name("len", ast.Load()), [node.value.value], [])
        return node

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        if isinstance(node.target, ast.Name):
            return ast.Assign([node.target], ast.BinOp(ast.Name(node.target.id, ast.Load()), node.op, node.value))
        return node

    def visit_Compare(self, node):
        self.generic_visit(node)
        if len(node.ops) == 1 and isinstance(node.ops[0], ast.Gt) and isinstance(node.comparators[0], ast.Constant):
            return ast.Compare(node.comparators[0], [ast.Lt()], [node.left])
        return node


def numpy_spellings(source: str, seed: int = 0) -> str:
    """Every ``@``, ``.sum()``, ``.T``, ``.shape[0]``, ``+=`` and ``z > 0`` spelled the other way, numpy
    imported under another name."""
    tree = ast.parse(source)
    tree = _Respell(random.Random(seed), "numpy_lib").visit(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "numpy":
                    alias.asname = "numpy_lib"
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def split_helpers(source: str, seed: int = 0) -> str:
    """Each function and method of 3 statements or more ending in ``return`` cut in two: its second half moved
    into a new helper (a method for a method) that takes what it needs and that the first half calls."""
    rng = random.Random(seed)
    tree = ast.parse(source)
    for owner, function in list(_parse_functions(tree)):
        body = function.body
        if len(body) < 3 or not isinstance(body[-1], ast.Return):
            continue
        cut = rng.randint(1, len(body) - 1)
        head, tail = body[:cut], body[cut:]
        params = [a.arg for a in function.args.args]
        bound = set(params) | {n.id for s in head for n in ast.walk(s) if isinstance(n, ast.Name)
                               and isinstance(n.ctx, ast.Store)}
        needed = sorted({n.id for s in tail for n in ast.walk(s) if isinstance(n, ast.Name)} & bound - {"self"})
        name = f"_{function.name}_part{cut}"
        helper = ast.FunctionDef(name, ast.arguments([], [ast.arg(a) for a in (["self"] if owner else []) + needed],
                                                     None, [], [], None, []), tail, [], None)
        call_func = ast.Attribute(ast.Name("self", ast.Load()), name, ast.Load()) if owner else ast.Name(name, ast.Load())
        function.body = head + [ast.Return(ast.Call(call_func, [ast.Name(a, ast.Load()) for a in needed], []))]
        (owner.body if owner else tree.body).append(helper)
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def inline_helpers(source: str, seed: int = 0) -> str:
    """Calls of the module's functions and of a class's own methods (``x = f(a)``, ``return self.g(a)``)
    replaced by the callee's statements, its parameters bound by assignments; helpers left uncalled are
    deleted (the contract's functions stay). Callees: straight-line code ending in their only return."""
    tree = ast.parse(source)

    def straight(function):
        returns = [n for n in ast.walk(function) if isinstance(n, ast.Return)]
        nested = [n for n in ast.walk(function) if n is not function and isinstance(n, (ast.FunctionDef, ast.Lambda))]
        return len(returns) == 1 and function.body[-1] is returns[0] and not nested and not function.args.defaults

    functions = {f.name: f for o, f in _parse_functions(tree) if o is None and straight(f)}
    methods = {(o.name, f.name): f for o, f in _parse_functions(tree) if o is not None and straight(f)}
    inlined = set()
    for owner, function in list(_parse_functions(tree)):
        body = []
        for stmt in function.body:
            value = stmt.value if isinstance(stmt, (ast.Assign, ast.Return)) else None
            callee, receiver, call = None, [], None
            for node in ast.walk(value) if value is not None else ():
                if isinstance(node, ast.Call) and not node.keywords:
                    if isinstance(node.func, ast.Name):
                        callee, receiver = functions.get(node.func.id), []
                    elif isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) \
                            and node.func.value.id == "self" and owner is not None:
                        callee, receiver = methods.get((owner.name, node.func.attr)), ["self"]
                    if callee is not None and callee is not function:
                        call = node
                        break
            if call is None:
                body.append(stmt)
                continue
            params = [a.arg for a in callee.args.args]
            args = [ast.unparse(a) for a in call.args]
            lines = [f"{p} = {a}" for p, a in zip(params, receiver + args) if p != a]
            inner = copy_module.deepcopy(callee.body)
            result = inner.pop().value
            body += [ast.parse(line).body[0] for line in lines] + inner

            class Put(ast.NodeTransformer):
                def visit_Call(self, node):
                    return result if node is call else self.generic_visit(node)

            stmt.value = Put().visit(stmt.value)
            body.append(stmt)
            inlined.add(callee.name)
        function.body = body
    for owner, function in list(_parse_functions(tree)):
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | \
            {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        if function.name in inlined and function.name not in CONTRACT and function.name not in used:
            holder = owner if owner is not None else tree
            holder.body = [n for n in holder.body if n is not function] or [ast.Pass()]
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def everything(source: str, seed: int = 0) -> str:
    """All the disguises at once."""
    return disguise(numpy_spellings(dead_code(split_helpers(inline_helpers(source, seed), seed), seed), seed), seed)


#: the disguises of a copy, each on top of renaming and reordering (``disguise``)
DISGUISES = {
    "renamed + reordered": lambda text, seed: disguise(text, seed),
    "dead code": lambda text, seed: disguise(dead_code(text, seed), seed),
    "numpy spellings": lambda text, seed: disguise(numpy_spellings(text, seed), seed),
    "split helpers": lambda text, seed: disguise(split_helpers(text, seed), seed),
    "inlined helpers": lambda text, seed: disguise(inline_helpers(text, seed), seed),
    "all of them": everything,
}


# ----------------------------------------------------------------------------- the tests

import itertools  # noqa: E402
import json  # noqa: E402

import subprocess  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402

from autograder.cli import main as cli  # noqa: E402
from autograder.instructor import similarity  # noqa: E402
from conftest import FAST, RELEASE, ROOT, SOLUTION  # noqa: E402

ALTERNATIVES = ROOT / "tests" / "alternatives"
SKELETON = RELEASE.read_text()


def independent() -> dict[str, str]:
    """Correct solutions written separately from the same skeleton."""
    found = {"reference": SOLUTION.read_text()}
    found.update({p.stem: p.read_text() for p in sorted(ALTERNATIVES.glob("*.py"))})
    assert len(found) >= 5
    return found


def pair(report: similarity.SimilarityReport, a: str, b: str) -> similarity.Pair | None:
    a, b = sorted([a, b])
    return next((p for p in report.pairs if (p.a, p.b) == (a, b)), None)


def test_independent_solutions_from_the_same_skeleton_are_not_flagged():
    report = similarity.compare(independent(), [SKELETON])
    assert not report.flagged, [(p.a, p.b, p.score) for p in report.flagged]
    scores = {(p.a, p.b): round(p.score, 3) for p in report.pairs}
    # measured: at most 0.36 (einsum_logsumexp / reference, same author); the threshold leaves a margin
    assert max(scores.values()) < similarity.THRESHOLD - 0.1, scores


@pytest.mark.parametrize("original", sorted(independent()))
def test_disguised_copies_are_flagged_against_their_original_only(original):
    sources = independent()
    copy_a, copy_b = disguise(sources[original], seed=1), disguise(sources[original], seed=2)
    assert copy_a != sources[original] and copy_a != copy_b
    sources.update({"copy_a": copy_a, "copy_b": copy_b})
    report = similarity.compare(sources, [SKELETON])
    flagged = {(p.a, p.b) for p in report.flagged}
    expected = {tuple(sorted(x)) for x in itertools.combinations([original, "copy_a", "copy_b"], 2)}
    assert flagged == expected, [(p.a, p.b, round(p.score, 3)) for p in report.pairs[:6]]
    for a, b in expected:
        found = pair(report, a, b)
        assert min(found.score_a, found.score_b) >= 0.9, (a, b, found.score_a, found.score_b)
        assert found.regions and found.matched_tokens >= similarity.MIN_TOKENS
    assert report.groups() == [sorted([original, "copy_a", "copy_b"])]


def test_the_disguise_is_a_real_disguise_that_still_works():
    original = SOLUTION.read_text()
    copy = disguise(original, seed=3)
    assert "hidden = self.hidden_layer_output" not in copy and "grad_hidden" not in copy  # renamed
    assert "#" in copy and "Notation used in every docstring" not in copy  # other comments and docstrings
    order = [line.split("(")[0] for line in copy.splitlines() if line.startswith(("def ", "class "))]
    assert order != [line.split("(")[0] for line in original.splitlines() if line.startswith(("def ", "class "))]
    compile(copy, "copy.py", "exec")


@pytest.mark.slow
def test_a_disguised_copy_grades_like_its_original(submit):
    from autograder import grade

    original = grade(submit(SOLUTION.read_text()), only=FAST)
    copy = grade(submit(disguise(SOLUTION.read_text(), seed=4)), only=FAST)
    assert copy.score == original.score == copy.max_score


def test_the_skeleton_is_subtracted():
    # two students who filled in only the one-line predict, the same way, on top of the release
    line = "    return np.argmax(model.forward(data), axis=1)\n"
    stub = "\n".join(SKELETON.splitlines()) + "\n"
    body = 'raise NotImplementedError("predict is not implemented yet")'
    assert body in stub
    a, b = stub.replace(body, line.strip()), stub.replace(body, "return model.forward(data).argmax(axis=1)")
    sources = {"stub1": SKELETON, "stub2": SKELETON, "a": a, "b": b}
    with_skeleton = similarity.compare(sources, [SKELETON])
    assert not with_skeleton.flagged
    assert all(p.score == 0 or p.matched_tokens < similarity.MIN_TOKENS for p in with_skeleton.pairs)
    without = similarity.compare(sources, [])
    assert {(p.a, p.b) for p in without.flagged} >= {("stub1", "stub2")}, "the skeleton alone looks copied"


def test_normalisation_ignores_names_comments_docstrings_and_order():
    one = '"""Doc."""\nimport numpy as np\n\ndef f(x):\n    # add\n    y = x + 1\n    return np.sum(y)\n\n' \
          'def g(a):\n    return a * 2\n'
    two = 'import numpy as np\n\ndef helper(q):\n    """Other doc."""\n    return q * 3\n\n' \
          'def f(data):\n    total = data + 7  # plus\n    return np.sum(total)\n'
    assert [t.text for t in similarity.normalise(one)] == [t.text for t in similarity.normalise(two)]
    three = 'import numpy as np\n\ndef f(x):\n    y = x + 1\n    return np.mean(y)\n\ndef g(a):\n    return a * 2\n'
    assert [t.text for t in similarity.normalise(one)] != [t.text for t in similarity.normalise(three)]


def test_winnowing_keeps_a_minimum_of_every_window():
    hashes = [5, 3, 8, 1, 9, 7, 2, 6, 4]
    picked = similarity.winnow(hashes, 4)
    assert picked == {min(hashes[i:i + 4]) for i in range(len(hashes) - 3)} == {1, 2}


def test_command_writes_the_side_by_side_page_and_json(tmp_path):
    subs = tmp_path / "submitted"
    texts = {"ann": SOLUTION.read_text(), "bob": disguise(SOLUTION.read_text(), seed=5),
             "cat": (ALTERNATIVES / "layers.py").read_text(), "dan": "def broken(:\n", "eve": RELEASE.read_text()}
    for i, (student, text) in enumerate(texts.items()):
        folder = subs / student / ("mlp_backprop" if i % 2 else "")
        folder.mkdir(parents=True)
        (folder / "mlp.py").write_text(text)
    out, data = tmp_path / "sim.html", tmp_path / "pairs.json"
    assert cli(["similarity", str(subs), "--skeleton", str(RELEASE), "--out", str(out), "--json", str(data)]) == 0
    pairs = json.loads(data.read_text())
    assert [(p["a"], p["b"]) for p in pairs["pairs"] if p["flagged"]] == [("ann", "bob")]
    assert pairs["unreadable"].keys() == {"dan"} and pairs["skeletons"] == [str(RELEASE)]
    page = out.read_text()
    assert '<table class="side">' in page and "ann</b> ↔ <b>bob" in page and "http" not in page.split("<footer")[0]
    assert "Not compared (syntax errors): dan" in page


# ----------------------------------------------------------------------------- disguise: canonical form, shared code

STYLES = ROOT / "tests" / "similarity_corpus"


def test_the_canonical_form_reads_respellings_dead_code_and_helpers_alike():
    def tokens(source: str) -> list[str]:
        return [t.text for t in similarity.normalise(source)]

    base = "import numpy as np\n\ndef f(a, b):\n    s = a @ b\n    return s.sum(axis=0) / len(a)\n"
    alike = {
        "numpy spellings": "import numpy as xp\n\ndef f(a, b):\n    s = xp.dot(a, b)\n"
                           "    return xp.sum(s, 0) / a.shape[0]\n",
        "dead code": "import numpy as np\n\ndef f(a, b):\n    _ = 0\n    s = a.dot(b)\n    if False:\n        s = s * 2\n"
                     "    unused = s + 1\n    s\n    pass\n    return np.sum(s, axis=0) / len(a)\n    s = 3\n\n"
                     "def _spare(x):\n    return x * 2\n",
        "split helper": "import numpy as np\n\ndef _product(a, b):\n    return np.matmul(a, b)\n\n"
                        "def f(a, b):\n    s = _product(a, b)\n    return s.sum(axis=0) / len(a)\n",
    }
    for kind, source in alike.items():
        assert tokens(source) == tokens(base), kind
    assert tokens(base.replace(".sum(", ".mean(")) != tokens(base)  # another computation stays another
    assert tokens(base.replace("a @ b", "a * b")) != tokens(base)


@pytest.mark.parametrize("original", ["reference", "dlfs_textbook"])
def test_every_kind_of_disguised_copy_is_flagged(original):
    text = independent()[original]
    for kind, make in DISGUISES.items():
        copy = make(text, 3)
        compile(copy, kind, "exec")
        found = similarity.compare({"original": text, "copy": copy}, [SKELETON]).pairs[0]
        assert found.flagged and min(found.score_a, found.score_b) >= 0.9, (kind, found.score_a, found.score_b)
    # the disguises are real: token winnowing of the code as written loses most of the copy
    plain = similarity.compare({"original": text, "copy": DISGUISES["all of them"](text, 3)}, [SKELETON],
                               rewrite=False).pairs[0]
    assert min(plain.score_a, plain.score_b) < 0.7, (plain.score_a, plain.score_b)


def test_code_every_solution_shares_is_subtracted():
    """Two solutions written separately close to the lecture: alike once normalised, told apart when the code
    the other independent solutions (reference, alternatives) share is subtracted."""
    pair = {p.stem: p.read_text() for p in sorted(STYLES.glob("*.py"))}
    assert len(pair) == 2
    others = {name: [text] for name, text in independent().items()}
    keep = similarity.interface_names([SKELETON])
    common = similarity.shared_kgrams(others, keep=keep)
    alone = similarity.compare(pair, [SKELETON]).pairs[0]
    subtracted = similarity.compare(pair, [SKELETON], common=common).pairs[0]
    assert subtracted.score < alone.score - 0.1, (alone.score, subtracted.score)
    assert not subtracted.flagged and subtracted.score < similarity.THRESHOLD - 0.1, subtracted.score


def test_the_shipped_fingerprints_are_those_of_the_corpus(tmp_path):
    from benchmarks.similarity import write_common

    fresh = tmp_path / "common.json"
    write_common(fresh)
    assert json.loads(fresh.read_text()) == json.loads(similarity.COMMON_FILE.read_text()), \
        "rebuild: python -m benchmarks.similarity --write-common"
    assert len(similarity.shipped_common()) > 100


def test_the_command_flags_a_disguised_copy_and_no_independent_solution(tmp_path):
    subs = tmp_path / "submitted"
    texts = {"ann": SOLUTION.read_text(), "bob": DISGUISES["all of them"](SOLUTION.read_text(), 5),
             "cat": (STYLES / "textbook_minibatch.py").read_text(), "dan": (STYLES / "lecture_notes.py").read_text(),
             "eve": (ALTERNATIVES / "layers.py").read_text(), "fay": DISGUISES["split helpers"](
                 (ALTERNATIVES / "layers.py").read_text(), 6)}
    for student, text in texts.items():
        (subs / student).mkdir(parents=True)
        (subs / student / "mlp.py").write_text(text)
    run = subprocess.run([sys.executable, "-m", "autograder", "similarity", str(subs), "--skeleton", str(RELEASE),
                          "--json", str(tmp_path / "pairs.json")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    pairs = json.loads((tmp_path / "pairs.json").read_text())["pairs"]
    assert sorted((p["a"], p["b"]) for p in pairs if p["flagged"]) == [("ann", "bob"), ("eve", "fay")], \
        [(p["a"], p["b"], p["score"]) for p in pairs[:5]]
