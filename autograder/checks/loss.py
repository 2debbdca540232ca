"""Softmax cross-entropy: value, the ln C sanity value, numerical stability."""
from __future__ import annotations

import numpy as np

from .. import reference as ref
from ..i18n import N_, _
from .base import Check, Context, Verdict, failure
from .forward import network_case

SUBJECT = "SoftmaxCrossEntropy.forward"
#: a small epsilon inside the log (-log(p + eps), or p clipped at eps) is correct practice: full points
EPSILONS = (1e-7, 1e-6, 1e-8, 1e-9, 1e-10, 1e-12, 1e-15, float(np.finfo(np.float64).eps))


def judge_loss(outcome, scores: np.ndarray, labels: np.ndarray, what: str) -> Verdict:
    """Compare the student's loss with the mean cross-entropy of ``scores``; name the likely slip.

    ``what`` says on which scores, in the report's language."""
    got = float(outcome.arrays["loss"])
    expected = ref.cross_entropy(scores, labels)
    n = len(labels)
    if not np.isfinite(got):
        return Verdict.failed(_("{function} returned {got} {what}: subtract the row max from the scores before exp, "
                                "or use a log-sum-exp").format(function=SUBJECT, got=got, what=what))
    if np.isclose(got, expected, rtol=1e-6, atol=1e-8):
        return Verdict.passed()
    logp = ref.log_softmax(scores)[np.arange(n), labels]
    for eps in EPSILONS:
        p = np.exp(logp)
        if any(np.isclose(got, -np.log(q).mean(), rtol=1e-6, atol=1e-8) for q in (p + eps, np.maximum(p, eps))):
            return Verdict.passed(_("note: log(p + {eps}) as in Deep Learning from Scratch earns full points; "
                                    "an exact log-softmax needs no epsilon").format(eps=f"{eps:g}"))
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        everything = -np.log(np.exp(ref.log_softmax(scores))).mean()
    causes = [
        (-logp.sum(), N_("it is the sum over the batch; return the mean (divide by N)")),
        (logp.mean(), N_("the sign is wrong: cross-entropy is -mean(log p_label)")),
        (-(logp / np.log(2)).mean(), N_("use the natural log (np.log), not log2")),
        (-(logp / np.log(10)).mean(), N_("use the natural log (np.log), not log10")),
        (everything, N_("average only the log-probability of each row's label")),
    ]
    for value, cause in causes:
        if np.isclose(got, value, rtol=1e-6, atol=1e-8):
            return Verdict.failed(_("{function} returned {got} {what}, expected {expected}: {cause}").format(
                function=SUBJECT, got=f"{got:.6g}", what=what, expected=f"{expected:.6g}", cause=_(cause)))
    return Verdict.failed(_("{function} returned {got} {what}, expected the mean cross-entropy {expected}").format(
        function=SUBJECT, got=f"{got:.6g}", what=what, expected=f"{expected:.6g}"))


def loss_case(rng: np.random.Generator, scores) -> dict[str, np.ndarray]:
    """A network case whose model.forward is replaced by ``scores(n, c)``: the loss is judged on its own."""
    case = network_case(rng)
    n, c = case["x"].shape[0], case["W2"].shape[1]
    case["given_scores"] = np.asarray(scores(n, c), dtype=np.float64)
    return case


class LossValue(Check):
    name, title, subject = "loss.value", N_("SoftmaxCrossEntropy.forward is the mean cross-entropy"), SUBJECT
    visibility = "hidden"
    calls = (SUBJECT,)

    def run(self, ctx: Context) -> Verdict:
        rng = ctx.rng(self.name)
        case = loss_case(rng, lambda n, c: 3 * rng.standard_normal((n, c)))
        outcome = ctx.probe("loss", case, {"num_cls": case["W2"].shape[1]})
        if not outcome.ok:
            return failure(outcome, self.subject)
        scores = case["given_scores"]
        verdict = judge_loss(outcome, scores, case["labels"], _("on a random batch"))
        if verdict.fraction == 1.0 and "probs" in outcome.arrays:
            probs, expected = outcome.arrays["probs"], np.exp(ref.log_softmax(scores))
            if probs.shape != expected.shape or not np.allclose(probs, expected, atol=1e-8):
                return Verdict(0.5, _("the loss is right but self.probs is not softmax(scores) of shape (N, C); "
                                      "compute_grad needs it"))
        return verdict


class LossUniform(Check):
    name, title, subject = "loss.uniform", N_("the loss is ln C when all scores are equal"), SUBJECT
    calls = (SUBJECT,)

    def run(self, ctx: Context) -> Verdict:
        rng = ctx.rng(self.name)
        case = loss_case(rng, lambda n, c: np.full((n, c), rng.uniform(-2, 2)))
        c = case["W2"].shape[1]
        outcome = ctx.probe("loss", case, {"num_cls": c})
        if not outcome.ok:
            return failure(outcome, self.subject)
        verdict = judge_loss(outcome, case["given_scores"], case["labels"], _("for equal scores"))
        if verdict.fraction < 1:
            verdict.message += _(" (ln C = ln {classes} = {value}: every class equally likely)").format(
                classes=c, value=f"{np.log(c):.4f}")
        return verdict


class LossStable(Check):
    """Finite and right for scores around +-1e3, in two batches: rows holding both large positive and large
    negative scores (a shift by the row's minimum or mean overflows), and rows of very different magnitude
    (one shift for the whole batch underflows the low rows). A loss that is finite but wrong earns nothing
    (0 is finite). Half the points per batch."""

    name, title, subject = "loss.stable", N_("the loss stays finite and right for scores around +-1e3"), SUBJECT
    calls = (SUBJECT,)

    @staticmethod
    def within_rows(rng: np.random.Generator):
        """Scores (N, C): in every row one score +1e3, the others around -1e3 (the row's maximum lies over 900
        above its mean and 1800 above its minimum: exp of either shift overflows)."""
        def scores(n: int, c: int) -> np.ndarray:
            row = -rng.uniform(800, 1200, c)
            row[rng.integers(c)] = 1000.0
            return np.tile(row, (n, 1)) + rng.uniform(-1, 1, (n, c))
        return scores

    @staticmethod
    def across_rows(rng: np.random.Generator):
        """Scores (N, C): rows close within themselves, around +1e3, -1e3 or -3e3 (each level present)."""
        def scores(n: int, c: int) -> np.ndarray:
            levels = np.resize(np.array([1000.0, -3000.0, -1000.0]), n)
            return rng.permutation(levels)[:, None] + rng.uniform(-2, 2, (n, c))
        return scores

    #: the cause, by which batches went wrong: (rows alike but each spanning -1e3..+1e3, rows far apart)
    SHIFTS = {
        (True, True): N_("subtract the row max (scores.max(axis=1, keepdims=True)) before exp, or use a log-sum-exp"),
        (True, False): N_("subtract the row max (scores.max(axis=1, keepdims=True)) before exp, not the row's "
                          "minimum or mean"),
        (False, True): N_("subtract each row's own max (scores.max(axis=1, keepdims=True)), not one maximum of the "
                          "whole batch"),
    }

    def run(self, ctx: Context) -> Verdict:
        rng = ctx.rng(self.name)
        batches = [(self.within_rows(rng), _("for rows holding one score around +1e3 and the others around -1e3")),
                   (self.across_rows(rng), _("for rows of scores around +1e3, -1e3 and -3e3 in one batch"))]
        verdicts = []
        for scores, what in batches:
            case = loss_case(rng, scores)
            outcome = ctx.probe("loss", case, {"num_cls": case["W2"].shape[1]})
            if not outcome.ok:
                verdict = failure(outcome, self.subject)
                if "overflow" in verdict.message or "divide" in verdict.message:  # numpy's words, in any language
                    verdict.message += ": " + _(self.SHIFTS[True, True])
                return verdict
            got = float(outcome.arrays["loss"])
            verdicts.append(Verdict.failed(_("{function} returned {got} {what}").format(function=SUBJECT, got=got,
                                                                                        what=what))
                            if not np.isfinite(got) else judge_loss(outcome, case["given_scores"], case["labels"], what))
        wrong = tuple(v.fraction < 1 for v in verdicts)
        messages = []
        for verdict in verdicts:
            if verdict.message and verdict.message not in messages:  # a failure, or a note said once
                messages.append(verdict.message)
        if any(wrong):
            messages.append(_(self.SHIFTS[wrong]))
        return Verdict(sum(v.fraction for v in verdicts) / len(verdicts), "; ".join(messages))
