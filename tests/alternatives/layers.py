"""Correct alternative style: cs231n-like layer objects chained by the MLP."""
import numpy as np


def make_labels_onehot(labels, num_cls):
    return (np.asarray(labels)[:, None] == np.arange(num_cls)[None, :]).astype(float)


class Affine:
    def __init__(self, params, w, b):
        self.params, self.w, self.b = params, w, b

    def forward(self, x):
        self.x = x
        return x @ self.params[self.w] + self.params[self.b]

    def backward(self, dout):
        return dout @ self.params[self.w].T, {self.w: self.x.T @ dout, self.b: dout.sum(0)}


class Relu:
    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


class MLP:
    def __init__(self, num_in=784, num_hid_neurons=128, num_cls=10, seed=None):
        rng = np.random.default_rng(seed)
        self.params = {"W1": rng.normal(0, np.sqrt(2 / num_in), (num_in, num_hid_neurons)),
                       "b1": np.zeros(num_hid_neurons),
                       "W2": rng.normal(0, np.sqrt(2 / num_hid_neurons), (num_hid_neurons, num_cls)),
                       "b2": np.zeros(num_cls)}
        self.layers = [Affine(self.params, "W1", "b1"), Relu(), Affine(self.params, "W2", "b2")]

    def forward(self, data):
        self.data = data
        out = data
        for layer in self.layers:
            out = layer.forward(out)
        return out

    def backward(self, upstream_grad, batch_sz):
        grads, dout = {}, upstream_grad
        for layer in reversed(self.layers):
            result = layer.backward(dout)
            if isinstance(result, tuple):
                dout, g = result
                grads.update(g)
            else:
                dout = result
        return {k: v / batch_sz for k, v in grads.items()}


class SoftmaxCrossEntropy:
    def __init__(self, model, num_cls=10):
        self.model, self.num_cls = model, num_cls

    def forward(self, data, labels):
        s = self.model.forward(data)
        shifted = s - s.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        self.probs = e / e.sum(axis=1, keepdims=True)
        log_norm = np.log(e.sum(axis=1))
        return float(np.mean(log_norm - shifted[np.arange(len(labels)), labels]))

    def compute_grad(self, labels, batch_sz):
        return self.model.backward(self.probs - make_labels_onehot(labels, self.num_cls), batch_sz)


def train_mlp_neuralnet(model, loss_fn, data, labels, lr, batch_sz, num_epochs, seed=0):
    rng = np.random.default_rng(seed)
    history = {"loss": []}
    for _ in range(num_epochs):
        perm = rng.permutation(len(data))
        for batch in np.array_split(perm, np.arange(batch_sz, len(data), batch_sz)):
            history["loss"].append(loss_fn.forward(data[batch], labels[batch]))
            grads = loss_fn.compute_grad(labels[batch], len(batch))
            for k in model.params:
                model.params[k] -= lr * grads[k]
    return history


def predict(model, data):
    return model.forward(data).argmax(axis=1)
