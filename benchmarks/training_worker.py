"""One training run at a fixed thread count, in its own process (BLAS reads its thread count at import).

    OPENBLAS_NUM_THREADS=N OMP_NUM_THREADS=N python -m benchmarks.training_worker N EPOCHS

Prints one JSON line: numpy (float32, as PyTorch) and, when installed, PyTorch figures.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from autograder import data
from autograder.training_demo import DEFAULTS, load_module

SOLUTION = Path(__file__).resolve().parents[1] / "solution" / "mlp_backprop" / "mlp.py"


def numpy_run(x, y, xt, yt, epochs: int) -> dict:
    mlp = load_module(SOLUTION)
    model = mlp.MLP(x.shape[1], DEFAULTS["hidden"], 10, seed=0)
    model.params = {k: v.astype(np.float32) for k, v in model.params.items()}  # PyTorch's precision
    loss_fn = mlp.SoftmaxCrossEntropy(model, 10)
    seconds, accs = [], []
    for epoch in range(epochs):
        t = time.perf_counter()
        mlp.train_mlp_neuralnet(model, loss_fn, x, y, DEFAULTS["lr"], DEFAULTS["batch_sz"], 1, seed=epoch)
        seconds.append(time.perf_counter() - t)
        accs.append(float((mlp.predict(model, xt) == yt).mean()))
    return {"epoch_s": seconds, "test_acc": accs}


def torch_run(x, y, xt, yt, epochs: int, threads: int) -> dict | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    X, Y, XT = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(xt)
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], DEFAULTS["hidden"]), torch.nn.ReLU(),
                                torch.nn.Linear(DEFAULTS["hidden"], 10))
    opt = torch.optim.SGD(model.parameters(), lr=DEFAULTS["lr"])
    loss_fn = torch.nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(0)
    seconds, accs = [], []
    for _ in range(epochs):
        t = time.perf_counter()
        order = torch.randperm(len(X), generator=g)
        for start in range(0, len(X), DEFAULTS["batch_sz"]):
            idx = order[start:start + DEFAULTS["batch_sz"]]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(X[idx]), Y[idx]).backward()
            opt.step()
        seconds.append(time.perf_counter() - t)
        with torch.no_grad():
            accs.append(float((model(XT).argmax(1).numpy() == yt).mean()))
    return {"version": torch.__version__, "epoch_s": seconds, "test_acc": accs}


def peak_gflops() -> float:
    """Achievable float32 GEMM rate at this thread count (2048^3 matmul), GFLOP/s."""
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    a @ a
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        a @ a
        best = max(best, 2 * 2048 ** 3 / (time.perf_counter() - t) / 1e9)
    return best


if __name__ == "__main__":
    threads, epochs = int(sys.argv[1]), int(sys.argv[2])
    (x, y), (xt, yt) = data.load_mnist()
    print(json.dumps({"threads": threads, "numpy": numpy_run(x, y, xt, yt, epochs),
                      "torch": torch_run(x, y, xt, yt, epochs, threads), "peak_gflops": peak_gflops()}))
