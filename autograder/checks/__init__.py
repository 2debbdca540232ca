"""The grading pipeline: an ordered list of small checks (pipelines are data).

Each check carries its name, title and visibility; points come from the
config (``[points]`` in ``default_config.toml``).
"""
from .accuracy import GraderError, MnistAccuracy
from .base import Check, Context, Verdict
from .forward import (ForwardInputUnchanged, ForwardParamsHonoured, ForwardShape, ForwardValues, OnehotValues,
                      PredictValues)
from .gradient import (BatchAveraging, ComputeGradUpstream, GradientConsistency, GradientCorrectness,
                       GradientLatestForward, GradientRealistic, GradientRepeatable, GradientShapes)
from .interface import CONTRACT, InterfaceCheck
from .loss import LossStable, LossUniform, LossValue
from .training import Epochs, LearningRate, PartialBatch, UpdatesAllParams, VisitsEverySample

PIPELINE: list[Check] = [
    *(InterfaceCheck(symbol) for symbol in CONTRACT),
    OnehotValues(), ForwardShape(), ForwardValues(), ForwardInputUnchanged(), ForwardParamsHonoured(),
    PredictValues(),
    LossValue(), LossUniform(), LossStable(),
    GradientShapes(), GradientConsistency(), GradientCorrectness(), GradientRealistic(), BatchAveraging(),
    GradientRepeatable(), GradientLatestForward(), ComputeGradUpstream(),
    LearningRate(), Epochs(), VisitsEverySample(), PartialBatch(), UpdatesAllParams(),
    MnistAccuracy(),
]

__all__ = ["PIPELINE", "Check", "Context", "Verdict", "GraderError"]
