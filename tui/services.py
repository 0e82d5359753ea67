"""The engine calls the app makes from its workers, gathered so tests can swap in fixed ones.

Each default imports its engine module on first use: the runner and the checks pull in requests
(and, once a run starts, mlflow), which the first frame must not wait for.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

if TYPE_CHECKING:
    from workflow import Event, RunPlan, RunSummary, Workflow


def engine_list_models(registry_uri: str) -> list[str]:
    from workflow import registered_model_names

    return registered_model_names(registry_uri)


def engine_iter_checks(config: "Workflow", cancel: threading.Event) -> Iterator[Any]:
    from workflow import iter_checks

    return iter_checks(config, cancel=cancel)


def engine_run_workflow(config: "Workflow", on_event: Callable[["Event"], None], cancel: threading.Event) -> "RunSummary":
    from workflow import run_workflow

    return run_workflow(config, on_event, cancel=cancel)


def engine_plan_workflow(config: "Workflow", on_event: Callable[["Event"], None], cancel: threading.Event) -> "RunPlan":
    from workflow import plan_workflow

    return plan_workflow(config, on_event, cancel=cancel)


@dataclass(frozen=True)
class Services:
    list_models: Callable[[str], list[str]] = engine_list_models
    """Registered model names at a registry URI (the Source step's live preview)."""
    iter_checks: Callable[["Workflow", threading.Event], Iterator[Any]] = engine_iter_checks
    """`workflow.checks.iter_checks`: yields each `CheckStep` as it finishes."""
    run_workflow: Callable[["Workflow", Callable[["Event"], None], threading.Event], "RunSummary"] = (
        engine_run_workflow)
    """`workflow.runner.run_workflow`: emits events from its own thread."""
    plan_workflow: Callable[["Workflow", Callable[["Event"], None], threading.Event], "RunPlan"] = (
        engine_plan_workflow)
    """`workflow.plan.plan_workflow`: what a run would change; writes nothing."""
