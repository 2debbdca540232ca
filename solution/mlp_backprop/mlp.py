"""A one-hidden-layer ReLU MLP trained with mini-batch SGD, in plain numpy.

This is the module you edit and submit. Fill in every function body that
raises ``NotImplementedError``; keep every name and signature as it is, the
autograder calls them exactly like this.

Notation used in every docstring:

    N  number of samples in a (mini-)batch
    D  number of input features (784 for MNIST: 28 x 28 pixels)
    H  number of hidden neurons (``num_hid_neurons``)
    C  number of classes (``num_cls``, 10 for MNIST)

The network is

    hidden = ReLU(data @ W1 + b1)        (N, H)
    scores = hidden @ W2 + b2            (N, C)

and the loss is the mean softmax cross-entropy over the N samples. Every
gradient this module returns is the gradient of that *mean*: the summed
gradient divided by the mini-batch size ``batch_sz`` exactly once.

The weight initialisation in ``MLP.__init__`` is given to you (He
initialisation); you do not have to change it.
"""
import numpy as np

__all__ = [
    "make_labels_onehot",
    "MLP",
    "SoftmaxCrossEntropy",
    "train_mlp_neuralnet",
    "predict",
]


def make_labels_onehot(labels, num_cls):
    """Turn integer class labels into one-hot rows.

    Args:
        labels: int array of shape (N,), values in ``0 .. num_cls - 1``.
        num_cls: number of classes C.

    Returns:
        float array of shape (N, C) with ``onehot[i, labels[i]] == 1.0`` and
        zeros elsewhere.
    """
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    onehot = np.zeros((labels.shape[0], num_cls), dtype=np.float64)
    onehot[np.arange(labels.shape[0]), labels] = 1.0
    return onehot


class MLP:
    """784-H-10 style network: ``scores = ReLU(data @ W1 + b1) @ W2 + b2``.

    Attributes:
        params: dict of parameters, read afresh by every ``forward`` call
            (a caller may replace or perturb them in place):
            ``'W1'`` (D, H), ``'b1'`` (H,), ``'W2'`` (H, C), ``'b2'`` (C,).
        data: the input of the most recent ``forward``, (N, D).
        hidden_layer_output: ReLU activations of the most recent
            ``forward``, (N, H).
    """

    def __init__(self, num_in=784, num_hid_neurons=128, num_cls=10, seed=None):
        """Create the parameters (given: He initialisation, zero biases).

        Args:
            num_in: D, input features.
            num_hid_neurons: H, hidden neurons.
            num_cls: C, classes.
            seed: seed for ``np.random.default_rng``; None draws a fresh one.
        """
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": rng.standard_normal((num_in, num_hid_neurons)) * np.sqrt(2.0 / num_in),
            "b1": np.zeros(num_hid_neurons),
            "W2": rng.standard_normal((num_hid_neurons, num_cls)) * np.sqrt(2.0 / num_hid_neurons),
            "b2": np.zeros(num_cls),
        }
        self.data = None
        self.hidden_layer_output = None

    def forward(self, data):
        """Compute the class scores of a batch and cache what backward needs.

        Args:
            data: float array (N, D). Must not be modified.

        Returns:
            scores: float array (N, C), ``ReLU(data @ W1 + b1) @ W2 + b2``.

        Side effects:
            stores ``self.data`` (N, D) and ``self.hidden_layer_output``
            (N, H) for ``backward``.
        """
        p = self.params
        self.data = data
        self.hidden_layer_output = np.maximum(data @ p["W1"] + p["b1"], 0.0)
        return self.hidden_layer_output @ p["W2"] + p["b2"]

    def backward(self, upstream_grad, batch_sz):
        """Backpropagate through the network of the most recent ``forward``.

        Args:
            upstream_grad: float array (N, C), gradient of the *summed* loss
                with respect to the scores of the last ``forward``.
            batch_sz: the mini-batch size; the summed gradients are divided
                by it exactly once, so the result is the gradient of the mean
                loss.

        Returns:
            dict with the keys of ``params`` and the same shapes:
            ``'W1'`` (D, H), ``'b1'`` (H,), ``'W2'`` (H, C), ``'b2'`` (C,).
            The ReLU passes gradient only where its input was positive.
        """
        p = self.params
        hidden = self.hidden_layer_output
        grad_hidden = (upstream_grad @ p["W2"].T) * (hidden > 0)
        return {
            "W1": self.data.T @ grad_hidden / batch_sz,
            "b1": grad_hidden.sum(axis=0) / batch_sz,
            "W2": hidden.T @ upstream_grad / batch_sz,
            "b2": upstream_grad.sum(axis=0) / batch_sz,
        }


class SoftmaxCrossEntropy:
    """Softmax + cross-entropy loss on top of a model's scores.

    Attributes:
        model: the ``MLP`` whose ``forward``/``backward`` this loss drives.
        num_cls: C.
        probs: softmax probabilities of the most recent ``forward``, (N, C).
    """

    def __init__(self, model, num_cls=10):
        self.model = model
        self.num_cls = num_cls
        self.probs = None

    def forward(self, data, labels):
        """Mean cross-entropy of softmax(model.forward(data)) over the batch.

        Args:
            data: float array (N, D), passed to ``self.model.forward``.
            labels: int array (N,), the true classes.

        Returns:
            float: ``-mean_i log softmax(scores)[i, labels[i]]``. Must stay
            finite for very large scores (think of ``exp(1000)``).

        Side effects:
            stores ``self.probs`` (N, C).
        """
        scores = self.model.forward(data)
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.probs = np.exp(log_probs)
        labels = np.asarray(labels).astype(np.int64).reshape(-1)
        return float(-log_probs[np.arange(labels.shape[0]), labels].mean())

    def compute_grad(self, labels, batch_sz):
        """Gradients of the mean loss of the most recent ``forward``.

        Args:
            labels: int array (N,), the labels given to ``forward``.
            batch_sz: the mini-batch size N used for averaging.

        Returns:
            ``self.model.backward(probs - onehot(labels), batch_sz)``: the
            upstream gradient passed on is the raw (N, C) difference, *not*
            divided by anything; ``backward`` does the averaging.
        """
        upstream = self.probs - make_labels_onehot(labels, self.num_cls)
        return self.model.backward(upstream, batch_sz)


def _progress(iterable, total, desc, enabled):
    """Wrap ``iterable`` in a tqdm progress bar when tqdm is installed (given)."""
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=desc, leave=False)


def train_mlp_neuralnet(model, loss_fn, data, labels, lr, batch_sz, num_epochs,
                        seed=0, verbose=False):
    """Train ``model`` with mini-batch SGD.

    Every epoch draws a fresh random order of the N samples (from
    ``np.random.default_rng(seed)``), visits every sample exactly once in
    mini-batches of ``batch_sz`` (the last batch may be smaller and uses its
    true size), and updates every parameter in place with
    ``param -= lr * grad``.

    Args:
        model: an ``MLP``.
        loss_fn: a ``SoftmaxCrossEntropy`` wrapping ``model``.
        data: float array (N, D).
        labels: int array (N,).
        lr: learning rate.
        batch_sz: mini-batch size (each batch passes its true size on to
            ``compute_grad``).
        num_epochs: number of passes over the data.
        seed: seed of the shuffling.
        verbose: show a progress bar (given).

    Returns:
        history dict: ``'loss'`` list with one float per iteration (mini-batch),
        ``'train_acc'`` list with one float per epoch (accuracy on the
        mini-batches seen during that epoch).
    """
    history = {"loss": [], "train_acc": []}
    rng = np.random.default_rng(seed)
    num_samples = data.shape[0]
    num_batches = -(-num_samples // batch_sz)
    for epoch in range(num_epochs):
        order = rng.permutation(num_samples)
        correct = 0
        starts = range(0, num_samples, batch_sz)
        for start in _progress(starts, num_batches, f"epoch {epoch + 1}/{num_epochs}", verbose):
            idx = order[start:start + batch_sz]
            batch_labels = labels[idx]
            loss = loss_fn.forward(data[idx], batch_labels)
            grads = loss_fn.compute_grad(batch_labels, len(idx))
            for name, param in model.params.items():
                param -= lr * grads[name]
            history["loss"].append(loss)
            correct += int((loss_fn.probs.argmax(axis=1) == batch_labels).sum())
        history["train_acc"].append(correct / num_samples)
    return history


def predict(model, data):
    """Predicted class of every sample.

    Args:
        model: an ``MLP``.
        data: float array (N, D).

    Returns:
        int array (N,): the row-wise argmax of ``model.forward(data)``.
    """
    return np.argmax(model.forward(data), axis=1)
