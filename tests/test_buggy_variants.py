"""A corpus of realistic bugs: each loses points on the check that should catch it, with the right diagnosis.

Every variant is the reference solution with exact text replacements (a test
fails loudly if the solution changes under it).
"""
from __future__ import annotations

import pytest

from autograder import grade
from conftest import FAST, RELEASE, mutate, said

BWD_W1 = '"W1": self.data.T @ grad_hidden / batch_sz'
BWD_B1 = '"b1": grad_hidden.sum(axis=0) / batch_sz'
BWD_W2 = '"W2": hidden.T @ upstream_grad / batch_sz'
BWD_B2 = '"b2": upstream_grad.sum(axis=0) / batch_sz'
ALL_DIV = [(BWD_W1, BWD_W1.replace(" / batch_sz", "")), (BWD_B1, BWD_B1.replace(" / batch_sz", "")),
           (BWD_W2, BWD_W2.replace(" / batch_sz", "")), (BWD_B2, BWD_B2.replace(" / batch_sz", ""))]
HIDDEN = 'self.hidden_layer_output = np.maximum(data @ p["W1"] + p["b1"], 0.0)'
SIGMOID_FWD = 'self.hidden_layer_output = 1 / (1 + np.exp(-(data @ p["W1"] + p["b1"])))'
MASK = '(upstream_grad @ p["W2"].T) * (hidden > 0)'
SHIFT = "shifted = scores - scores.max(axis=1, keepdims=True)"

# id: (replacements, check that must lose points, words its message must contain)
VARIANTS = {
    "no_batch_division": (ALL_DIV, "gradient.batch_averaging", "times too large: divide by batch_sz once"),
    "double_batch_division": ([(BWD_W2, BWD_W2 + " / batch_sz")], "gradient.batch_averaging",
                              "divided by batch_sz twice"),
    "divides_by_N": ([(line, line.replace("/ batch_sz", "/ self.data.shape[0]")) for line in (BWD_W1, BWD_B1, BWD_W2, BWD_B2)],
                     "gradient.batch_averaging",
                     "instead of batch_sz"),
    "relu_mask_missing": ([(MASK, '(upstream_grad @ p["W2"].T)')], "gradient.correctness",
                          "ReLU mask is missing"),
    "relu_mask_inverted": ([(MASK, '(upstream_grad @ p["W2"].T) * (hidden <= 0)')], "gradient.correctness",
                           "ReLU mask is inverted"),
    "b1_wrong_axis": ([(BWD_B1, BWD_B1.replace("axis=0", "axis=1"))], "gradient.shapes", "sum over axis 0"),
    "b1_axis_and_W1_undivided": ([(BWD_B1, BWD_B1.replace("axis=0", "axis=1")), ALL_DIV[0]],
                                 "gradient.batch_averaging", "W1 gradient is"),
    "b2_wrong_axis": ([(BWD_B2, BWD_B2.replace("axis=0", "axis=1"))], "gradient.shapes", "sum over axis 0"),
    "W1_transposed": ([(BWD_W1, '"W1": (self.data.T @ grad_hidden).T / batch_sz')], "gradient.shapes",
                      "transposed"),
    "W2_transposed": ([(BWD_W2, '"W2": upstream_grad.T @ hidden / batch_sz')], "gradient.shapes", "transposed"),
    "softmax_overflow": ([("shifted = scores - scores.max(axis=1, keepdims=True)", "shifted = scores")],
                         "loss.stable", "subtract the row max"),
    "loss_large_epsilon": ([("log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n"
                             "        self.probs = np.exp(log_probs)",
                             "self.probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)\n"
                             "        log_probs = np.log(self.probs + 1e-3)")], "loss.value", "mean cross-entropy"),
    "loss_summed": ([("return float(-log_probs[np.arange(labels.shape[0]), labels].mean())",
                      "return float(-log_probs[np.arange(labels.shape[0]), labels].sum())")],
                    "loss.value", "sum over the batch"),
    "loss_sign": ([("return float(-log_probs", "return float(log_probs")], "loss.value", "sign is wrong"),
    "onehot_off_by_one": ([("onehot[np.arange(labels.shape[0]), labels] = 1.0",
                            "onehot[np.arange(labels.shape[0]), labels - 1] = 1.0")], "onehot.values",
                          "expected"),
    "onehot_transposed": ([("return onehot\n", "return onehot.T\n")], "onehot.values", "transposed"),
    "forward_no_relu": ([(HIDDEN, 'self.hidden_layer_output = data @ p["W1"] + p["b1"]')], "forward.values",
                        "no ReLU"),
    "forward_sigmoid_consistent": ([(HIDDEN, SIGMOID_FWD),
                                    (MASK, '(upstream_grad @ p["W2"].T) * hidden * (1 - hidden)')],
                                   "forward.values", "sigmoid"),
    "forward_no_b2": ([('return self.hidden_layer_output @ p["W2"] + p["b2"]',
                        'return self.hidden_layer_output @ p["W2"]')], "forward.values", "b2 is not added"),
    "forward_returns_hidden": ([('return self.hidden_layer_output @ p["W2"] + p["b2"]',
                                 'return self.hidden_layer_output')], "forward.shape", "hidden layer"),
    "forward_modifies_input": ([("self.data = data\n", "data[data < 0] = 0\n        self.data = data\n")],
                               "forward.input_unchanged", "modified the data array"),
    "forward_ignores_params_dict": ([("        p = self.params\n        self.data = data",
                                      "        p = self.__dict__.setdefault('_kept', dict(self.params))\n"
                                      "        self.data = data")], "forward.params_honoured", "did not change"),
    "backward_stale_input": ([("        self.data = data\n", "        if self.data is None:\n"
                               "            self.data = data\n")], "gradient.latest_forward", "on every forward call"),
    "compute_grad_pre_averaged": ([("upstream = self.probs - make_labels_onehot(labels, self.num_cls)",
                                    "upstream = (self.probs - make_labels_onehot(labels, self.num_cls)) / len(labels)")],
                                  "compute_grad.upstream", "already divided by N"),
    "compute_grad_sign": ([("upstream = self.probs - make_labels_onehot(labels, self.num_cls)",
                            "upstream = make_labels_onehot(labels, self.num_cls) - self.probs")],
                          "compute_grad.upstream", "wrong sign"),
    "predict_argmin": ([("return np.argmax(model.forward(data), axis=1)",
                         "return np.argmin(model.forward(data), axis=1)")], "predict.values", "argmin"),
    "train_ignores_lr": ([("param -= lr * grads[name]", "param -= grads[name]")], "train.learning_rate",
                         "learning rate is ignored"),
    "train_wrong_sign": ([("param -= lr * grads[name]", "param += lr * grads[name]")], "train.learning_rate",
                         "wrong sign"),
    "train_no_shuffle": ([("order = rng.permutation(num_samples)", "order = np.arange(num_samples)")],
                         "train.visits_every_sample", "never shuffles"),
    "train_shuffles_once": ([("    for epoch in range(num_epochs):\n        order = rng.permutation(num_samples)\n",
                              "    order = rng.permutation(num_samples)\n    for epoch in range(num_epochs):\n")],
                            "train.visits_every_sample", "same order every epoch"),
    "train_labels_misaligned": ([("batch_labels = labels[idx]", "batch_labels = labels[start:start + batch_sz]")],
                                "train.visits_every_sample", "labels passed with a batch"),
    "train_drops_partial_batch": ([("starts = range(0, num_samples, batch_sz)",
                                    "starts = range(0, num_samples - batch_sz + 1, batch_sz)")],
                                  "train.epochs", "last, smaller batch is skipped"),
    "train_full_batch_size_for_last": ([("compute_grad(batch_labels, len(idx))",
                                         "compute_grad(batch_labels, batch_sz)")],
                                       "train.partial_batch", "pass the true size"),
    "train_skips_biases": ([("for name, param in model.params.items():\n                param -= lr * grads[name]",
                             "for name in ('W1', 'W2'):\n                model.params[name] -= lr * grads[name]")],
                           "train.updates_all_params", "b1, b2"),
    "train_with_replacement": ([("starts = range(0, num_samples, batch_sz)", "starts = range(num_samples // batch_sz)"),
                                ("idx = order[start:start + batch_sz]", "idx = np.random.choice(num_samples, batch_sz)")],
                               "train.epochs", "np.random.choice(N, batch_sz)"),
    "train_one_epoch_only": ([("for epoch in range(num_epochs):", "for epoch in range(1):")], "train.epochs",
                             "expected"),
    # averaged twice: with batch_sz == N it looks like a pure averaging slip, so the numerical checks leave it
    # to gradient.batch_averaging, which must then fail it (no two checks excuse one bug by pointing at each other)
    "b2_averaged_twice": ([(BWD_B2, '"b2": np.mean(upstream_grad / batch_sz, axis=0)')], "gradient.batch_averaging",
                          "averaged twice"),
    # N times the gradient: a factor batch_sz at batch_sz == N (left to gradient.batch_averaging), "wrong for
    # another reason" at batch_sz != N though it scales as 1 / batch_sz there: that check's excuse holds only
    # when gradient.correctness fails the parameter itself, which it does not here
    "b2_times_N": ([(BWD_B2, '"b2": upstream_grad.sum(axis=0) * len(upstream_grad) / batch_sz')],
                   "gradient.batch_averaging", "b2"),
    # wrong by a factor batch_sz only when batch_sz == N: an averaging slip to the numerical checks, which may
    # leave it to gradient.batch_averaging only if that check fails it; it does not (right with batch_sz != N)
    "b2_wrong_only_at_N": ([(BWD_B2, '"b2": upstream_grad.sum(axis=0) / batch_sz * (batch_sz if batch_sz == '
                                     'len(upstream_grad) else 1)')], "gradient.correctness", "b2"),
    "softmax_batch_max": ([(SHIFT, "shifted = scores - scores.max()")], "loss.stable",
                          "not one maximum of the whole batch"),
    "softmax_row_min": ([(SHIFT, "shifted = scores - scores.min(axis=1, keepdims=True)")], "loss.stable",
                        "not the row's minimum or mean"),
    "softmax_row_mean": ([(SHIFT, "shifted = scores - scores.mean(axis=1, keepdims=True)")], "loss.stable",
                         "not the row's minimum or mean"),
    "predict_constant": ([("return np.argmax(model.forward(data), axis=1)",
                           "return np.zeros(len(data), dtype=int)")], "predict.values", "disagrees"),
    # a hostile pair: predict returns zeros, and forward, once predict has run, scores class 0 highest everywhere,
    # so the student's own scores agree with the constant answer: judged against the true scores instead
    "predict_constant_rigged_scores": ([("return np.argmax(model.forward(data), axis=1)",
                                         "global _rigged\n    _rigged = True\n    return np.zeros(len(data), dtype=int)"),
                                        ('return self.hidden_layer_output @ p["W2"] + p["b2"]',
                                         'return self.hidden_layer_output @ p["W2"] + p["b2"] + (1e6 * (np.arange('
                                         'p["b2"].shape[0]) == 0) if globals().get("_rigged") else 0)')],
                                       "predict.values", "disagrees"),
}


#: single-bug variants -> every check that may lose points for it (the checks about that bug); a check
#: outside the set losing points means a bug blamed in an unrelated place
ABOUT = {
    "no_batch_division": {"gradient.batch_averaging"},
    "double_batch_division": {"gradient.batch_averaging"},
    "divides_by_N": {"gradient.batch_averaging"},
    "relu_mask_missing": {"gradient.consistency", "gradient.correctness", "gradient.realistic"},
    "relu_mask_inverted": {"gradient.consistency", "gradient.correctness", "gradient.realistic"},
    "b1_wrong_axis": {"gradient.shapes", "gradient.consistency", "gradient.correctness", "gradient.realistic"},
    "b2_wrong_axis": {"gradient.shapes", "gradient.consistency", "gradient.correctness", "gradient.realistic"},
    "W1_transposed": {"gradient.shapes"},
    "W2_transposed": {"gradient.shapes"},
    "softmax_overflow": {"loss.stable"},
    "loss_large_epsilon": {"loss.value", "loss.uniform", "loss.stable"},
    "loss_summed": {"loss.value", "loss.uniform", "loss.stable"},
    "loss_sign": {"loss.value", "loss.uniform", "loss.stable"},
    "onehot_off_by_one": {"onehot.values"},
    "forward_no_b2": {"forward.values"},
    "forward_ignores_params_dict": {"forward.params_honoured", "gradient.consistency"},
    "backward_stale_input": {"gradient.latest_forward"},
    "compute_grad_pre_averaged": {"compute_grad.upstream"},
    "compute_grad_sign": {"compute_grad.upstream"},
    "predict_argmin": {"predict.values"},
    "train_ignores_lr": {"train.learning_rate"},
    "train_wrong_sign": {"train.learning_rate"},
    "train_no_shuffle": {"train.visits_every_sample"},
    "train_shuffles_once": {"train.visits_every_sample"},
    "train_labels_misaligned": {"train.visits_every_sample"},
    "train_drops_partial_batch": {"train.epochs", "train.visits_every_sample"},
    "train_with_replacement": {"train.epochs", "train.visits_every_sample"},
    "train_full_batch_size_for_last": {"train.partial_batch"},
    "train_skips_biases": {"train.updates_all_params"},
    "train_one_epoch_only": {"train.epochs"},
    "b2_averaged_twice": {"gradient.batch_averaging"},
    "b2_times_N": {"gradient.batch_averaging"},
    "b2_wrong_only_at_N": {"gradient.consistency", "gradient.correctness", "gradient.realistic"},
    "softmax_batch_max": {"loss.stable"},
    "softmax_row_min": {"loss.stable"},
    "softmax_row_mean": {"loss.stable"},
    "predict_constant": {"predict.values"},
    "predict_constant_rigged_scores": {"predict.values"},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_bug_loses_points_with_the_right_diagnosis(variant, submit, solution_text):
    replacements, check, words = VARIANTS[variant]
    result = grade(submit(mutate(solution_text, replacements)), only=FAST)
    caught = result[check]
    assert caught.score < caught.max_score, f"{check} did not catch {variant}"
    assert words in said(result, check), f"{check} said: {caught.message}"
    assert result.score < result.max_score
    assert not result.grader_error, [c.message for c in result.checks if c.status == "error"]
    if variant in ABOUT:
        losers = {c.name for c in result.checks if c.score < c.max_score}
        assert losers <= ABOUT[variant], f"blamed elsewhere: {[(c, result[c].message) for c in losers - ABOUT[variant]]}"
    clauses = [part.strip() for c in result.checks for part in c.message.split("; ")
               if c.message and not part.startswith("same cause as in")]
    repeated = {part for part in clauses if clauses.count(part) > 1}
    assert not repeated, f"said more than once: {repeated}"


def test_the_textbook_epsilon_earns_full_loss_points(submit, solution_text):
    for eps in ("1e-7", "1e-12"):
        text = mutate(solution_text, [("log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n"
                                       "        self.probs = np.exp(log_probs)",
                                       "self.probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)\n"
                                       f"        log_probs = np.log(self.probs + {eps})")])
        result = grade(submit(text), only=["loss"])
        assert result.score == result.max_score, [(c.name, c.message) for c in result.checks]
        notes = [c.name for c in result.checks if "Deep Learning from Scratch" in c.message]
        assert len(notes) == 1, [(c.name, c.message) for c in result.checks]  # a note, said once


def _constant_module(value: str) -> str:
    """The release with every function returning ``value``-filled arrays of the right shapes (or doing nothing)."""
    stub = RELEASE.read_text()
    bodies = {
        "make_labels_onehot": f"return np.full((len(labels), num_cls), {value})",
        "MLP.forward": f"return np.full((data.shape[0], self.params['b2'].shape[0]), {value})",
        "MLP.backward": f"return {{k: np.full(v.shape, {value}) for k, v in self.params.items()}}",
        "SoftmaxCrossEntropy.forward": f"return float({value})",
        "SoftmaxCrossEntropy.compute_grad": f"return {{k: np.full(v.shape, {value}) for k, v in self.model.params.items()}}",
        "train_mlp_neuralnet": "return {'loss': [], 'train_acc': []}",
        "predict": "return np.zeros(data.shape[0], dtype=int)",
    }
    for name, body in bodies.items():
        raise_line = f'raise NotImplementedError("{name} is not implemented yet")'
        assert raise_line in stub, name
        stub = stub.replace(raise_line, body)
    return stub


@pytest.mark.parametrize("value", ["0.0", "1.0"])
def test_a_module_returning_constants_earns_only_interface_points(value, submit):
    result = grade(submit(_constant_module(value)), only=FAST)
    earned = {c.name: c.score for c in result.checks if c.score > 0}
    assert set(earned) <= {c.name for c in result.checks if c.name.startswith("interface.")}, \
        [(c.name, c.score, c.message) for c in result.checks if c.score > 0]
    assert result.score <= 5


def test_a_consistent_sigmoid_network_keeps_consistency_but_not_correctness(submit, solution_text):
    replacements = VARIANTS["forward_sigmoid_consistent"][0]
    result = grade(submit(mutate(solution_text, replacements)), only=["gradient"])
    assert result["gradient.consistency"].passed, result["gradient.consistency"].message
    # only b2's gradient (independent of the hidden activation) can be right
    assert result["gradient.correctness"].score <= result["gradient.correctness"].max_score / 4
    assert "W1" in result["gradient.correctness"].message


def test_all_zero_network_earns_no_gradient_points(submit, solution_text):
    zero = mutate(solution_text, [
        ('return self.hidden_layer_output @ p["W2"] + p["b2"]', 'return np.zeros((data.shape[0], p["b2"].shape[0]))'),
        ("        return {\n            \"W1\"", "        return {k: np.zeros_like(v) for k, v in p.items()}\n"
                                                  "        return {\n            \"W1\""),
    ])
    result = grade(submit(zero), only=["gradient"])
    numeric = [c for c in result.checks if c.name != "gradient.shapes" and c.name != "gradient.repeatable"]
    assert all(c.score == 0 for c in numeric), [(c.name, c.score, c.message) for c in numeric]
    assert "does not depend on" in result["gradient.consistency"].message


def test_corpus_is_large_enough():
    assert len(VARIANTS) >= 20
