"""The wizard's panes, one module each, in the order the user meets them."""
from .base import Step
from .check import TestStep
from .mlflow_server import MlflowStep
from .openmetadata import OpenMetadataStep
from .review import ReviewStep
from .run import RunStep
from .sink import SinkStep
from .source import SourceStep
from .write import WriteStep

STEPS: tuple[type[Step], ...] = (
    MlflowStep, SourceStep, SinkStep, OpenMetadataStep, ReviewStep, TestStep, WriteStep, RunStep,
)

__all__ = ["STEPS", "Step"]
