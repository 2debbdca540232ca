"""The training loop's contract, checked on instrumented stand-ins.

``train_mlp_neuralnet`` runs in the sandbox on a stand-in model and loss
(``_FakeModel``/``_FakeLoss`` in the child driver) that record every call and
hand out known gradients, so the loop is judged on its own even when the
student's forward or backward is broken. Column 0 of the data is each
sample's id, which tells which samples every mini-batch held.
"""
from __future__ import annotations

import numpy as np

from ..i18n import N_, _
from .base import Check, Context, Verdict, failure

SUBJECT = "train_mlp_neuralnet"
NAMES = ("W1", "b1", "W2", "b2")


def contract_case(ctx: Context) -> tuple[dict[str, np.ndarray], dict]:
    """Inputs and options of the shared training run: N=11, B=4 (last batch 3), 3 epochs, odd lr."""
    rng = ctx.rng("train.contract")
    n, d, h, c = 11, 3, 4, 2
    data = rng.standard_normal((n, d))
    data[:, 0] = np.arange(n)
    inputs = {"data": data, "labels": np.arange(n) % c,
              "W1": rng.standard_normal((d, h)), "b1": rng.standard_normal(h),
              "W2": rng.standard_normal((h, c)), "b2": rng.standard_normal(c)}
    options = {"lr": 0.037, "batch_sz": 4, "num_epochs": 3, "seed": int(rng.integers(1000)),
               "grad_seed": int(rng.integers(1000))}
    return inputs, options


def training_run(ctx: Context):
    inputs, options = contract_case(ctx)
    return inputs, options, ctx.probe("train_contract", inputs, options, share="train.contract")


def _trail_ok(out: dict[str, np.ndarray]) -> bool:
    return all(f"{key}_{k}" in out for key in ("before", "after", "grad") for k in NAMES)


WITH_REPLACEMENT = N_("it draws each mini-batch at random (np.random.choice(N, batch_sz), as in Deep Learning from "
                      "Scratch 4.5), so an epoch repeats some samples and misses others: shuffle once per epoch "
                      "(np.random.permutation(N)) and take consecutive slices of batch_sz")
NO_TRAIL = N_("the training run returned no parameter trail")


def draws_with_replacement(n: int, batch_sz: int, out: dict[str, np.ndarray]) -> bool:
    """Every batch full-sized, and some sample drawn twice within one epoch's worth (N // batch_sz) of batches."""
    rows, per_epoch = out["batch_rows"], n // batch_sz
    if len(rows) < per_epoch or per_epoch == 0 or np.any(rows != batch_sz):
        return False
    visited = np.rint(out["visited"]).astype(np.int64)
    windows = [visited[i:i + per_epoch * batch_sz] for i in range(0, len(rows) // per_epoch * per_epoch * batch_sz,
                                                                  per_epoch * batch_sz)]
    return any(len(np.unique(w)) < len(w) for w in windows)


class _TrainingCheck(Check):
    subject = SUBJECT
    calls = (SUBJECT,)

    def run(self, ctx: Context) -> Verdict:
        inputs, options, outcome = training_run(ctx)
        if not outcome.ok:
            return failure(outcome, self.subject)
        return self.judge(inputs, options, outcome.arrays)

    def judge(self, inputs, options, out) -> Verdict:  # pragma: no cover - interface
        raise NotImplementedError


class LearningRate(_TrainingCheck):
    name, title = "train.learning_rate", N_("every update is exactly param -= lr * grad")

    def judge(self, inputs, options, out) -> Verdict:
        if not _trail_ok(out):
            return Verdict.failed(_(NO_TRAIL))
        lr = options["lr"]
        frozen = [k for k in NAMES if np.array_equal(out["after_" + k], out["before_" + k])]
        if len(frozen) == len(NAMES):
            return Verdict.failed(_("{function} never changes the parameters: update model.params in place "
                                    "(param -= lr * grad) or assign the new arrays back into the dict")
                                  .format(function=SUBJECT))
        for k in NAMES:
            if k in frozen:
                continue  # never updated: train.updates_all_params says it
            before, after, grad = out["before_" + k], out["after_" + k], out["grad_" + k]
            if np.isnan(grad).any():
                return Verdict.failed(_("train_mlp_neuralnet called loss_fn.forward without loss_fn.compute_grad"))
            step = after - before
            if np.allclose(step, -lr * grad, rtol=1e-9, atol=1e-12):
                continue
            for guess, hint in ((-grad, N_("the learning rate is ignored: param -= lr * grad")),
                                (lr * grad, N_("the update has the wrong sign: param -= lr * grad")),
                                (np.zeros_like(grad), N_("params['{name}'] never changes: update model.params in "
                                                         "place or assign the new array back into the dict"))):
                if np.allclose(step, guess, rtol=1e-9, atol=1e-12):
                    return Verdict.failed(f"{SUBJECT}: " + _(hint).format(name=k))
            ratio = np.median(step[grad != 0] / (-lr * grad[grad != 0])) if np.any(grad) else np.nan
            return Verdict.failed(f"{SUBJECT}: " + _("the update of {name} is not -lr * grad (it is about {ratio} "
                                                     "times that); apply the gradients compute_grad returns as they "
                                                     "are").format(name=k, ratio=f"{ratio:.3g}"))
        return Verdict.passed()


class Epochs(_TrainingCheck):
    name, title = "train.epochs", N_("num_epochs passes over the data, ceil(N / batch_sz) steps each")

    def judge(self, inputs, options, out) -> Verdict:
        n, b, e = len(inputs["labels"]), options["batch_sz"], options["num_epochs"]
        expected, got = e * -(-n // b), len(out["batch_rows"])
        if got == expected:
            return Verdict.passed()
        text, hint = _("{function} made {got} updates for N={n}, batch_sz={b}, num_epochs={e}; expected {expected}"), ""
        if draws_with_replacement(n, b, out):
            hint = "; " + _(WITH_REPLACEMENT)
        elif got == e * (n // b):
            text = _("{function} made {got} updates for N={n}, batch_sz={b}, num_epochs={e}; expected {expected}: "
                     "the last, smaller batch is skipped")
        elif got % (-(-n // b)) == 0:
            text = _("{function} made {got} updates for N={n}, batch_sz={b}, num_epochs={e}; expected {expected}: "
                     "that is {made} epochs, not {e}")
        return Verdict.failed(text.format(function=SUBJECT, got=got, n=n, b=b, e=e, expected=expected,
                                          made=got // (-(-n // b))) + hint)


class VisitsEverySample(_TrainingCheck):
    name, title = "train.visits_every_sample", N_("each epoch visits every sample once, reshuffled, labels aligned")

    def judge(self, inputs, options, out) -> Verdict:
        n, e = len(inputs["labels"]), options["num_epochs"]
        visited = np.rint(out["visited"]).astype(np.int64)
        if out["visited_labels"].shape != visited.shape or not np.array_equal(
                out["visited_labels"], inputs["labels"][np.clip(visited, 0, n - 1)]):
            return Verdict.failed(f"{SUBJECT}: " + _("the labels passed with a batch are not those of its samples: "
                                                     "index data and labels with the same shuffled indices"))
        # the epochs that were made (how many is train.epochs' business)
        epochs = [visited[i * n:(i + 1) * n] for i in range(min(e, len(visited) // n))]
        bad = [i + 1 for i, ep in enumerate(epochs) if sorted(ep.tolist()) != list(range(n))]
        if not epochs or len(visited) % n or bad:
            which = (_("epoch {number} did not visit each of the {n} samples exactly once") if bad else
                     _("the run did not visit each of the {n} samples exactly once"))
            which = which.format(number=bad[0] if bad else 0, n=n)
            why = _(WITH_REPLACEMENT if draws_with_replacement(n, options["batch_sz"], out)
                    else N_("take consecutive slices of one permutation per epoch"))
            return Verdict.failed(f"{SUBJECT}: {which}; {why}")
        orders = {tuple(ep.tolist()) for ep in epochs}
        if orders == {tuple(range(n))}:
            return Verdict(0.5, _("{function} never shuffles: draw a new permutation every epoch").format(
                function=SUBJECT))
        if len(orders) == 1 and len(epochs) > 1:
            return Verdict(0.5, _("{function} uses the same order every epoch: reshuffle at the start of each epoch")
                           .format(function=SUBJECT))
        return Verdict.passed()


class PartialBatch(_TrainingCheck):
    name, title = "train.partial_batch", N_("the last, smaller batch is averaged by its true size")

    def judge(self, inputs, options, out) -> Verdict:
        rows, passed = out["batch_rows"], out["batch_sz_passed"]
        wrong = np.flatnonzero(rows != passed)
        if len(wrong) == 0:
            return Verdict.passed()
        i = int(wrong[0])
        return Verdict.failed(f"{SUBJECT}: " + _("update {number} had {rows} samples but passed batch_sz={passed} to "
                                                 "compute_grad: pass the true size of each batch, len(batch)").format(
            number=i + 1, rows=int(rows[i]), passed=int(passed[i])))


class UpdatesAllParams(_TrainingCheck):
    name, title = "train.updates_all_params", N_("every parameter is updated at every step")

    def judge(self, inputs, options, out) -> Verdict:
        if not _trail_ok(out):
            return Verdict.failed(_(NO_TRAIL))
        frozen = [k for k in NAMES if np.any(np.all((out["after_" + k] == out["before_" + k]).reshape(
            len(out["batch_rows"]), -1), axis=1))]
        if frozen:
            return Verdict((4 - len(frozen)) / 4, _("{function} does not update {names} at every step: "
                                                    "loop over all of model.params").format(
                function=SUBJECT, names=", ".join(frozen)))
        return Verdict.passed()
