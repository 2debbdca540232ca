"""The reference solution reaches the advertised MNIST accuracy with the default hyperparameters."""
from __future__ import annotations

import pytest

from autograder.training_demo import DEFAULTS, load_module, train_and_evaluate
from conftest import SOLUTION, mnist_available


@pytest.mark.slow
@pytest.mark.skipif(not mnist_available(), reason="MNIST not found: set MLP_DATA_DIR (CI sets ../shared/data)")
def test_reference_reaches_97_5_percent_in_5_epochs():
    figures = train_and_evaluate(load_module(SOLUTION), verbose=False, **{k: v for k, v in DEFAULTS.items()})
    print(f"\nreference: test accuracy per epoch {figures['test_acc']}, seconds per epoch "
          f"{[round(s, 2) for s in figures['epoch_seconds']]}")
    assert len(figures["test_acc"]) == DEFAULTS["epochs"] <= 5
    assert figures["test_acc"][-1] >= 0.975
    assert len(figures["loss"]) == 5 * -(-60000 // DEFAULTS["batch_sz"])
