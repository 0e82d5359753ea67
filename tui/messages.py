"""What workers report to the UI. Workers never touch widgets; they post these, handlers render them.

`post_message` is thread-safe, so thread workers post these directly.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.message import Message


@dataclass
class ModelNames(Message):
    """The registry answered the preview's listing (or could not: `error`)."""

    registry_uri: str
    names: list[str]
    error: str = ""


@dataclass
class CheckDone(Message):
    """One `workflow.checks.CheckStep` finished."""

    round: int
    step: Any


@dataclass
class ChecksFinished(Message):
    round: int
    error: str = ""


@dataclass
class DiffReady(Message):
    """The Review step's comparison with the file on disk."""

    text: str
    note: str = ""


@dataclass
class WriteResult(Message):
    """The file was written (`path`, `mode`), or exists and needs confirmation, or failed (`error`)."""

    path: Path
    mode: int = 0
    exists: bool = False
    error: str = ""


@dataclass
class RunEvent(Message):
    """A `workflow.events` event from the running workflow."""

    event: Any


@dataclass
class PlanReady(Message):
    """The plan of the run (a `workflow.plan.RunPlan`), made before the run is started."""

    plan: Any


@dataclass
class RunFailed(Message):
    """The run could not start or stopped on an endpoint error (a `UserError`)."""

    error: str


@dataclass
class DemoStatus(Message):
    text: str
    ready: bool = False
    failed: bool = False


class StepState(Message):
    """A step's own state changed (checks passed, file written, run finished): its mark in the list too."""
