"""Independent style for the similarity benchmark: close to the lecture slides (minibatch loop, max-shifted softmax)."""
import numpy as np


def make_labels_onehot(labels, num_cls):
    onehot = np.zeros((labels.shape[0], num_cls))
    onehot[np.arange(labels.shape[0]), labels] = 1
    return onehot


class MLP:
    def __init__(self, num_in=784, num_hid_neurons=128, num_cls=10, seed=None):
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": rng.normal(0, np.sqrt(2 / num_in), size=(num_in, num_hid_neurons)),
            "b1": np.zeros(num_hid_neurons),
            "W2": rng.normal(0, np.sqrt(2 / num_hid_neurons), size=(num_hid_neurons, num_cls)),
            "b2": np.zeros(num_cls),
        }

    def forward(self, data):
        self.data = data
        z1 = data @ self.params["W1"] + self.params["b1"]
        self.hidden_layer_output = np.maximum(0, z1)
        z2 = self.hidden_layer_output @ self.params["W2"] + self.params["b2"]
        return z2

    def backward(self, upstream_grad, batch_sz):
        dW2 = self.hidden_layer_output.T @ upstream_grad / batch_sz
        db2 = np.sum(upstream_grad, axis=0) / batch_sz
        dh = upstream_grad @ self.params["W2"].T
        dz1 = dh * (self.hidden_layer_output > 0)
        dW1 = self.data.T @ dz1 / batch_sz
        db1 = np.sum(dz1, axis=0) / batch_sz
        return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


class SoftmaxCrossEntropy:
    def __init__(self, model, num_cls=10):
        self.model = model
        self.num_cls = num_cls

    def forward(self, data, labels):
        logits = self.model.forward(data)
        logits = logits - np.max(logits, axis=1, keepdims=True)
        exp_logits = np.exp(logits)
        self.probs = exp_logits / np.sum(exp_logits, axis=1, keepdims=True)
        n = logits.shape[0]
        return -np.mean(np.log(self.probs[np.arange(n), labels] + 1e-12))

    def compute_grad(self, labels, batch_sz):
        y = make_labels_onehot(labels, self.num_cls)
        return self.model.backward(self.probs - y, batch_sz)


def train_mlp_neuralnet(model, loss_fn, data, labels, lr, batch_sz, num_epochs, seed=0):
    rng = np.random.default_rng(seed)
    n = data.shape[0]
    history = {"loss": [], "train_acc": []}
    for epoch in range(num_epochs):
        perm = rng.permutation(n)
        for i in range(0, n, batch_sz):
            batch = perm[i:i + batch_sz]
            x_batch, y_batch = data[batch], labels[batch]
            loss = loss_fn.forward(x_batch, y_batch)
            grads = loss_fn.compute_grad(y_batch, len(batch))
            for key in model.params:
                model.params[key] -= lr * grads[key]
            history["loss"].append(loss)
        history["train_acc"].append(np.mean(predict(model, data) == labels))
    return history


def predict(model, data):
    return np.argmax(model.forward(data), axis=1)
