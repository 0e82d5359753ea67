"""What a check reports, and how an endpoint's steps run.

Each endpoint module builds a `Plan`: its steps in the order a run needs them. `run_plan` runs them
one after the other, timing each and turning what it raised into its cause; after a mandatory
failure the remaining steps are reported skipped rather than run.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Literal

from ..errors import UserError

Status = Literal["pass", "fail", "warn", "skipped"]

MLFLOW, OPENMETADATA, FILE_SINK = "MLflow", "OpenMetadata", "File sink"
"""Endpoint names; with a file sink its one step replaces the OpenMetadata steps."""


@dataclass(frozen=True)
class CheckStep:
    endpoint: str  # "MLflow" or "OpenMetadata" ("File sink" when the sink is a file)
    name: str  # short, e.g. "Tracking server answers"
    status: Status
    elapsed: float  # seconds
    cause: str  # one line
    remediation: str = ""
    mandatory: bool = True


@dataclass(frozen=True)
class Outcome:
    status: Status
    cause: str
    remediation: str = ""


def passed(cause: str) -> Outcome:
    return Outcome("pass", cause)


def warned(cause: str, remediation: str) -> Outcome:
    return Outcome("warn", cause, remediation)


@dataclass(frozen=True)
class Step:
    """One step: `run` returns its outcome, or raises `UserError` to fail (to warn if optional)."""

    name: str
    run: Callable[[], Outcome]
    mandatory: bool = True


@dataclass(frozen=True)
class Plan:
    endpoint: str
    steps: list[Step]


def run_plan(plan: Plan, emit: Callable[[CheckStep | None], None], stopped: Callable[[], bool]) -> None:
    """Run an endpoint's steps in order; after a mandatory failure the rest are reported skipped.

    Always ends with `None`, so the consumer knows this endpoint is done.
    """
    failed: str | None = None
    try:
        for step in plan.steps:
            if stopped():
                return
            if failed:
                emit(CheckStep(plan.endpoint, step.name, "skipped", 0.0, f"not run: {failed!r} failed",
                               mandatory=step.mandatory))
                continue
            result = _execute(plan.endpoint, step)
            emit(result)
            if result.status == "fail":
                failed = step.name
    finally:
        emit(None)


def _execute(endpoint: str, step: Step) -> CheckStep:
    """Time one step and turn what it raised into its failure (a warning for an optional step)."""
    started = time.monotonic()
    try:
        outcome = step.run()
    except UserError as exc:
        outcome = Outcome("fail" if step.mandatory else "warn", exc.message, exc.hint)
    except Exception as exc:  # noqa: BLE001 - a bug in a check must not hang or hide the others
        outcome = Outcome("fail" if step.mandatory else "warn", f"unexpected error: {type(exc).__name__}: {exc}",
                          "this is a bug in the check itself; please report it with this message")
    return CheckStep(endpoint, step.name, outcome.status, time.monotonic() - started,
                     _one_line(outcome.cause), _one_line(outcome.remediation), step.mandatory)


def _one_line(text: str) -> str:
    return " ".join(text.split())
