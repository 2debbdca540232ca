"""Forward pass, one-hot labels and prediction, judged against the specified network.

Sizes are drawn per grading run with N, D, H, C all different, so a
transposition cannot hide behind two equal sizes.
"""
from __future__ import annotations

import numpy as np

from .. import reference as ref
from ..i18n import N_, _
from .base import Check, Context, Verdict, constant, failure

ATOL = 1e-7


def draw_dims(rng: np.random.Generator) -> tuple[int, int, int, int]:
    """(N, D, H, C) from disjoint ranges, so all four differ."""
    return (int(rng.integers(5, 10)), int(rng.integers(11, 17)), int(rng.integers(18, 25)), int(rng.integers(3, 5)))


def network_case(rng: np.random.Generator, dims: tuple[int, int, int, int] | None = None) -> dict[str, np.ndarray]:
    """Random parameters and inputs ``x`` (N, D), ``labels`` (N,) for one case."""
    n, d, h, c = dims or draw_dims(rng)
    case = ref.random_params(rng, d, h, c)
    case["x"] = rng.standard_normal((n, d))
    case["labels"] = rng.integers(0, c, n)
    return case


def dims_text(case: dict[str, np.ndarray]) -> str:
    n, d = case["x"].shape
    return f"N={n}, D={d}, H={case['W1'].shape[1]}, C={case['W2'].shape[1]}"


def shape_mismatch(what: str, got: np.ndarray, expected: tuple, hint: str = "") -> Verdict | None:
    if got.shape == expected:
        return None
    if got.shape == expected[::-1] and len(expected) == 2:
        text = _("{what} has shape {got}, expected {expected}: it is transposed")
    else:
        text = _("{what} has shape {got}, expected {expected}")
    text = text.format(what=what, got=tuple(got.shape), expected=expected)
    return Verdict.failed(text + (f"; {hint}" if hint else ""))


def not_finite(what: str, got: np.ndarray) -> Verdict | None:
    if np.all(np.isfinite(got)):
        return None
    bad = "NaN" if np.isnan(got).any() else "inf"
    return Verdict.failed(_("{what} contains {bad}").format(what=what, bad=bad))


def nothing_computed(scores: np.ndarray) -> Verdict | None:
    """A failure when forward returns one value everywhere: shape and side effects would hold vacuously."""
    if constant(scores):
        return Verdict.failed(_("MLP.forward returns the same value for every sample and class (zeros?): "
                                "it does not compute the network yet"))
    return None


def _variants(case: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Scores of plausible wrong networks, to name a student's mistake (the causes marked with N_)."""
    x, p = case["x"], case
    pre = x @ p["W1"] + p["b1"]
    out = lambda hidden, b2=True: hidden @ p["W2"] + (p["b2"] if b2 else 0)  # noqa: E731
    return {
        N_("there is no ReLU: apply np.maximum(0, .) to the hidden layer"): out(pre),
        N_("the hidden activation is a sigmoid; the contract asks for ReLU"): out(1 / (1 + np.exp(-pre))),
        N_("the hidden activation is a leaky ReLU; the contract asks for ReLU, max(0, x)"):
            out(np.where(pre > 0, pre, 0.01 * pre)),
        N_("b1 is not added before the ReLU"): out(np.maximum(x @ p["W1"], 0)),
        N_("b2 is not added to the scores"): out(np.maximum(pre, 0), b2=False),
        N_("a ReLU is applied to the output scores too; only the hidden layer has one"):
            np.maximum(out(np.maximum(pre, 0)), 0),
        N_("the scores are softmax probabilities; forward must return raw scores"):
            np.exp(ref.log_softmax(out(np.maximum(pre, 0)))),
    }


def diagnose_scores(case: dict[str, np.ndarray], got: np.ndarray) -> str:
    for cause, scores in _variants(case).items():
        if np.allclose(got, scores, atol=ATOL, rtol=1e-6):
            return _(cause)
    return _("compare each step with ReLU(data @ W1 + b1) @ W2 + b2")


class OnehotValues(Check):
    name, title, subject = "onehot.values", N_("make_labels_onehot gives (N, C) one-hot rows"), "make_labels_onehot"
    calls = ("make_labels_onehot",)

    def run(self, ctx: Context) -> Verdict:
        rng = ctx.rng(self.name)
        n, c = int(rng.integers(9, 15)), int(rng.integers(4, 8))
        labels = np.concatenate([np.arange(c), rng.integers(0, c, n - c)])
        rng.shuffle(labels)
        outcome = ctx.probe("onehot", {"labels": labels}, {"num_cls": c})
        if not outcome.ok:
            return failure(outcome, self.subject)
        got = outcome.arrays["onehot"]
        expected = ref.onehot(labels, c)
        return (shape_mismatch(_("make_labels_onehot(labels of shape ({n},), {classes})").format(n=n, classes=c),
                               got, expected.shape, _("one row per label, one column per class"))
                or self._values(got, expected, labels))

    @staticmethod
    def _values(got, expected, labels) -> Verdict:
        if np.array_equal(got, expected):
            return Verdict.passed()
        rows = np.flatnonzero((got != expected).any(axis=1))
        i = int(rows[0])
        return Verdict.failed(_("make_labels_onehot row {row} is {got} for label {label}; "
                                "expected {expected} (a 1.0 in column labels[i], zeros elsewhere)").format(
            row=i, got=got[i].tolist(), label=int(labels[i]), expected=expected[i].tolist()))


class ForwardShape(Check):
    name, title, subject = "forward.shape", N_("MLP.forward returns scores of shape (N, C)"), "MLP.forward"
    calls = ("MLP.forward",)

    def run(self, ctx: Context) -> Verdict:
        case = network_case(ctx.rng(self.name))
        outcome = ctx.probe("forward", case)
        if not outcome.ok:
            return failure(outcome, self.subject)
        n, c = case["x"].shape[0], case["W2"].shape[1]
        got = outcome.arrays["scores"]
        hint = ""
        if got.shape == (n, case["W1"].shape[1]):
            hint = _("that is the hidden layer: multiply by W2 and add b2")
        return (shape_mismatch(_("MLP.forward output ({dims})").format(dims=dims_text(case)), got, (n, c), hint)
                or nothing_computed(got) or Verdict.passed())


class ForwardValues(Check):
    name, title, subject = "forward.values", N_("MLP.forward computes ReLU(data @ W1 + b1) @ W2 + b2"), "MLP.forward"
    visibility = "hidden"
    calls = ("MLP.forward",)

    def run(self, ctx: Context) -> Verdict:
        case = network_case(ctx.rng(self.name))
        outcome = ctx.probe("forward", case)
        if not outcome.ok:
            return failure(outcome, self.subject)
        got, expected = outcome.arrays["scores"], ref.forward(case, case["x"])
        what = _("MLP.forward output")
        problem = shape_mismatch(what, got, expected.shape) or not_finite(what, got)
        if problem:
            return problem
        if np.allclose(got, expected, atol=ATOL, rtol=1e-6):
            return Verdict.passed()
        err = float(np.abs(got - expected).max())
        return Verdict.failed(_("MLP.forward scores differ from the specified network by up to {error} "
                                "({dims}): {cause}").format(error=f"{err:.3g}", dims=dims_text(case),
                                                            cause=diagnose_scores(case, got)))


class ForwardInputUnchanged(Check):
    name, title, subject = "forward.input_unchanged", N_("MLP.forward leaves its input unchanged"), "MLP.forward"
    calls = ("MLP.forward",)

    def run(self, ctx: Context) -> Verdict:
        case = network_case(ctx.rng(self.name))
        case["x"] = np.abs(case["x"]) * np.where(np.arange(case["x"].size).reshape(case["x"].shape) % 2, -1, 1)
        outcome = ctx.probe("forward", case)
        if not outcome.ok:
            return failure(outcome, self.subject)
        vacuous = nothing_computed(outcome.arrays["scores"])
        if vacuous:
            return vacuous
        if np.array_equal(outcome.arrays["x_after"], case["x"]):
            return Verdict.passed()
        return Verdict.failed(_("MLP.forward modified the data array it was given (an in-place operation such as "
                                "data -= ..., np.maximum(..., out=data) or data[data < 0] = 0); work on a copy"))


class ForwardParamsHonoured(Check):
    name, title, subject = "forward.params_honoured", N_("MLP.forward reads params afresh on every call"), "MLP.forward"
    calls = ("MLP.forward",)

    def run(self, ctx: Context) -> Verdict:
        rng = ctx.rng(self.name)
        case = network_case(rng)
        case["new_W1"] = rng.standard_normal(case["W1"].shape) / np.sqrt(case["W1"].shape[0])
        case["delta_b2"] = rng.standard_normal(case["b2"].shape)
        outcome = ctx.probe("forward_params", case)
        if not outcome.ok:
            return failure(outcome, self.subject)
        out = outcome.arrays
        if nothing_computed(out["first"]) or all(np.allclose(out[k], out["first"], atol=ATOL)
                                                 for k in ("fresh_replaced", "fresh_perturbed")):
            return Verdict.failed(_("MLP.forward gives the same scores whatever W1 and b2 are: it does not use "
                                    "the parameters yet"))
        # judged against the student's own forward on fresh models: a wrong network is forward.values' business
        for key, how in (("replaced", _("after params['W1'] was replaced by a new array")),
                         ("perturbed", _("after params['b2'] was changed in place"))):
            got, fresh = out[key], out["fresh_" + key]
            if got.shape != fresh.shape or not np.allclose(got, fresh, atol=ATOL, rtol=1e-6):
                same = got.shape == out["first"].shape and np.allclose(got, out["first"], atol=ATOL)
                why = (_("the scores did not change: forward must read self.params['W1'] etc. on every call, "
                         "not copies kept in other attributes") if same else
                       _("the scores differ from a new MLP's with those parameters"))
                return Verdict.failed(_("MLP.forward is wrong {how}: {why}").format(how=how, why=why))
        return Verdict.passed()


class PredictValues(Check):
    name, title, subject = "predict.values", N_("predict returns the row-wise argmax of the scores"), "predict"
    visibility = "hidden"
    calls = ("predict", "MLP.forward")

    @staticmethod
    def case(rng: np.random.Generator) -> dict[str, np.ndarray]:
        """A network case of 30-40 rows whose true scores have their argmax in every class."""
        for _attempt in range(1000):
            _n, d, h, c = draw_dims(rng)
            case = network_case(rng, (int(rng.integers(30, 41)), d, h, c))
            if len(np.unique(ref.forward(case, case["x"]).argmax(axis=1))) == c:
                break
        return case

    def run(self, ctx: Context) -> Verdict:
        case = self.case(ctx.rng(self.name))
        outcome = ctx.probe("predict", case)
        if not outcome.ok:
            return failure(outcome, self.subject)
        # judged against the student's own scores (a wrong forward is forward.values' business), unless their
        # argmax is one class for every row: a constant answer (all zeros, say) would then pass vacuously
        got, scores = outcome.arrays["pred"], outcome.arrays["scores"]
        if scores.ndim != 2 or scores.shape[0] != case["x"].shape[0] or constant(scores.argmax(axis=1)):
            scores = ref.forward(case, case["x"])
        expected = scores.argmax(axis=1)
        problem = shape_mismatch(_("predict output"), got, expected.shape, _("take the argmax over axis 1"))
        if problem:
            return problem
        if np.array_equal(got, expected):
            return Verdict.passed()
        if np.array_equal(got, scores.argmin(axis=1)):
            return Verdict.failed(_("predict returns the argmin of the scores; use argmax"))
        return Verdict.failed(_("predict disagrees with argmax(forward(data), axis=1) on {wrong} of {rows} rows")
                              .format(wrong=int((got != expected).sum()), rows=len(expected)))
