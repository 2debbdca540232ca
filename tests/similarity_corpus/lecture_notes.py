"""Independent style for the similarity benchmark: another student following the same lecture, written separately."""
import numpy as np


def make_labels_onehot(labels, num_cls):
    return np.eye(num_cls)[labels]


def relu(x):
    return np.maximum(x, 0)


def softmax(scores):
    shifted = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


class MLP:
    def __init__(self, num_in=784, num_hid_neurons=128, num_cls=10, seed=None):
        gen = np.random.default_rng(seed)
        self.params = {}
        self.params["W1"] = gen.standard_normal((num_in, num_hid_neurons)) * np.sqrt(2.0 / num_in)
        self.params["b1"] = np.zeros(num_hid_neurons)
        self.params["W2"] = gen.standard_normal((num_hid_neurons, num_cls)) * np.sqrt(2.0 / num_hid_neurons)
        self.params["b2"] = np.zeros(num_cls)

    def forward(self, data):
        self.data = data
        self.hidden_layer_output = relu(data.dot(self.params["W1"]) + self.params["b1"])
        return self.hidden_layer_output.dot(self.params["W2"]) + self.params["b2"]

    def backward(self, upstream_grad, batch_sz):
        grads = {}
        grads["W2"] = self.hidden_layer_output.T.dot(upstream_grad) / batch_sz
        grads["b2"] = upstream_grad.sum(axis=0) / batch_sz
        delta = upstream_grad.dot(self.params["W2"].T)
        delta[self.hidden_layer_output <= 0] = 0.0
        grads["W1"] = self.data.T.dot(delta) / batch_sz
        grads["b1"] = delta.sum(axis=0) / batch_sz
        return grads


class SoftmaxCrossEntropy:
    def __init__(self, model, num_cls=10):
        self.model = model
        self.num_cls = num_cls

    def forward(self, data, labels):
        self.probs = softmax(self.model.forward(data))
        correct = self.probs[np.arange(len(labels)), labels]
        return float(-np.log(np.clip(correct, 1e-12, None)).mean())

    def compute_grad(self, labels, batch_sz):
        grad = self.probs - make_labels_onehot(labels, self.num_cls)
        return self.model.backward(grad, batch_sz)


def train_mlp_neuralnet(model, loss_fn, data, labels, lr, batch_sz, num_epochs, seed=0):
    rng = np.random.default_rng(seed)
    history = {"loss": [], "train_acc": []}
    for _ in range(num_epochs):
        idx = rng.permutation(len(data))
        data_shuf, labels_shuf = data[idx], labels[idx]
        for start in range(0, len(data), batch_sz):
            xb = data_shuf[start:start + batch_sz]
            yb = labels_shuf[start:start + batch_sz]
            history["loss"].append(loss_fn.forward(xb, yb))
            grads = loss_fn.compute_grad(yb, xb.shape[0])
            for name, value in grads.items():
                model.params[name] -= lr * value
        history["train_acc"].append(float((predict(model, data) == labels).mean()))
    return history


def predict(model, data):
    return model.forward(data).argmax(axis=1)
