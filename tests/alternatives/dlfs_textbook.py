"""Correct alternative style: Deep Learning from Scratch (밑바닥부터 시작하는 딥러닝) ch. 5.

Layer classes (Affine, Relu) with forward/backward, the book's softmax and
``cross_entropy_error`` with ``np.log(y + 1e-7)``, and the averaging done
once, where the contract puts it: in ``MLP.backward``.
"""
import numpy as np


def softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


def make_labels_onehot(labels, num_cls):
    t = np.zeros((labels.size, num_cls))
    for idx, row in enumerate(t):
        row[labels[idx]] = 1
    return t


class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = (x <= 0)
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout = dout.copy()
        dout[self.mask] = 0
        return dout


class Affine:
    def __init__(self, params, w_name, b_name):
        self.params, self.w_name, self.b_name = params, w_name, b_name
        self.x = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.x = x
        return np.dot(x, self.params[self.w_name]) + self.params[self.b_name]

    def backward(self, dout):
        dx = np.dot(dout, self.params[self.w_name].T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx


class MLP:
    def __init__(self, num_in=784, num_hid_neurons=128, num_cls=10, seed=None):
        rng = np.random.default_rng(seed)
        self.params = {}
        self.params["W1"] = rng.standard_normal((num_in, num_hid_neurons)) * np.sqrt(2.0 / num_in)
        self.params["b1"] = np.zeros(num_hid_neurons)
        self.params["W2"] = rng.standard_normal((num_hid_neurons, num_cls)) * np.sqrt(2.0 / num_hid_neurons)
        self.params["b2"] = np.zeros(num_cls)
        self.layers = {"Affine1": Affine(self.params, "W1", "b1"), "Relu1": Relu(),
                       "Affine2": Affine(self.params, "W2", "b2")}

    def forward(self, data):
        x = data
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def backward(self, upstream_grad, batch_sz):
        dout = upstream_grad / batch_sz
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        return {"W1": self.layers["Affine1"].dW, "b1": self.layers["Affine1"].db,
                "W2": self.layers["Affine2"].dW, "b2": self.layers["Affine2"].db}


class SoftmaxCrossEntropy:
    def __init__(self, model, num_cls=10):
        self.model, self.num_cls = model, num_cls
        self.probs = None

    def forward(self, data, labels):
        self.probs = softmax(self.model.forward(data))
        return cross_entropy_error(self.probs, labels)

    def compute_grad(self, labels, batch_sz):
        return self.model.backward(self.probs - make_labels_onehot(labels, self.num_cls), batch_sz)


def train_mlp_neuralnet(model, loss_fn, data, labels, lr, batch_sz, num_epochs, seed=0, verbose=False):
    rng = np.random.default_rng(seed)
    history = {"loss": [], "train_acc": []}
    train_size = data.shape[0]
    for epoch in range(num_epochs):
        order = rng.permutation(train_size)
        for i in range(0, train_size, batch_sz):
            batch_mask = order[i:i + batch_sz]
            x_batch, t_batch = data[batch_mask], labels[batch_mask]
            history["loss"].append(loss_fn.forward(x_batch, t_batch))
            grad = loss_fn.compute_grad(t_batch, len(batch_mask))
            for key in ("W1", "b1", "W2", "b2"):
                model.params[key] -= lr * grad[key]
    return history


def predict(model, data):
    return np.argmax(model.forward(data), axis=1)
