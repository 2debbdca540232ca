"""Backward pass: shapes, numerical-gradient agreement, batch averaging, side effects.

The grader holds no analytic backward. It judges ``backward(G, batch_sz)``,
whose exact answer is the gradient of the linear loss
``L = sum(G * scores) / batch_sz`` for any upstream G (N, C), against
centred differences in float64:

* consistency: differences of the *student's* forward (catches backward bugs
  whatever forward does; a forward that ignores a parameter earns nothing);
* correctness: differences of the *specified* network (code that returns
  zeros everywhere is consistent, and fails here).
"""
from __future__ import annotations

import numpy as np

from .. import reference as ref
from ..i18n import N_, _, parse
from .base import Check, Context, Verdict, constant, failure
from .forward import OnehotValues, dims_text, network_case

NAMES = ref.PARAM_NAMES
SUBJECT = "MLP.backward"
GRAD_CALLS = ("MLP.forward", SUBJECT)


def _cases(ctx: Context, salt: str, count: int, dims=None, batch_sz=None) -> list[dict[str, np.ndarray]]:
    rng = ctx.rng(salt)
    cases = []
    for _case in range(count):
        case = network_case(rng, dims)
        n, c = case["x"].shape[0], case["W2"].shape[1]
        case["upstream"] = rng.standard_normal((n, c))
        case["batch_sz"] = np.array(batch_sz(rng, n) if batch_sz else n)
        cases.append(case)
    return cases


def pack(cases: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {f"c{i}_{k}": v for i, case in enumerate(cases) for k, v in case.items()}


def main_cases(ctx: Context) -> list[dict[str, np.ndarray]]:
    """The hidden random cases shared by the consistency and correctness checks."""
    return _cases(ctx, "gradient.main", int(ctx.config["gradient"]["cases"]))


def run_backward(ctx: Context, cases, share: str | None = None, **options) -> tuple[object, list]:
    outcome = ctx.probe("backward", pack(cases), {"cases": len(cases), **options}, share=share)
    grads = []
    if outcome.ok:
        grads = [{k: outcome.arrays[f"c{i}_grad_{k}"] for k in NAMES} for i in range(len(cases))]
    return outcome, grads


def shape_problems(grads: dict[str, np.ndarray], case: dict[str, np.ndarray]) -> list[str]:
    n = case["x"].shape[0]
    problems = []
    for name in NAMES:
        got, expected = tuple(grads[name].shape), case[name].shape
        if got == expected:
            continue
        if name.startswith("b") and got in ((n,), (n, expected[0])):
            text = _("the {name} gradient has shape {got}, expected {expected} (the shape of {name}): "
                     "sum over axis 0, the batch")
        elif len(expected) == 2 and got == expected[::-1]:
            text = _("the {name} gradient has shape {got}, expected {expected} (the shape of {name}): "
                     "it is transposed (W1: data.T @ ..., W2: hidden.T @ ...)")
        else:
            text = _("the {name} gradient has shape {got}, expected {expected} (the shape of {name})")
        problems.append(text.format(name=name, got=got, expected=expected))
    return problems


#: the hints of a pure averaging slip: gradient.batch_averaging's business, left out by the other gradient checks
AVERAGING_HINTS = (
    N_("your {name} gradient is {factor} (batch_sz) times too large: divide by batch_sz once"),
    N_("your {name} gradient is divided by batch_sz twice: divide once, in backward only"),
    N_("your {name} gradient is divided by N = data.shape[0] instead of batch_sz"),
    N_("your {name} gradient is divided by both N and batch_sz (averaged twice: a mean over the batch and "
       "/ batch_sz): divide by batch_sz once"),
)
#: a finding of ``compare`` from the numerical differences
RELATIVE_ERROR = N_("relative error {error}")


def is_averaging(hint: str) -> bool:
    """True for a hint of :data:`AVERAGING_HINTS` (in any language)."""
    return any(parse(template, hint) is not None for template in AVERAGING_HINTS)


def ratio_hint(name: str, analytic: np.ndarray, numeric: np.ndarray, n: int, batch_sz: int) -> str:
    """Name a constant-factor slip: missing or doubled averaging, N instead of batch_sz, sign."""
    a, m = analytic.reshape(-1), numeric.reshape(-1)
    mask = ~np.isnan(m)
    a, m = a[mask], m[mask]
    if not np.any(m) or not np.any(a):
        return _("your {name} gradient is all zeros").format(name=name) if not np.any(a) else ""
    k = float(a @ m / (m @ m))
    if np.linalg.norm(a - k * m) > 1e-4 * np.linalg.norm(a):
        return ""
    too_large, twice, by_n, by_both = AVERAGING_HINTS
    hints = [
        (batch_sz, too_large),
        (1 / batch_sz, twice),
        (batch_sz / n, by_n),
        (1 / n, by_both),
        (-1.0, N_("your {name} gradient has the wrong sign")),
    ]
    for factor, hint in hints:
        if factor != 1 and np.isclose(k, factor, rtol=1e-3):
            return _(hint).format(name=name, factor=batch_sz)
    return _("your {name} gradient is {factor} times the right one").format(name=name, factor=f"{k:.4g}")


def compare(grads: dict[str, np.ndarray], numeric: dict[str, np.ndarray], case: dict[str, np.ndarray],
            threshold: float) -> dict[str, tuple[str, str]]:
    """Per parameter that disagrees: (finding, likely cause or ''); agreeing parameters are left out."""
    n, batch_sz = case["x"].shape[0], int(case["batch_sz"])
    verdicts = {}
    for name in NAMES:
        analytic = grads[name]
        if not np.all(np.isfinite(analytic)):
            verdicts[name] = (_("NaN or inf"), "")
            continue
        err = ref.rel_error(analytic, numeric[name])
        if err > threshold:
            hint = ratio_hint(name, analytic, numeric[name], n, batch_sz) or _relu_hint(name, grads, case)
            verdicts[name] = (_(RELATIVE_ERROR).format(error=f"{err:.2e}"), hint)
    return verdicts


def _relu_hint(name: str, grads: dict[str, np.ndarray], case: dict[str, np.ndarray]) -> str:
    if name not in ("W1", "b1"):
        return ""
    x, g, bs = case["x"], case["upstream"], int(case["batch_sz"])
    pre = x @ case["W1"] + case["b1"]
    through = g @ case["W2"].T
    candidates = {
        N_("the ReLU mask is missing: multiply the gradient flowing into the hidden layer by (hidden > 0)"): through,
        N_("the ReLU mask is inverted: pass gradient where the pre-activation is > 0"): through * (pre <= 0),
        N_("the ReLU mask is applied to the wrong array: mask with the hidden pre-activation (or the ReLU output) "
           "> 0"): through * (x @ case["W1"] > 0) if not np.array_equal(x @ case["W1"] > 0, pre > 0) else None,
    }
    for hint, grad_hidden in candidates.items():
        if grad_hidden is None:
            continue
        guess = x.T @ grad_hidden / bs if name == "W1" else grad_hidden.sum(axis=0) / bs
        if guess.shape == grads[name].shape and np.allclose(guess, grads[name], rtol=1e-6, atol=1e-9):
            return _(hint)
    if all(np.allclose(grads[k], 0) for k in ("W1", "b1")):
        return ""
    return _("W2 and b2 may be right while W1/b1 are not: check upstream_grad @ W2.T and the ReLU mask")


def true_gradient(case: dict[str, np.ndarray], h: float, samples: int | None = None,
                  rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    """Centred differences of the specified network for ``case`` (every coordinate, or ``samples`` per parameter).

    Returns name -> array of the parameter's shape, NaN where not sampled.
    """
    params = {k: case[k] for k in NAMES}
    coords = ref.perturbation_coords({k: v.shape for k, v in params.items()}, samples, rng)
    numeric = ref.true_grads(params, case["x"], case["upstream"], int(case["batch_sz"]), h, coords)
    return {k: v.reshape(case[k].shape) for k, v in numeric.items()}


def score_parameters(per_case: list[dict[str, tuple[str, str]]], head: str, threshold: float,
                     excused: set[str] = frozenset()) -> Verdict:
    """Equal shares of the points for the parameters tested (not ``excused``) that agree in every case;
    parameters with one cause share one line."""
    tested = [k for k in NAMES if k not in excused]
    failing = {name: next(c[name] for c in per_case if name in c) for name in tested
               if any(name in c for c in per_case)}
    if not tested:
        return Verdict.failed(head + _("nothing could be tested"))
    if not failing:
        return Verdict.passed()
    by_hint: dict[str, list[tuple[str, str]]] = {}
    for name, (finding, hint) in failing.items():
        by_hint.setdefault(hint, []).append((name, finding))
    clauses = [", ".join(_("{name} {finding}").format(name=name, finding=finding) for name, finding in found)
               + (_(" (threshold {threshold})").format(threshold=f"{threshold:g}")
                  if any(parse(RELATIVE_ERROR, finding) is not None for _name, finding in found) else "")
               + (f"; {hint}" if hint else "") for hint, found in by_hint.items()]
    return Verdict((len(tested) - len(failing)) / len(tested), head + "; ".join(clauses))


def fails(ctx: Context, check: Check) -> bool:
    """Whether ``check`` loses points on this submission (run once per grading): a check may leave a finding
    to another one only when that one fails."""
    return ctx.remember(check.name + ".verdict", lambda: check.run(ctx)).fraction < 1


def constant_gradients(grads: dict[str, np.ndarray]) -> list[str]:
    """Parameters whose gradient holds one value throughout (zeros, say): nothing is computed for them."""
    return [k for k in NAMES if constant(grads[k])]


NOTHING_COMPUTED = N_("MLP.backward returns constant gradients (zeros?) for {names}: it does not compute them yet")


class GradientShapes(Check):
    name, title, subject = "gradient.shapes", N_("MLP.backward returns one gradient per parameter, same shape"), SUBJECT
    calls = GRAD_CALLS

    def run(self, ctx: Context) -> Verdict:
        cases = _cases(ctx, self.name, 1)
        outcome, grads = run_backward(ctx, cases)
        if not outcome.ok:
            return failure(outcome, self.subject)
        problems = shape_problems(grads[0], cases[0])
        flat = [k for k in constant_gradients(grads[0]) if grads[0][k].shape == cases[0][k].shape]
        if flat:
            problems.append(_(NOTHING_COMPUTED).format(names=", ".join(flat)))
        if not problems:
            return Verdict.passed()
        wrong = len(NAMES) - sum(1 for k in NAMES if grads[0][k].shape == cases[0][k].shape and k not in flat)
        return Verdict((len(NAMES) - wrong) / len(NAMES), f"({dims_text(cases[0])}) " + "; ".join(problems))


class _NumericalCheck(Check):
    """Template: analytic gradients of ``cases`` from the sandbox, judged against ``numeric`` per case.

    A parameter wrong only by a pure averaging slip (a factor batch_sz, 1/batch_sz, batch_sz/N, 1/N) is
    left to gradient.batch_averaging, and only when that check fails the parameter: no two checks excuse
    one wrong gradient by pointing at each other."""

    visibility = "hidden"
    calls = GRAD_CALLS
    against = ""
    share: str | None = None

    def cases(self, ctx: Context) -> list[dict[str, np.ndarray]]:
        return main_cases(ctx)

    def numeric(self, ctx: Context, cases, h: float):
        """A function (index, case) -> {name: numerical gradient} or a Verdict; or one Verdict for all."""
        return lambda i, case: true_gradient(case, h)

    def findings(self, ctx: Context) -> Verdict | tuple[list[dict[str, tuple[str, str]]], set[str]]:
        """Per case, the parameters that disagree -> (finding, cause), before any deferral; and the parameters
        that could not be tested. A Verdict when nothing could be judged. Computed once per grading."""
        return ctx.remember(self.name + ".findings", lambda: self._findings(ctx))

    def _findings(self, ctx: Context):
        cases = self.cases(ctx)
        outcome, grads = run_backward(ctx, cases, share=self.share)
        if not outcome.ok:
            return failure(outcome, self.subject)
        numeric_of = self.numeric(ctx, cases, float(ctx.config["gradient"]["step"]))
        if isinstance(numeric_of, Verdict):
            return numeric_of
        threshold = float(ctx.config["gradient"]["threshold"])
        per_case, untested = [], set()
        for i, (case, got) in enumerate(zip(cases, grads)):
            numeric = numeric_of(i, case)
            if isinstance(numeric, Verdict):
                return numeric
            untested |= {k for k in NAMES if numeric[k] is None}
            # a transposed gradient is gradient.shapes' business (when it fails): values judged transposed back
            if any(g.shape != case[k].shape for k, g in got.items()) and fails(ctx, GradientShapes()):
                got = {k: g.T if g.shape != case[k].shape and g.T.shape == case[k].shape else g
                       for k, g in got.items()}
            misshapen = {k: (_("has the wrong shape"), _("see gradient.shapes")) for k in NAMES
                         if got[k].shape != case[k].shape}
            numeric = {k: np.zeros(case[k].shape) if numeric[k] is None else numeric[k] for k in NAMES}
            fine = {k: numeric[k] if k in misshapen or k in untested else got[k] for k in NAMES}
            per_case.append({**compare(fine, numeric, case, threshold), **misshapen})
        return per_case, untested

    def run(self, ctx: Context) -> Verdict:
        found = self.findings(ctx)
        if isinstance(found, Verdict):
            return found
        per_case, untested = found
        slips = {name for name in NAMES if any(name in c for c in per_case)
                 and all(is_averaging(c[name][1]) for c in per_case if name in c)}
        deferred = slips & BatchAveraging().failing(ctx) if slips else set()
        per_case = [{k: v for k, v in c.items() if k not in deferred} for c in per_case]
        head = _("{function} disagrees with {against}").format(function=self.subject, against=_(self.against)) + ": "
        return score_parameters(per_case, head, float(ctx.config["gradient"]["threshold"]), untested)

    def fails_itself(self, ctx: Context) -> set[str]:
        """The parameters this check fails whatever gradient.batch_averaging says (wrong for another reason)."""
        found = self.findings(ctx)
        if isinstance(found, Verdict):
            return set(NAMES) if found.fraction < 1 else set()
        return {name for c in found[0] for name, (_finding, hint) in c.items() if not is_averaging(hint)}


class GradientConsistency(_NumericalCheck):
    name, subject = "gradient.consistency", SUBJECT
    title = N_("MLP.backward agrees with numerical differences of your own forward")
    against = N_("centred differences of your forward")
    share = "backward.main"

    def numeric(self, ctx: Context, cases, h: float):
        coords = [ref.perturbation_coords({k: c[k].shape for k in NAMES}, None, None) for c in cases]
        probe_in = pack([{**{k: c[k] for k in (*NAMES, "x")}, "coords": co} for c, co in zip(cases, coords)])
        scored = ctx.probe("perturbed_scores", probe_in, {"cases": len(cases), "h": h})
        if not scored.ok:
            return failure(scored, "MLP.forward")

        def numeric_of(i, case):
            scores = scored.arrays.get(f"c{i}_scores")
            n, c = case["x"].shape[0], case["W2"].shape[1]
            if scores is None or scores.shape != (len(coords[i]), n, c) or not np.isfinite(scores).all():
                return Verdict.failed(_("MLP.forward returned scores of the wrong shape or non-finite scores "
                                        "for slightly moved parameters"))
            shapes = {k: case[k].shape for k in NAMES}
            numeric = ref.numerical_grads(scores, coords[i], shapes, case["upstream"], int(case["batch_sz"]), h)
            flat = [k for k in NAMES if not np.any(numeric[k])]
            if len(flat) == len(NAMES):
                return Verdict.failed(_("your MLP.forward does not depend on any parameter (its numerical gradient "
                                        "is zero), so there is nothing for backward to agree with: fix forward first"))
            # a parameter the forward ignores cannot be checked here (forward.values says why)
            return {k: None if k in flat else v.reshape(case[k].shape) for k, v in numeric.items()}

        return numeric_of


class GradientCorrectness(_NumericalCheck):
    name, subject = "gradient.correctness", SUBJECT
    title = N_("MLP.backward equals the true gradient of the specified network")
    against = N_("the true gradient")
    share = "backward.main"


class GradientRealistic(_NumericalCheck):
    name, subject = "gradient.realistic", SUBJECT
    title = N_("MLP.backward is right on a 784-128-10 network (sampled coordinates)")
    against = N_("the true gradient at sampled coordinates")

    def cases(self, ctx: Context):
        return _cases(ctx, self.name, 1, dims=(32, 784, 128, 10))

    def numeric(self, ctx: Context, cases, h: float):
        rng = ctx.rng(self.name + ".coords")
        samples = int(ctx.config["gradient"]["realistic_samples"])
        return lambda i, case: true_gradient(case, h, samples, rng)


class BatchAveraging(Check):
    """Averaging on its own: a parameter passes when it equals the true gradient with batch_sz != N, or,
    when it is wrong for another reason that gradient.correctness fails it for (a missing mask, say: not
    this check's business), when the student's own gradient scales exactly as 1 / batch_sz between
    batch_sz = N and batch_sz != N."""

    name, subject = "gradient.batch_averaging", SUBJECT
    title = N_("MLP.backward divides by batch_sz exactly once")
    calls = GRAD_CALLS

    def cases(self, ctx: Context):
        odd = _cases(ctx, self.name, 2, batch_sz=lambda rng, n: n + int(rng.integers(2, 6)))
        return odd + [dict(case, batch_sz=np.array(case["x"].shape[0])) for case in odd]

    def findings(self, ctx: Context) -> Verdict | list[dict[str, tuple[str, str]]]:
        """Per case, the parameters that fail -> (finding, cause); a Verdict when nothing could be judged."""
        return ctx.remember(self.name + ".findings", lambda: self._findings(ctx))

    def _findings(self, ctx: Context):
        cases = self.cases(ctx)
        outcome, grads = run_backward(ctx, cases)
        if not outcome.ok:
            return failure(outcome, self.subject)
        h, threshold = float(ctx.config["gradient"]["step"]), float(ctx.config["gradient"]["threshold"])
        half = len(cases) // 2
        per_case = []
        for case, got, at_n in zip(cases[:half], grads[:half], grads[half:]):
            numeric = true_gradient(case, h)
            shaped = [k for k in NAMES if got[k].shape == case[k].shape == at_n[k].shape]
            if len(shaped) < len(NAMES) and not fails(ctx, GradientShapes()):
                return Verdict.failed(_("MLP.backward returned gradients of the wrong shape with batch_sz != N"))
            fine = {k: got[k] if k in shaped else numeric[k] for k in NAMES}  # the rest: gradient.shapes says it
            verdicts = {name: (_("is constant"), _(NOTHING_COMPUTED).format(names=name))
                        for name in constant_gradients(fine)}
            for name, (finding, hint) in compare(fine, numeric, case, threshold).items():
                if name in verdicts or is_averaging(hint):
                    verdicts.setdefault(name, (finding, hint))
                    continue
                scale = int(case["batch_sz"]) / case["x"].shape[0]
                with np.errstate(all="ignore"):
                    scales = np.allclose(got[name] * scale, at_n[name], rtol=1e-6, atol=1e-12, equal_nan=True)
                if scales and name in GradientCorrectness().fails_itself(ctx):
                    continue  # averaged right, wrong for a reason gradient.correctness fails it for
                if scales or not np.all(np.isfinite(got[name])):
                    verdicts[name] = (finding, hint)
                else:
                    verdicts[name] = (_("does not scale as 1 / batch_sz"), _("divide by batch_sz once, in backward"))
            per_case.append(verdicts)
        return per_case

    def failing(self, ctx: Context) -> set[str]:
        """The parameters this check fails (every one when nothing could be judged)."""
        found = self.findings(ctx)
        if isinstance(found, Verdict):
            return set(NAMES) if found.fraction < 1 else set()
        return {name for c in found for name in c}

    def run(self, ctx: Context) -> Verdict:
        found = self.findings(ctx)
        if isinstance(found, Verdict):
            return found
        head = _("{function} with batch_sz != N").format(function=self.subject) + ": "
        return score_parameters(found, head, float(ctx.config["gradient"]["threshold"]))


class GradientRepeatable(Check):
    name, title, subject = "gradient.repeatable", N_("calling MLP.backward twice gives the same gradients"), SUBJECT
    calls = GRAD_CALLS

    def run(self, ctx: Context) -> Verdict:
        cases = _cases(ctx, self.name, 1)
        outcome, grads = run_backward(ctx, cases, repeat=True)
        if not outcome.ok:
            return failure(outcome, self.subject)
        if constant_gradients(grads[0]) == list(NAMES):
            return Verdict.failed(_(NOTHING_COMPUTED).format(names=_("every parameter")))
        for name in NAMES:
            again = outcome.arrays["c0_again_" + name]
            if again.shape != grads[0][name].shape or not np.allclose(again, grads[0][name], rtol=1e-12, atol=1e-12):
                return Verdict.failed(_("a second MLP.backward call with the same arguments gave a different {name} "
                                        "gradient: backward must not modify the cached forward values or the "
                                        "parameters").format(name=name))
        return Verdict.passed()


class GradientLatestForward(Check):
    """A stale cache, judged against the student's own behaviour: backward after forward(a), forward(b)
    must equal backward after forward(b) alone, and differ from backward after forward(a) alone (else the
    gradients do not depend on the data and the property would hold vacuously)."""

    name, title, subject = "gradient.latest_forward", N_("MLP.backward uses the most recent forward's input"), SUBJECT
    calls = GRAD_CALLS
    visibility = "hidden"

    def run(self, ctx: Context) -> Verdict:
        case = _cases(ctx, self.name, 1)[0]
        other = ctx.rng(self.name + ".other").standard_normal(case["x"].shape)
        only_b, only_a, a_then_b = case, dict(case, x=other), dict(case, x_other=other)
        outcome, grads = run_backward(ctx, [only_b, only_a, a_then_b])
        if not outcome.ok:
            return failure(outcome, self.subject)
        g_b, g_a, g_ab = grads

        def same(x, y):
            return x.shape == y.shape and np.allclose(x, y, rtol=1e-9, atol=1e-12, equal_nan=True)

        if all(same(g_a[k], g_b[k]) for k in NAMES):
            return Verdict.failed(_("MLP.backward gives the same gradients whatever data forward saw: they do not "
                                    "depend on the input yet (see gradient.correctness)"))
        stale = [k for k in NAMES if not same(g_ab[k], g_b[k])]
        if not stale:
            return Verdict.passed()
        return Verdict.failed(_("after forward(a) then forward(b), MLP.backward's {names} gradient(s) differ "
                                "from those after forward(b) alone: store self.data and self.hidden_layer_output on "
                                "every forward call and use them in backward").format(names=", ".join(stale)))


class ComputeGradUpstream(Check):
    name, subject = "compute_grad.upstream", "SoftmaxCrossEntropy.compute_grad"
    title = N_("compute_grad passes probs - onehot(labels) and batch_sz to backward, unscaled")
    calls = ("SoftmaxCrossEntropy.forward", "SoftmaxCrossEntropy.compute_grad", SUBJECT)

    def run(self, ctx: Context) -> Verdict:
        rng = ctx.rng(self.name)
        case = network_case(rng)
        n, c = case["x"].shape[0], case["W2"].shape[1]
        case["batch_sz"] = np.array(n + int(rng.integers(1, 4)))
        case["given_scores"] = scores = 3 * rng.standard_normal((n, c))  # model.forward replaced: judged alone
        outcome = ctx.probe("compute_grad", case, {"num_cls": c})
        if not outcome.ok:
            return failure(outcome, self.subject)
        upstream, passed = outcome.arrays["upstream"], outcome.arrays["batch_sz_passed"]
        expected = np.exp(ref.log_softmax(scores)) - ref.onehot(case["labels"], c)
        own = outcome.arrays.get("student_onehot")
        if own is not None and own.shape == (n, c) and upstream.shape == (n, c) and np.allclose(
                upstream, np.exp(ref.log_softmax(scores)) - own, rtol=1e-6, atol=1e-9) and fails(ctx, OnehotValues()):
            expected = upstream  # right given the student's make_labels_onehot, which onehot.values fails
        problems = []
        if upstream.shape != (n, c):
            problems.append(_("the upstream_grad passed to backward has shape {got}, expected {expected}").format(
                got=upstream.shape, expected=f"({n}, {c})"))
        elif not np.allclose(upstream, expected, rtol=1e-6, atol=1e-9):
            for factor, hint in ((1 / n, N_("it is already divided by N; pass the raw probs - onehot, backward "
                                            "averages")),
                                 (1 / int(case["batch_sz"]), N_("it is already divided by batch_sz; pass the raw "
                                                                "probs - onehot, backward averages")),
                                 (-1, N_("it has the wrong sign: probs - onehot, not onehot - probs"))):
                if np.allclose(upstream, expected * factor, rtol=1e-6, atol=1e-9):
                    problems.append(_("the upstream_grad passed to backward is not probs - onehot(labels): {hint}")
                                    .format(hint=_(hint)))
                    break
            else:
                problems.append(_("the upstream_grad passed to backward is not probs - onehot(labels)"))
        if passed.size != 1 or int(passed.reshape(-1)[0]) != int(case["batch_sz"]):
            problems.append(_("compute_grad passed batch_sz={passed} to backward; pass on the batch_sz it was given "
                              "({given})").format(passed=passed.reshape(-1).tolist(), given=int(case["batch_sz"])))
        if problems:
            return Verdict.failed("; ".join(problems))
        return Verdict.passed()
