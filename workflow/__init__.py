"""The engine: config models, YAML load/write, checks, the MLflow source, sinks and the runner.

Nothing here imports a user interface; the CLI (`workflow.cli`) and the TUI (`tui`) are faces over
this public API. Names are loaded on first use, so importing one module (say `workflow.document.config`)
does not pay for the runner, the sinks and `requests`.
"""
from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "Workflow": "document.config",
    "ConfigError": "errors", "EndpointError": "errors", "Problem": "errors", "UserError": "errors",
    "RunSummary": "events",
    "LoadedWorkflow": "document.loader", "load_workflow": "document.loader", "parse_workflow": "document.loader",
    "run_workflow": "runner",
    "to_yaml": "document.writer", "write_workflow": "document.writer",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'workflow' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
