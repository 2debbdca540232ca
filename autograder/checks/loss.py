"""Softmax cross-entropy: value, the ln C sanity value, numerical stability."""
from __future__ import annotations

import numpy as np

from .. import reference as ref
from .base import Check, Context, Verdict, failure
from .forward import network_case

SUBJECT = "SoftmaxCrossEntropy.forward"
LOSS_CALLS = (SUBJECT, "MLP.forward")


def judge_loss(outcome, scores: np.ndarray, labels: np.ndarray, what: str) -> Verdict:
    """Compare the student's loss with the mean cross-entropy of ``scores``; name the likely slip."""
    got = float(outcome.arrays["loss"])
    expected = ref.cross_entropy(scores, labels)
    n = len(labels)
    if not np.isfinite(got):
        return Verdict.failed(f"{SUBJECT} returned {got} {what}: subtract the row max from the scores before exp, "
                              "or use a log-sum-exp")
    if np.isclose(got, expected, rtol=1e-6, atol=1e-8):
        return Verdict.passed()
    logp = ref.log_softmax(scores)[np.arange(n), labels]
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        everything = -np.log(np.exp(ref.log_softmax(scores))).mean()
    causes = [
        (-logp.sum(), "it is the sum over the batch; return the mean (divide by N)"),
        (logp.mean(), "the sign is wrong: cross-entropy is -mean(log p_label)"),
        (-(logp / np.log(2)).mean(), "use the natural log (np.log), not log2"),
        (-(logp / np.log(10)).mean(), "use the natural log (np.log), not log10"),
        (everything, "average only the log-probability of each row's label"),
    ]
    for value, cause in causes:
        if np.isclose(got, value, rtol=1e-6, atol=1e-8):
            return Verdict.failed(f"{SUBJECT} returned {got:.6g} {what}, expected {expected:.6g}: {cause}")
    return Verdict.failed(f"{SUBJECT} returned {got:.6g} {what}, expected the mean cross-entropy {expected:.6g}")


class LossValue(Check):
    name, title, subject = "loss.value", "SoftmaxCrossEntropy.forward is the mean cross-entropy", SUBJECT
    visibility = "hidden"
    calls = LOSS_CALLS

    def run(self, ctx: Context) -> Verdict:
        case = network_case(ctx.rng(self.name))
        outcome = ctx.probe("loss", case, {"num_cls": case["W2"].shape[1]})
        if not outcome.ok:
            return failure(outcome, self.subject)
        # judged on the student's own scores, so a forward bug is not charged twice
        scores = outcome.arrays.get("scores")
        if scores is None or scores.shape != (len(case["labels"]), case["W2"].shape[1]) or not np.isfinite(scores).all():
            scores = ref.forward(case, case["x"])
        verdict = judge_loss(outcome, scores, case["labels"], "on a random batch")
        if verdict.fraction == 1.0 and "probs" in outcome.arrays:
            probs, expected = outcome.arrays["probs"], np.exp(ref.log_softmax(scores))
            if probs.shape != expected.shape or not np.allclose(probs, expected, atol=1e-8):
                return Verdict(0.5, "the loss is right but self.probs is not softmax(scores) of shape (N, C); "
                                    "compute_grad needs it")
        return verdict


class LossUniform(Check):
    name, title, subject = "loss.uniform", "the loss is ln C when all parameters are zero", SUBJECT
    calls = LOSS_CALLS

    def run(self, ctx: Context) -> Verdict:
        case = network_case(ctx.rng(self.name))
        for key in ("W1", "b1", "W2", "b2"):
            case[key] = np.zeros_like(case[key])
        c = case["W2"].shape[1]
        outcome = ctx.probe("loss", case, {"num_cls": c})
        if not outcome.ok:
            return failure(outcome, self.subject)
        verdict = judge_loss(outcome, np.zeros((len(case["labels"]), c)), case["labels"], "with all-zero parameters")
        if verdict.fraction < 1:
            verdict.message += f" (ln C = ln {c} = {np.log(c):.4f}: every class equally likely)"
        return verdict


class LossStable(Check):
    name, title, subject = "loss.stable", "the loss stays finite and right for scores around +-1e3", SUBJECT
    calls = LOSS_CALLS

    def run(self, ctx: Context) -> Verdict:
        rng = ctx.rng(self.name)
        case = network_case(rng)
        c = case["W2"].shape[1]
        case["W2"] = np.zeros_like(case["W2"])
        case["b2"] = rng.choice([-1.0, 1.0], c) * rng.uniform(800, 1200, c)
        case["b2"][0] = 1000.0
        case["b2"][1] = -1000.0
        outcome = ctx.probe("loss", case, {"num_cls": c})
        if not outcome.ok:
            verdict = failure(outcome, self.subject)
            if "overflow" in verdict.message or "divide" in verdict.message:
                verdict.message += ": subtract the row max before exp"
            return verdict
        scores = np.tile(case["b2"], (len(case["labels"]), 1))
        verdict = judge_loss(outcome, scores, case["labels"], "for scores around +-1e3")
        if verdict.fraction < 1 and np.isfinite(float(outcome.arrays["loss"])):
            return Verdict(0.5, verdict.message + " (finite but inaccurate: log(p + eps) clips the loss; use "
                                                  "log p = shifted - log(sum(exp(shifted))) with shifted = "
                                                  "scores - row max)")
        return verdict
