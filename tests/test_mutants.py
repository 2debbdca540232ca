"""The grader tested like a test suite, by mutation (``benchmarks/mutation.py``).

A fixed, evenly spread sample of the one-change mutants of two correct styles
(the reference and the layer-class style) is classified behaviourally against
its unmutated style and graded with the real grader: a mutant that behaves
differently must lose points, one that behaves the same must keep full marks.
``python -m benchmarks.mutation`` runs every mutation point and prints the
mutation score and the survivors.
"""
from __future__ import annotations

import pytest

from benchmarks import mutation

#: mutants graded per style in CI (the benchmark grades all of them)
PER_STYLE = 8
STYLES = ("reference", "layers")
SAMPLE = [m for style in STYLES for m in mutation.sample(mutation.mutants(style), PER_STYLE)]


@pytest.fixture(scope="module")
def behaviour():
    """Style -> its unmutated module's contract outputs."""
    return {style: mutation._battery_subprocess(mutation.mutant_base(style)) for style in STYLES}


@pytest.mark.parametrize("style", STYLES)
def test_every_kind_of_small_change_is_tried(style):
    operators = {m.operator for m in mutation.mutants(style)}
    expected = {"operator", "comparison", "constant", "drop .T", "drop right operand", "function",
                "delete statement"}
    assert expected <= operators, f"{style}: no mutant of kind {expected - operators}"


def test_mutants_change_only_code_a_student_writes():
    given = mutation.mutant_base("reference")
    init = given[given.index("    def __init__(self, num_in"):given.index("    def forward(self, data)")]
    for m in mutation.mutants("reference"):
        assert m.text.count(init) == 1, f"{m.describe()} changes the given MLP.__init__"
        assert m.text != given


def test_the_classification_tells_behaviour_apart(behaviour):
    base = mutation.mutant_base("reference")
    assert mutation.classify(behaviour["reference"], mutation._battery_subprocess(base)) == "equivalent"
    no_transpose = base.replace('(upstream_grad @ p["W2"].T)', '(upstream_grad @ p["W2"])')
    assert no_transpose != base
    assert mutation.classify(behaviour["reference"], mutation._battery_subprocess(no_transpose)) == "differing"
    reordered = base.replace('grad_hidden.sum(axis=0) / batch_sz', 'np.sum(grad_hidden / batch_sz, axis=0)')
    assert reordered != base
    assert mutation.classify(behaviour["reference"], mutation._battery_subprocess(reordered)) == "equivalent"


@pytest.mark.slow
@pytest.mark.parametrize("mutant", SAMPLE, ids=lambda m: f"{m.style}-{m.index}-{m.operator.replace(' ', '_')}")
def test_a_mutant_loses_points_exactly_when_it_behaves_differently(mutant, behaviour):
    row = mutation.judge(mutant, behaviour[mutant.style])
    verdict = {"differing": "behaves differently but keeps full marks",
               "equivalent": f"behaves like the reference but lost points in {row['lost']}"}.get(row["kind"], "")
    assert row["ok"], f"{mutant.describe()} {verdict} ({row['score']:g}/{row['max']:g})"
