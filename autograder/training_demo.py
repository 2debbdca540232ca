"""``mlp-grade train``: train a module's MLP on MNIST in this process and report test accuracy.

For instructors and students on their own (trusted) code: it imports the
module directly, without the sandbox. Defaults are the reference
hyperparameters quoted in the README.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

import numpy as np

from . import data

DEFAULTS = {"hidden": 128, "lr": 0.1, "batch_sz": 32, "epochs": 5, "seed": 0}


def load_module(path: Path):
    """Import ``path`` as a fresh module named ``mlp``."""
    spec = importlib.util.spec_from_file_location("mlp", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train_and_evaluate(module, dataset: str = "mnist", hidden: int = 128, lr: float = 0.1, batch_sz: int = 32,
                       epochs: int = 5, seed: int = 0, verbose: bool = True) -> dict:
    """Train epoch by epoch; return seconds and test accuracy per epoch.

    Returns:
        dict with 'epoch_seconds' (E,), 'test_acc' (E,), 'train_acc' (E,), 'loss' (iterations,).
    """
    (x_train, y_train), (x_test, y_test) = data.load_mnist(dataset)
    model = module.MLP(x_train.shape[1], hidden, 10, seed=seed)
    loss_fn = module.SoftmaxCrossEntropy(model, 10)
    out = {"epoch_seconds": [], "test_acc": [], "train_acc": [], "loss": []}
    for epoch in range(epochs):
        started = time.perf_counter()
        history = module.train_mlp_neuralnet(model, loss_fn, x_train, y_train, lr, batch_sz, 1,
                                             seed=seed + epoch, verbose=verbose)
        out["epoch_seconds"].append(time.perf_counter() - started)
        out["loss"] += [float(v) for v in history["loss"]]
        out["train_acc"] += [float(v) for v in history.get("train_acc", [])]
        out["test_acc"].append(float(np.mean(module.predict(model, x_test) == y_test)))
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}: {out['epoch_seconds'][-1]:.1f} s, "
                  f"loss {np.mean(history['loss'][-100:]):.4f}, test accuracy {out['test_acc'][-1]:.2%}", flush=True)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mlp-grade train", description=__doc__.splitlines()[0])
    parser.add_argument("module", nargs="?", help="an mlp.py (default: solution/mlp_backprop/mlp.py of the checkout)")
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
    parser.add_argument("--hidden", type=int, default=DEFAULTS["hidden"])
    parser.add_argument("--lr", type=float, default=DEFAULTS["lr"])
    parser.add_argument("--batch-sz", type=int, default=DEFAULTS["batch_sz"])
    parser.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.module:
        path = Path(args.module)
    else:
        from .cli import repo_root
        path = repo_root() / "solution" / "mlp_backprop" / "mlp.py"
    path = path / "mlp.py" if path.is_dir() else path
    print(f"training {path} on {args.dataset}: 784-{args.hidden}-10, lr {args.lr}, batch {args.batch_sz}, "
          f"{args.epochs} epochs, seed {args.seed}")
    figures = train_and_evaluate(load_module(path), args.dataset, args.hidden, args.lr, args.batch_sz, args.epochs,
                                 args.seed)
    print(f"final test accuracy {figures['test_acc'][-1]:.2%} "
          f"({sum(figures['epoch_seconds']):.1f} s of training)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures))
    return 0
