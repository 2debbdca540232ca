"""Trusted math of the *specified* network, run only in the grader's process.

No backpropagation lives here: the grader judges gradients against centred
finite differences of this forward pass, so the package carries no solution.

Shapes: x (N, D); params W1 (D, H), b1 (H,), W2 (H, C), b2 (C,); scores
(N, C); labels (N,) ints; upstream G (N, C).
"""
from __future__ import annotations

import numpy as np

PARAM_NAMES = ("W1", "b1", "W2", "b2")


def forward(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Scores (N, C) = ReLU(x @ W1 + b1) @ W2 + b2, in float64."""
    hidden = np.maximum(x @ params["W1"] + params["b1"], 0.0)
    return hidden @ params["W2"] + params["b2"]


def log_softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise log softmax of (N, C) scores, stable for any finite scores."""
    top = np.max(scores, axis=1)[:, None]
    return scores - top - np.log(np.sum(np.exp(scores - top), axis=1))[:, None]


def cross_entropy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean softmax cross-entropy of (N, C) scores against (N,) labels."""
    return float(-log_softmax(scores)[np.arange(len(labels)), labels].mean())


def onehot(labels: np.ndarray, num_cls: int) -> np.ndarray:
    """(N, C) float one-hot rows of (N,) labels."""
    return np.eye(num_cls)[labels]


def random_params(rng: np.random.Generator, d: int, h: int, c: int, scale: float = 1.0) -> dict[str, np.ndarray]:
    """Random float64 parameters with non-zero biases (so bias bugs show)."""
    return {
        "W1": rng.standard_normal((d, h)) * scale / np.sqrt(d),
        "b1": rng.standard_normal(h) * 0.5 * scale,
        "W2": rng.standard_normal((h, c)) * scale / np.sqrt(h),
        "b2": rng.standard_normal(c) * 0.5 * scale,
    }


def perturbation_coords(shapes: dict[str, tuple], per_param: int | None, rng: np.random.Generator) -> np.ndarray:
    """Rows (param index, flat index, sign) for centred differences.

    Every coordinate when ``per_param`` is None, else that many sampled per
    parameter; each coordinate appears twice, sign +1 then -1. Shape (K, 3).
    """
    rows = []
    for which, name in enumerate(PARAM_NAMES):
        size = int(np.prod(shapes[name]))
        flat = np.arange(size) if per_param is None or per_param >= size else \
            np.sort(rng.choice(size, per_param, replace=False))
        for i in flat:
            rows += [(which, i, 1), (which, i, -1)]
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def linear_loss(scores: np.ndarray, upstream: np.ndarray, batch_sz: int) -> np.ndarray:
    """L = sum(G * scores) / batch_sz for one (N, C) or a stack (K, N, C) of scores.

    Its gradient with respect to the parameters is exactly what
    ``backward(G, batch_sz)`` must return.
    """
    return np.einsum("...nc,nc->...", scores, upstream) / batch_sz


def numerical_grads(scores_of: np.ndarray, coords: np.ndarray, shapes: dict[str, tuple], upstream: np.ndarray,
                    batch_sz: int, h: float) -> dict[str, np.ndarray]:
    """Centred differences of the linear loss from perturbed scores.

    Args:
        scores_of: (K, N, C) scores, row k computed with coordinate ``coords[k]`` moved.
        coords: (K, 3) from ``perturbation_coords``.
    Returns:
        dict name -> flat array of the parameter's size; NaN where not sampled.
    """
    losses = linear_loss(scores_of, upstream, batch_sz)
    grads = {name: np.full(int(np.prod(shapes[name])), np.nan) for name in PARAM_NAMES}
    for k in range(0, len(coords), 2):
        which, flat, _ = coords[k]
        grads[PARAM_NAMES[which]][flat] = (losses[k] - losses[k + 1]) / (2 * h)
    return grads


def reference_scores(params: dict[str, np.ndarray], x: np.ndarray, coords: np.ndarray, h: float) -> np.ndarray:
    """(K, N, C) scores of the specified network with each coordinate moved (see numerical_grads)."""
    out = []
    for which, flat, sign in coords:
        name = PARAM_NAMES[which]
        moved = dict(params)
        moved[name] = params[name].copy()
        moved[name].flat[flat] += sign * h
        out.append(forward(moved, x))
    return np.stack(out)


def true_grads(params: dict[str, np.ndarray], x: np.ndarray, upstream: np.ndarray, batch_sz: int, h: float,
               coords: np.ndarray) -> dict[str, np.ndarray]:
    """Numerical gradient of the specified network's linear loss (flat, NaN where not sampled)."""
    shapes = {k: v.shape for k, v in params.items()}
    return numerical_grads(reference_scores(params, x, coords, h), coords, shapes, upstream, batch_sz, h)


def rel_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """|a - n| / max(1e-8, |a| + |n|) over the sampled entries (norms; NaN entries skipped)."""
    numeric = np.asarray(numeric, dtype=np.float64).reshape(-1)
    mask = ~np.isnan(numeric)
    a, n = np.asarray(analytic, dtype=np.float64).reshape(-1)[mask], numeric[mask]
    return float(np.linalg.norm(a - n) / max(1e-8, np.linalg.norm(a) + np.linalg.norm(n)))


def accuracy(params: dict[str, np.ndarray], x: np.ndarray, labels: np.ndarray, chunk: int = 5000) -> float:
    """Fraction of rows of x (N, D) whose argmax score equals the label."""
    hits = 0
    for start in range(0, len(x), chunk):
        hits += int((forward(params, x[start:start + chunk]).argmax(axis=1) == labels[start:start + chunk]).sum())
    return hits / len(x)
