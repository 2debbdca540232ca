"""Minimum MNIST test accuracy of the student's own network and training loop.

The child receives only the training set; it trains the student's ``MLP``
with the grader's fixed hyperparameters and returns the four parameter
arrays. The test set is loaded here, after the child has exited, and the
trusted forward pass scores it.
"""
from __future__ import annotations

import numpy as np

from .. import data
from .. import reference as ref
from ..i18n import N_, _, ngettext
from .base import Check, Context, Verdict, failure


def _percent(fraction: float) -> str:
    """A threshold as the config gives it: 0.95 -> '95%', 0.945 -> '94.5%'."""
    return f"{round(100 * fraction, 4):g}%"


class GraderError(RuntimeError):
    """The grader itself could not run a check (missing dataset...): not the student's fault."""


class MnistAccuracy(Check):
    name, subject = "accuracy.mnist", N_("training on MNIST")
    title = N_("the trained network reaches the minimum MNIST test accuracy")
    visibility = "hidden"
    public = False
    calls = ("make_labels_onehot", "MLP.forward", "MLP.backward", "SoftmaxCrossEntropy.forward",
             "SoftmaxCrossEntropy.compute_grad", "train_mlp_neuralnet")
    #: needs nothing from the other checks and sets its own wall-clock limit: ``grade`` may run it
    #: in a second process beside them (``[sandbox] parallel``)
    beside = True

    def run(self, ctx: Context) -> Verdict:
        cfg = ctx.config["accuracy"]
        limits = ctx.limits(wall_s=float(cfg["timeout_s"]), cpu_s=None, memory_mb=int(cfg["memory_mb"]),
                            threads=int(cfg["threads"]))
        try:
            x_train, y_train = data.load_raw(cfg["dataset"], "train")
        except data.DatasetError as exc:
            raise GraderError(str(exc)) from None
        options = {k: cfg[k] for k in ("hidden", "lr", "batch_sz", "num_epochs", "seed", "init_seed")}
        outcome = ctx.probe("train_mnist", {"x_train": x_train, "y_train": y_train}, options, limits=limits)
        if not outcome.ok:
            return failure(outcome, _(self.subject))
        d, h = int(np.prod(x_train.shape[1:])), int(cfg["hidden"])
        shapes = {"W1": (d, h), "b1": (h,), "W2": (h, 10), "b2": (10,)}
        params = {}
        for k, shape in shapes.items():
            got = outcome.arrays.get(k)
            if got is None or got.shape != shape:
                return Verdict.failed(_("after training, params['{name}'] has shape {got}, expected {expected}").format(
                    name=k, got=None if got is None else got.shape, expected=shape))
            if not np.isfinite(got).all():
                return Verdict.failed(_("after training, params['{name}'] contains NaN or inf: the loss diverged "
                                        "(check the batch averaging and the learning rate)").format(name=k))
            params[k] = got
        del x_train, y_train
        try:
            x_test, y_test = data.load_split(cfg["dataset"], "test")
        except data.DatasetError as exc:
            raise GraderError(str(exc)) from None
        acc = ref.accuracy(params, x_test.astype(np.float64), y_test)
        # no training time here: the report must not depend on the machine, its load or the lane that ran it
        setting = ngettext("{epochs} epoch, lr {lr}, batch {batch}, 784-{hidden}-10",
                           "{epochs} epochs, lr {lr}, batch {batch}, 784-{hidden}-10",
                           int(cfg["num_epochs"])).format(
            epochs=cfg["num_epochs"], lr=cfg["lr"], batch=cfg["batch_sz"], hidden=h)
        for threshold, fraction in cfg["tiers"]:
            if acc >= threshold:
                if fraction < 1:
                    note = _("test accuracy {accuracy} ({setting}): partial credit; {best} earns full points")
                else:
                    note = _("test accuracy {accuracy} ({setting})")
                return Verdict(float(fraction), note.format(accuracy=f"{acc:.2%}", setting=setting,
                                                            best=_percent(cfg['tiers'][0][0])))
        return Verdict.failed(_("test accuracy {accuracy} ({setting}) is below the minimum {minimum}: if the "
                                "gradient checks pass, check the training loop").format(
            accuracy=f"{acc:.2%}", setting=setting, minimum=_percent(cfg['tiers'][-1][0])))
