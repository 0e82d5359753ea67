"""The engine: config models, YAML load/write, checks, the MLflow source, sinks and the runner.

Nothing here imports a user interface; the CLI (`workflow.cli`) and the TUI (`tui`) are faces over
this public API.
"""
from .config import Workflow
from .errors import ConfigError, EndpointError, Problem, UserError
from .events import RunSummary
from .loader import LoadedWorkflow, load_workflow, parse_workflow
from .runner import run_workflow
from .writer import to_yaml, write_workflow

__all__ = [
    "ConfigError", "EndpointError", "LoadedWorkflow", "Problem", "RunSummary", "UserError", "Workflow",
    "load_workflow", "parse_workflow", "run_workflow", "to_yaml", "write_workflow",
]
