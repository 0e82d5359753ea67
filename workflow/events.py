"""Typed, immutable records of what a run is doing; the CLI, the TUI and Airflow all render these.

A run emits, in order: `RunStarted`, then per model one of `ModelDone` / `ModelFailed` /
`ModelFiltered` (plus `ModelWarning`s), `TotalKnown` once the registry listing is complete,
`ModelsDeleted` if stale models were marked deleted, and last `RunFinished` with the `RunSummary`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Union

Outcome = Literal["created", "updated", "unchanged", "written"]


@dataclass(frozen=True)
class RunStarted:
    service: str
    source: str   # the MLflow tracking URI, password redacted
    sink: str     # where the models go: the OpenMetadata URL or the output file


@dataclass(frozen=True)
class TotalKnown:
    """The registry listing finished: `total` models will be processed or filtered."""

    total: int


@dataclass(frozen=True)
class ModelDone:
    name: str
    outcome: Outcome


@dataclass(frozen=True)
class ModelFailed:
    name: str
    reason: str


@dataclass(frozen=True)
class ModelFiltered:
    name: str
    reason: str


@dataclass(frozen=True)
class ModelWarning:
    name: str
    message: str


@dataclass(frozen=True)
class ModelsDeleted:
    names: tuple[str, ...]


@dataclass(frozen=True)
class Issue:
    """A failure, warning or filtered model in the summary: which model, and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class RunSummary:
    processed: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    written: int = 0
    deleted: tuple[str, ...] = ()
    warnings: tuple[Issue, ...] = ()
    filtered: tuple[Issue, ...] = ()
    failures: tuple[Issue, ...] = ()
    success_threshold: int = 90
    raise_on_error: bool = True
    elapsed_seconds: float = 0.0
    cancelled: bool = False
    incomplete: str = ""
    """Why the run did not cover the whole registry (the listing broke off, MLflow stopped answering):
    such a run fails whatever the success threshold, since the models it missed are not counted."""
    recorded_in: str = ""
    """Where OpenMetadata's run history holds this run (`ingestionPipelineFQN`), once its result is there."""

    @property
    def success_percent(self) -> float:
        """As the official CLI computes it: processed over processed plus failures."""
        done = max(self.processed, 1)
        return round(done * 100 / (done + len(self.failures)), 2)

    @property
    def below_threshold(self) -> bool:
        return bool(self.failures) and self.success_percent < self.success_threshold

    @property
    def succeeded(self) -> bool:
        if self.cancelled or self.incomplete:
            return False
        return not (self.raise_on_error and self.below_threshold)

    @property
    def changed_nothing(self) -> bool:
        return self.processed > 0 and self.processed == self.unchanged and not self.deleted

    @property
    def exit_code(self) -> int:
        return 0 if self.succeeded else 1


@dataclass(frozen=True)
class RunFinished:
    summary: RunSummary


Event = Union[RunStarted, TotalKnown, ModelDone, ModelFailed, ModelFiltered, ModelWarning, ModelsDeleted, RunFinished]
EventHandler = Callable[[Event], None]
