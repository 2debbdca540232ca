"""Correct alternative style: keeps whatever dtype it is given, explicit in-place updates, a while loop."""
import numpy as np


def make_labels_onehot(labels, num_cls):
    out = np.zeros((len(labels), num_cls))
    for i, label in enumerate(labels):
        out[i, int(label)] = 1
    return out


class MLP:
    def __init__(self, num_in=784, num_hid_neurons=128, num_cls=10, seed=None):
        rng = np.random.default_rng(seed)
        self.params = {"W1": rng.standard_normal((num_in, num_hid_neurons)) * (2 / num_in) ** 0.5,
                       "b1": np.zeros(num_hid_neurons),
                       "W2": rng.standard_normal((num_hid_neurons, num_cls)) * (2 / num_hid_neurons) ** 0.5,
                       "b2": np.zeros(num_cls)}

    def forward(self, data):
        dtype = np.result_type(data, self.params["W1"])
        self.data = data
        z = data @ self.params["W1"].astype(dtype, copy=False) + self.params["b1"].astype(dtype, copy=False)
        self.hidden_layer_output = np.maximum(z, np.zeros((), dtype=dtype))
        return self.hidden_layer_output @ self.params["W2"].astype(dtype, copy=False) + self.params["b2"]

    def backward(self, upstream_grad, batch_sz):
        scale = 1.0 / batch_sz
        grad_hidden = upstream_grad @ self.params["W2"].T
        grad_hidden[self.hidden_layer_output <= 0] = 0
        return {"W1": scale * (self.data.T @ grad_hidden), "b1": scale * grad_hidden.sum(axis=0),
                "W2": scale * (self.hidden_layer_output.T @ upstream_grad), "b2": scale * upstream_grad.sum(axis=0)}


class SoftmaxCrossEntropy:
    def __init__(self, model, num_cls=10):
        self.model, self.num_cls = model, num_cls

    def forward(self, data, labels):
        scores = self.model.forward(data)
        scores = scores - np.max(scores, axis=1)[:, None]
        exp = np.exp(scores)
        self.probs = exp / np.sum(exp, axis=1)[:, None]
        picked = scores[np.arange(scores.shape[0]), labels] - np.log(np.sum(exp, axis=1))
        return -float(np.sum(picked)) / scores.shape[0]

    def compute_grad(self, labels, batch_sz):
        upstream = self.probs.copy()
        upstream[np.arange(len(labels)), labels] -= 1
        return self.model.backward(upstream, batch_sz)


def train_mlp_neuralnet(model, loss_fn, data, labels, lr, batch_sz, num_epochs, seed=0):
    rng = np.random.default_rng(seed)
    history = {"loss": [], "train_acc": []}
    epoch = 0
    while epoch < num_epochs:
        order = np.arange(data.shape[0])
        rng.shuffle(order)
        start = 0
        while start < len(order):
            idx = order[start:start + batch_sz]
            history["loss"].append(loss_fn.forward(data[idx], labels[idx]))
            grads = loss_fn.compute_grad(labels[idx], len(idx))
            for name in model.params:
                np.subtract(model.params[name], lr * grads[name], out=model.params[name])
            start += batch_sz
        epoch += 1
    return history


def predict(model, data):
    scores = model.forward(data)
    return np.array([int(np.argmax(row)) for row in scores])
