"""The reference reaches the advertised MNIST accuracy; the grader's accuracy settings leave it a margin."""
from __future__ import annotations

import numpy as np
import pytest

from autograder import data
from autograder import reference as ref
from autograder.config import load_config
from autograder.training_demo import DEFAULTS, load_module, train_and_evaluate
from conftest import SOLUTION, mnist_available

needs_mnist = pytest.mark.skipif(not mnist_available(),
                                 reason="MNIST not found: set MLP_DATA_DIR (CI sets ../shared/data)")


@pytest.mark.slow
@needs_mnist
def test_reference_reaches_97_5_percent_in_5_epochs():
    figures = train_and_evaluate(load_module(SOLUTION), verbose=False, **{k: v for k, v in DEFAULTS.items()})
    print(f"\nreference: test accuracy per epoch {figures['test_acc']}, seconds per epoch "
          f"{[round(s, 2) for s in figures['epoch_seconds']]}")
    assert len(figures["test_acc"]) == DEFAULTS["epochs"] <= 5
    assert figures["test_acc"][-1] >= 0.975
    assert len(figures["loss"]) == 5 * -(-60000 // DEFAULTS["batch_sz"])


@pytest.mark.slow
@needs_mnist
@pytest.mark.parametrize("seed", range(5))
def test_grader_accuracy_settings_leave_the_reference_a_margin(seed):
    """Trained as the accuracy check trains it (its settings, data and scoring), but with other seeds,
    the reference clears the full-points threshold by at least one percentage point."""
    cfg = load_config()["accuracy"]
    mlp = load_module(SOLUTION)
    x_raw, y_raw = data.load_raw(cfg["dataset"], "train")
    x = x_raw.reshape(x_raw.shape[0], -1).astype(np.float32) / np.float32(255.0)  # as sandbox/child.py
    model = mlp.MLP(x.shape[1], cfg["hidden"], 10, seed=seed)
    mlp.train_mlp_neuralnet(model, mlp.SoftmaxCrossEntropy(model, 10), x, y_raw.astype(np.int64), cfg["lr"],
                            cfg["batch_sz"], cfg["num_epochs"], seed=seed)
    x_test, y_test = data.load_split(cfg["dataset"], "test")
    acc = ref.accuracy({k: np.asarray(v, dtype=np.float64) for k, v in model.params.items()},
                       x_test.astype(np.float64), y_test)
    print(f"\nseed {seed}: {acc:.2%} with the grader's settings")
    assert acc >= cfg["tiers"][0][0] + 0.01
