"""Shared pieces of the TUI tests: fixed engine services, a fixed workflow, pilot helpers.

The fixed services stand in for the network where a frame must be identical on every run (snapshot
tests): the same model names, check results with fixed timings, a run with a fixed summary. Tests
of behaviour use the real engine against the real servers instead.
"""
from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

from textual.pilot import Pilot
from textual.widgets import TextArea

from tui.app import WorkflowApp
from tui.draft import Draft
from tui.services import Services
from workflow import events as ev
from workflow.checks import CheckStep
from workflow.document.loader import parse_workflow
from workflow.document.seed import SEED_YAML
from workflow.plan import FieldChange, PlannedModel, RunPlan

FIXED_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJpbmdlc3Rpb24tYm90In0.c2lnbmF0dXJl"
"""A syntactically valid JWT with no expiry; not a real credential."""

FIXED_YAML = """\
source:
  type: mlflow
  serviceName: ml_platform
  serviceConnection:
    config:
      type: Mlflow
      trackingUri: http://mlflow.example:5000
      registryUri: http://mlflow.example:5000
  sourceConfig:
    config:
      type: MlModelMetadata
      markDeletedMlModels: true
      mlModelFilterPattern:
        excludes:
        - experimental
sink:
  type: metadata-rest
  config: {}
workflowConfig:
  loggerLevel: DEBUG
  openMetadataServerConfig:
    hostPort: http://openmetadata.example:8585/api
    authProvider: openmetadata
    securityConfig:
      jwtToken: ${OM_JWT_TOKEN}
"""
"""A workflow whose every value is fixed: no ports, no temp paths."""

DOCS_YAML = SEED_YAML.replace(
    "    authProvider: no-auth\n",
    "    authProvider: auth0\n    securityConfig:\n      clientId: my-client\n"
    "      secretKey: s3cr3t-key\n      domain: example.auth0.com\n",
)
"""The seed document's sample with its Auth0 example block, as the official docs show it."""

FIXED_NAMES = ["churn-classifier", "demand-forecast", "experimental-ranker", "fraud.detector v2"]


def fixed_checks(config: Any, cancel: threading.Event):
    yield CheckStep("MLflow", "Tracking server answers", "pass", 0.04, "MLflow 3.17.2 answers at http://mlflow.example:5000")
    yield CheckStep("OpenMetadata", "Server answers", "pass", 0.02, "http://openmetadata.example:8585/api answers")
    yield CheckStep("MLflow", "Registered models can be listed (GetModels)", "pass", 0.11, "4 registered models listed")
    yield CheckStep("OpenMetadata", "Credentials accepted", "fail", 0.03,
                    "OpenMetadata rejected the credentials (HTTP 401)",
                    "check the ingestion-bot token in securityConfig.jwtToken")
    yield CheckStep("MLflow", "Model artifacts can be read", "warn", 0.05, "no MLmodel file for 'demand-forecast'",
                    "log the model with mlflow.pyfunc.log_model", mandatory=False)
    yield CheckStep("OpenMetadata", "Service exists or will be created", "skipped", 0.0,
                    "not run: 'Credentials accepted' failed")


def fixed_run(config: Any, on_event: Callable[[Any], None], cancel: threading.Event) -> ev.RunSummary:
    on_event(ev.RunStarted("ml_platform", "http://mlflow.example:5000", "http://openmetadata.example:8585/api"))
    on_event(ev.ModelDone("churn-classifier", "created"))
    on_event(ev.ModelFiltered("experimental-ranker", "MlModel name matches an exclude pattern"))
    on_event(ev.ModelWarning("demand-forecast", "no signature: the model has no features"))
    on_event(ev.ModelDone("demand-forecast", "updated"))
    on_event(ev.ModelFailed("fraud.detector v2", "OpenMetadata answered HTTP 400: name is too long"))
    on_event(ev.TotalKnown(4))
    summary = ev.RunSummary(
        processed=2, created=1, updated=1,
        warnings=(ev.Issue("demand-forecast", "no signature: the model has no features"),),
        filtered=(ev.Issue("experimental-ranker", "MlModel name matches an exclude pattern"),),
        failures=(ev.Issue("fraud.detector v2", "OpenMetadata answered HTTP 400: name is too long"),),
        elapsed_seconds=1.25,
    )
    on_event(ev.RunFinished(summary))
    return summary


def fixed_plan(config: Any, on_event: Callable[[Any], None], cancel: threading.Event, *,
               deleted: tuple[str, ...] = ()) -> RunPlan:
    """The plan of `fixed_run`, plus `deleted`: models it would mark deleted."""
    return RunPlan(
        "ml_platform", "http://mlflow.example:5000", "http://openmetadata.example:8585/api", to_file=False,
        service_exists=True, mark_deleted=True, models=(
            PlannedModel("churn-classifier", "new"),
            PlannedModel("demand-forecast", "changed", (FieldChange("description", "old words", "new words"),)),
            *(PlannedModel(name, "deleted", reason="no longer in the MLflow registry") for name in deleted),
            PlannedModel("experimental-ranker", "filtered", reason="MlModel name matches an exclude pattern",
                         pattern="experimental"),
            PlannedModel("fraud.detector v2", "unchanged"),
        ))


FIXED_SERVICES = Services(list_models=lambda uri: list(FIXED_NAMES), iter_checks=fixed_checks, run_workflow=fixed_run,
                          plan_workflow=fixed_plan)


def fixed_app(monkeypatch: Any, tmp_path: Path, *, on_disk: bool = False,
              services: Services = FIXED_SERVICES) -> WorkflowApp:
    """The app on `FIXED_YAML` with fixed services, in `tmp_path` as the current folder.

    `on_disk`: the workflow was opened from `workflow.yaml` (relative, so frames show no temp path).
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OM_JWT_TOKEN", FIXED_JWT)
    loaded = parse_workflow(FIXED_YAML, "workflow.yaml")
    if on_disk:
        Path("workflow.yaml").write_text(FIXED_YAML, encoding="utf-8")
        loaded.path = Path("workflow.yaml")
    return WorkflowApp(Draft.from_loaded(loaded), target=Path("workflow.yaml"), services=services)


def run(test: Callable[[], Awaitable[None]]) -> None:
    """Run an async test body (pytest-asyncio is not a dependency)."""
    asyncio.run(test())


async def wait_for(pilot: Pilot, condition: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Pause until `condition()` holds: workers report through messages, so poll the UI."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.05)


async def plan_and_run(pilot: Pilot, timeout: float = 90.0) -> None:
    """On the Run step: ctrl+r makes the plan, ctrl+r again runs it (a plan that marks models deleted
    asks first: answer that yourself)."""
    step = pilot.app.screen.query_one("#step-run")
    await pilot.press("ctrl+r")
    await wait_for(pilot, lambda: step.plan is not None, timeout=timeout, what="the plan")
    await pilot.press("ctrl+r")


async def goto(pilot: Pilot, index: int) -> None:
    """Open step `index` (0-based) the way a user would: Next / Back for a neighbour, else a click
    in the step list (one pane switch instead of several)."""
    screen = pilot.app.screen
    if abs(screen.index - index) == 1:
        await pilot.press("ctrl+n" if screen.index < index else "ctrl+g")
    elif screen.index != index:
        await pilot.click(f"#stepitem-{index}")
    await wait_for(pilot, lambda: screen.index == index, what=f"step {index + 1}")


async def type_into(pilot: Pilot, selector: str, text: str) -> None:
    """Focus a field, clear it and type `text`: key by key when short, pasted when long (as people do
    with URLs and tokens; each simulated key costs a screen update)."""
    widget = pilot.app.screen.query_one(selector)
    widget.focus()
    await pilot.pause()
    if isinstance(widget, TextArea):
        widget.clear()
    else:
        await pilot.press("end", "ctrl+u")
    if len(text) > 12:
        widget.insert(text) if isinstance(widget, TextArea) else widget.insert_text_at_cursor(text)
    else:
        await pilot.press(*[_key(c) for c in text])
    await pilot.pause()


def _key(char: str) -> str:
    return {" ": "space", "\n": "enter"}.get(char, char)


def message(pilot: Pilot, key: str) -> str:
    """The text under a field (its error, warning or hint)."""
    return str(pilot.app.screen.query_one(f"#field-{key} .field--message").render())


def text_of(pilot: Pilot, selector: str) -> str:
    return str(pilot.app.screen.query_one(selector).render())


def steady_cursors(app: WorkflowApp) -> None:
    """No blinking cursor in a snapshot: it would be on or off depending on timing."""
    for widget in app.screen.query("Input, TextArea"):
        widget.cursor_blink = False
