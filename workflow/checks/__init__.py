"""Live connection checks: can this workflow reach MLflow and OpenMetadata, and if not, why not.

The official `metadata test-connection` runs one step (GetModels) through MlflowClient, whose retries
under a 180 s alarm make a refused port take minutes to report. Here each endpoint is a short list
of steps, probed with short timeouts and no retries, both endpoints at once, and each failure names
its cause and the setting to fix. MLflow is read by the run's own reader (`registry`), held to a
check's policy; MLflow itself is imported only for stores that are not HTTP servers or databases (a
folder, Databricks), which only its client can read.

This module is the public API; the package's modules, in reading order:
`steps` (what a check reports, how an endpoint's steps run), `network` (URLs and TCP connects),
`mlflow_checks` (the MLflow steps, with `mlflow_identity`, `mlflow_stores` and `mlflow_artifacts`
under them), `openmetadata` and `file_sink`.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, replace
from typing import Callable, Iterator

from ..openmetadata.om_client import OpenMetadataClient
from ..document.sink import FileSink
from ..document.workflow_file import Workflow
from ..document.redact import scrub
from ..registry.mlflow_credentials import known_secrets
from .file_sink import file_sink_plan
from .mlflow_checks import mlflow_plan
from .network import READ_TIMEOUT_FACTOR
from .openmetadata import openmetadata_plan
from .steps import FILE_SINK, MLFLOW, OPENMETADATA, CheckStep, Plan, Status, run_plan

__all__ = ["FILE_SINK", "MLFLOW", "OPENMETADATA", "READ_TIMEOUT_FACTOR", "CheckReport", "CheckStep", "Status",
           "by_endpoint", "iter_checks", "run_checks"]


@dataclass(frozen=True)
class CheckReport:
    steps: tuple[CheckStep, ...]

    @property
    def ok(self) -> bool:
        """Every mandatory step passed or warned: a run can start."""
        return all(s.status in ("pass", "warn") for s in self.steps if s.mandatory)

    @property
    def failures(self) -> tuple[CheckStep, ...]:
        return tuple(s for s in self.steps if s.status == "fail")


def iter_checks(config: Workflow, *, timeout: float = 2.0, cancel: threading.Event | None = None,
                client: OpenMetadataClient | None = None, mandatory_only: bool = False) -> Iterator[CheckStep]:
    """Check both endpoints concurrently, yielding each step as it completes.

    `timeout` is the connect timeout of every probe (reads get `READ_TIMEOUT_FACTOR` times more).
    Setting `cancel` ends the iteration at once; steps in flight finish in the background.
    `client` lets a run share its OpenMetadata client, so the token fetched for the checks serves the run.
    `mandatory_only` leaves out the steps that cannot stop a run (reading one model's artifacts): a
    run about to read every model's would only wait for them.
    """
    cancel = cancel or threading.Event()
    finished: queue.Queue[CheckStep | None] = queue.Queue()
    stop = threading.Event()
    secrets = known_secrets(config)
    plans = [mlflow_plan(config, timeout), _sink_plan(config, timeout, client)]
    if mandatory_only:
        plans = [Plan(plan.endpoint, [step for step in plan.steps if step.mandatory]) for plan in plans]
    for plan in plans:
        threading.Thread(target=run_plan, args=(plan, finished.put, lambda: stop.is_set() or cancel.is_set()),
                         name=f"check-{plan.endpoint}", daemon=True).start()
    running = len(plans)
    try:
        while running and not cancel.is_set():
            try:
                step = finished.get(timeout=0.05)
            except queue.Empty:
                continue
            if step is None:
                running -= 1
            else:
                yield replace(step, cause=scrub(step.cause, secrets), remediation=scrub(step.remediation, secrets))
    finally:
        stop.set()


def run_checks(config: Workflow, *, timeout: float = 2.0, on_step: Callable[[CheckStep], None] | None = None,
               client: OpenMetadataClient | None = None) -> CheckReport:
    """Run every check; `on_step` sees each step as it completes, the report lists them by endpoint."""
    steps: list[CheckStep] = []
    for step in iter_checks(config, timeout=timeout, client=client):
        steps.append(step)
        if on_step:
            on_step(step)
    return by_endpoint(steps)


def by_endpoint(steps: list[CheckStep]) -> CheckReport:
    """A report with MLflow's steps first, each endpoint's steps in the order they ran."""
    order = {MLFLOW: 0, OPENMETADATA: 1, FILE_SINK: 1}
    return CheckReport(tuple(sorted(steps, key=lambda s: order.get(s.endpoint, 2))))


def _sink_plan(config: Workflow, timeout: float, client: OpenMetadataClient | None) -> Plan:
    """A file sink's one step replaces the OpenMetadata steps."""
    if isinstance(config.sink, FileSink):
        return file_sink_plan(config.sink)
    return openmetadata_plan(config, timeout, client)


