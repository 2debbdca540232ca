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
from .base import Check, Context, Verdict, failure
from .forward import dims_text, draw_dims, network_case

NAMES = ref.PARAM_NAMES
SUBJECT = "MLP.backward"
GRAD_CALLS = ("MLP.forward", SUBJECT)


def _cases(ctx: Context, salt: str, count: int, dims=None, batch_sz=None) -> list[dict[str, np.ndarray]]:
    rng = ctx.rng(salt)
    cases = []
    for _ in range(count):
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
        text = f"the {name} gradient has shape {got}, expected {expected} (the shape of {name})"
        if name.startswith("b") and got in ((n,), (n, expected[0])):
            text += ": sum over axis 0, the batch"
        elif len(expected) == 2 and got == expected[::-1]:
            text += ": it is transposed (W1: data.T @ ..., W2: hidden.T @ ...)"
        problems.append(text)
    return problems


def ratio_hint(name: str, analytic: np.ndarray, numeric: np.ndarray, n: int, batch_sz: int) -> str:
    """Name a constant-factor slip: missing or doubled averaging, N instead of batch_sz, sign."""
    a, m = analytic.reshape(-1), numeric.reshape(-1)
    mask = ~np.isnan(m)
    a, m = a[mask], m[mask]
    if not np.any(m) or not np.any(a):
        return f"your {name} gradient is all zeros" if not np.any(a) else ""
    k = float(a @ m / (m @ m))
    if np.linalg.norm(a - k * m) > 1e-4 * np.linalg.norm(a):
        return ""
    hints = [
        (batch_sz, f"your {name} gradient is {batch_sz} (batch_sz) times too large: divide by batch_sz once"),
        (1 / batch_sz, f"your {name} gradient is divided by batch_sz twice: divide once, in backward only"),
        (batch_sz / n, f"your {name} gradient is divided by N = data.shape[0] instead of batch_sz"),
        (-1.0, f"your {name} gradient has the wrong sign"),
    ]
    for factor, hint in hints:
        if factor != 1 and np.isclose(k, factor, rtol=1e-3):
            return hint
    return f"your {name} gradient is {k:.4g} times the right one"


def compare(grads: dict[str, np.ndarray], numeric: dict[str, np.ndarray], case: dict[str, np.ndarray],
            threshold: float) -> dict[str, str]:
    """Per parameter: '' when it agrees, else a message."""
    n, batch_sz = case["x"].shape[0], int(case["batch_sz"])
    verdicts = {}
    for name in NAMES:
        analytic = grads[name]
        if not np.all(np.isfinite(analytic)):
            verdicts[name] = f"the {name} gradient contains NaN or inf"
            continue
        err = ref.rel_error(analytic, numeric[name])
        if err <= threshold:
            verdicts[name] = ""
            continue
        hint = ratio_hint(name, analytic, numeric[name], n, batch_sz) or _relu_hint(name, grads, case)
        verdicts[name] = (f"{name}: relative error {err:.2e} (threshold {threshold:g})"
                          + (f"; {hint}" if hint else ""))
    return verdicts


def _relu_hint(name: str, grads: dict[str, np.ndarray], case: dict[str, np.ndarray]) -> str:
    if name not in ("W1", "b1"):
        return ""
    x, g, bs = case["x"], case["upstream"], int(case["batch_sz"])
    pre = x @ case["W1"] + case["b1"]
    through = g @ case["W2"].T
    candidates = {
        "the ReLU mask is missing: multiply the gradient flowing into the hidden layer by (hidden > 0)": through,
        "the ReLU mask is inverted: pass gradient where the pre-activation is > 0": through * (pre <= 0),
        "the ReLU mask is applied to the wrong array: mask with the hidden pre-activation (or the ReLU output) > 0":
            through * (x @ case["W1"] > 0) if not np.array_equal(x @ case["W1"] > 0, pre > 0) else None,
    }
    for hint, grad_hidden in candidates.items():
        if grad_hidden is None:
            continue
        guess = x.T @ grad_hidden / bs if name == "W1" else grad_hidden.sum(axis=0) / bs
        if guess.shape == grads[name].shape and np.allclose(guess, grads[name], rtol=1e-6, atol=1e-9):
            return hint
    if all(np.allclose(grads[k], 0) for k in ("W1", "b1")):
        return ""
    return "W2 and b2 may be right while W1/b1 are not: check upstream_grad @ W2.T and the ReLU mask"


def true_gradient(case: dict[str, np.ndarray], h: float, samples: int | None = None,
                  rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    """Centred differences of the specified network for ``case`` (every coordinate, or ``samples`` per parameter).

    Returns name -> array of the parameter's shape, NaN where not sampled.
    """
    params = {k: case[k] for k in NAMES}
    coords = ref.perturbation_coords({k: v.shape for k, v in params.items()}, samples, rng)
    numeric = ref.true_grads(params, case["x"], case["upstream"], int(case["batch_sz"]), h, coords)
    return {k: v.reshape(case[k].shape) for k, v in numeric.items()}


def score_parameters(per_case: list[dict[str, str]], head: str) -> Verdict:
    """1/4 of the points per parameter that agrees in every case; one line per failing parameter."""
    failing = {name: next(m for c in per_case if (m := c.get(name))) for name in NAMES
               if any(c.get(name) for c in per_case)}
    if not failing:
        return Verdict.passed()
    return Verdict((len(NAMES) - len(failing)) / len(NAMES), head + "; ".join(failing.values()))


class GradientShapes(Check):
    name, title, subject = "gradient.shapes", "MLP.backward returns one gradient per parameter, same shape", SUBJECT
    calls = GRAD_CALLS

    def run(self, ctx: Context) -> Verdict:
        cases = _cases(ctx, self.name, 1)
        outcome, grads = run_backward(ctx, cases)
        if not outcome.ok:
            return failure(outcome, self.subject)
        problems = shape_problems(grads[0], cases[0])
        if not problems:
            return Verdict.passed()
        return Verdict((4 - len(problems)) / 4, f"({dims_text(cases[0])}) " + "; ".join(problems))


class _NumericalCheck(Check):
    """Template: analytic gradients of ``cases`` from the sandbox, judged against ``numeric`` per case."""

    visibility = "hidden"
    calls = GRAD_CALLS
    against = ""
    share: str | None = None

    def cases(self, ctx: Context) -> list[dict[str, np.ndarray]]:
        return main_cases(ctx)

    def numeric(self, ctx: Context, cases, h: float):
        """A function (index, case) -> {name: numerical gradient} or a Verdict; or one Verdict for all."""
        return lambda i, case: true_gradient(case, h)

    def run(self, ctx: Context) -> Verdict:
        cases = self.cases(ctx)
        outcome, grads = run_backward(ctx, cases, share=self.share)
        if not outcome.ok:
            return failure(outcome, self.subject)
        numeric_of = self.numeric(ctx, cases, float(ctx.config["gradient"]["step"]))
        if isinstance(numeric_of, Verdict):
            return numeric_of
        threshold = float(ctx.config["gradient"]["threshold"])
        per_case = []
        for i, (case, got) in enumerate(zip(cases, grads)):
            numeric = numeric_of(i, case)
            if isinstance(numeric, Verdict):
                return numeric
            misshapen = {k: f"{k}: wrong shape {tuple(got[k].shape)} (see gradient.shapes)"
                         for k in NAMES if got[k].shape != case[k].shape}
            fine = {k: got[k] if k not in misshapen else numeric[k] for k in NAMES}
            verdicts = compare(fine, numeric, case, threshold)
            per_case.append({**verdicts, **misshapen})
        return score_parameters(per_case, f"{self.subject} disagrees with {self.against}: ")


class GradientConsistency(_NumericalCheck):
    name, subject = "gradient.consistency", SUBJECT
    title = "MLP.backward agrees with numerical differences of your own forward"
    against = "centred differences of your forward"
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
                return Verdict.failed("MLP.forward returned scores of the wrong shape or non-finite scores "
                                      "for slightly moved parameters")
            shapes = {k: case[k].shape for k in NAMES}
            numeric = ref.numerical_grads(scores, coords[i], shapes, case["upstream"], int(case["batch_sz"]), h)
            flat = [k for k in NAMES if not np.any(numeric[k])]
            if flat:
                return Verdict.failed(f"your MLP.forward does not depend on {', '.join(flat)} (its numerical gradient "
                                      "is zero), so there is nothing for backward to agree with: fix forward first")
            return {k: v.reshape(case[k].shape) for k, v in numeric.items()}

        return numeric_of


class GradientCorrectness(_NumericalCheck):
    name, subject = "gradient.correctness", SUBJECT
    title = "MLP.backward equals the true gradient of the specified network"
    against = "the true gradient"
    share = "backward.main"


class GradientRealistic(_NumericalCheck):
    name, subject = "gradient.realistic", SUBJECT
    title = "MLP.backward is right on a 784-128-10 network (sampled coordinates)"
    against = "the true gradient at sampled coordinates"

    def cases(self, ctx: Context):
        return _cases(ctx, self.name, 1, dims=(32, 784, 128, 10))

    def numeric(self, ctx: Context, cases, h: float):
        rng = ctx.rng(self.name + ".coords")
        samples = int(ctx.config["gradient"]["realistic_samples"])
        return lambda i, case: true_gradient(case, h, samples, rng)


class BatchAveraging(_NumericalCheck):
    name, subject = "gradient.batch_averaging", SUBJECT
    title = "MLP.backward divides by batch_sz exactly once"
    against = "the true gradient with batch_sz != N"
    visibility = "visible"

    def cases(self, ctx: Context):
        return _cases(ctx, self.name, 2, batch_sz=lambda rng, n: n + int(rng.integers(2, 6)))


class GradientRepeatable(Check):
    name, title, subject = "gradient.repeatable", "calling MLP.backward twice gives the same gradients", SUBJECT
    calls = GRAD_CALLS

    def run(self, ctx: Context) -> Verdict:
        cases = _cases(ctx, self.name, 1)
        outcome, grads = run_backward(ctx, cases, repeat=True)
        if not outcome.ok:
            return failure(outcome, self.subject)
        for name in NAMES:
            again = outcome.arrays["c0_again_" + name]
            if again.shape != grads[0][name].shape or not np.allclose(again, grads[0][name], rtol=1e-12, atol=1e-12):
                return Verdict.failed(f"a second MLP.backward call with the same arguments gave a different {name} "
                                      "gradient: backward must not modify the cached forward values or the parameters")
        return Verdict.passed()


class GradientLatestForward(Check):
    name, title, subject = "gradient.latest_forward", "MLP.backward uses the most recent forward's input", SUBJECT
    calls = GRAD_CALLS
    visibility = "hidden"

    def run(self, ctx: Context) -> Verdict:
        cases = _cases(ctx, self.name, 1)
        case = cases[0]
        case["x_other"] = ctx.rng(self.name + ".other").standard_normal(case["x"].shape)
        outcome, grads = run_backward(ctx, cases, stale_forward=True)
        if not outcome.ok:
            return failure(outcome, self.subject)
        if shape_problems(grads[0], case):
            return Verdict.failed("the gradients have the wrong shapes (see gradient.shapes)")
        h = float(ctx.config["gradient"]["step"])
        threshold = float(ctx.config["gradient"]["threshold"])
        agrees = {}
        for which, x in (("latest", case["x"]), ("earlier", case["x_other"])):
            numeric = true_gradient(dict(case, x=x), h)
            agrees[which] = [k for k in NAMES if ref.rel_error(grads[0][k], numeric[k]) <= threshold]
        if len(agrees["latest"]) == len(NAMES):
            return Verdict.passed()
        stale = [k for k in NAMES if k in agrees["earlier"] or k not in agrees["latest"]]
        return Verdict.failed(f"after forward(a) then forward(b), MLP.backward's {', '.join(stale)} gradient(s) do "
                              "not belong to b: store self.data and self.hidden_layer_output on every forward call "
                              "and use them in backward")


class ComputeGradUpstream(Check):
    name, subject = "compute_grad.upstream", "SoftmaxCrossEntropy.compute_grad"
    title = "compute_grad passes probs - onehot(labels) and batch_sz to backward, unscaled"
    calls = ("SoftmaxCrossEntropy.forward", "SoftmaxCrossEntropy.compute_grad", *GRAD_CALLS)

    def run(self, ctx: Context) -> Verdict:
        rng = ctx.rng(self.name)
        case = network_case(rng)
        n, c = case["x"].shape[0], case["W2"].shape[1]
        case["batch_sz"] = np.array(n + int(rng.integers(1, 4)))
        outcome = ctx.probe("compute_grad", case, {"num_cls": c})
        if not outcome.ok:
            return failure(outcome, self.subject)
        upstream, passed = outcome.arrays["upstream"], outcome.arrays["batch_sz_passed"]
        scores = outcome.arrays["scores"]
        if scores.shape != (n, c) or not np.isfinite(scores).all():
            scores = ref.forward(case, case["x"])
        expected = np.exp(ref.log_softmax(scores)) - ref.onehot(case["labels"], c)
        problems = []
        if upstream.shape != (n, c):
            problems.append(f"the upstream_grad passed to backward has shape {upstream.shape}, expected ({n}, {c})")
        elif not np.allclose(upstream, expected, rtol=1e-6, atol=1e-9):
            for factor, hint in ((1 / n, "it is already divided by N; pass the raw probs - onehot, backward averages"),
                                 (1 / int(case["batch_sz"]), "it is already divided by batch_sz; pass the raw "
                                                             "probs - onehot, backward averages"),
                                 (-1, "it has the wrong sign: probs - onehot, not onehot - probs")):
                if np.allclose(upstream, expected * factor, rtol=1e-6, atol=1e-9):
                    problems.append("the upstream_grad passed to backward is not probs - onehot(labels): " + hint)
                    break
            else:
                problems.append("the upstream_grad passed to backward is not probs - onehot(labels)")
        if passed.size != 1 or int(passed.reshape(-1)[0]) != int(case["batch_sz"]):
            problems.append(f"compute_grad passed batch_sz={passed.reshape(-1).tolist()} to backward; pass on the "
                            f"batch_sz it was given ({int(case['batch_sz'])})")
        if problems:
            return Verdict.failed("; ".join(problems))
        return Verdict.passed()
