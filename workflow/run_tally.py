"""What a run counts, and the `RunSummary` it freezes into at the end.

Apart from the run's lifecycle and its pipeline because both report through it: a failure or a
warning is counted and emitted as an event in one call, wherever in the run it happens.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .document.workflow_file import Workflow
from .events import EventHandler, Issue, ModelFailed, ModelWarning, RunSummary


@dataclass
class Tally:
    """Counts kept while running; frozen into a `RunSummary` at the end."""

    emit: EventHandler = field(repr=False)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    written: int = 0
    deleted: tuple[str, ...] = ()
    incomplete: str = ""
    warnings: list[Issue] = field(default_factory=list)
    filtered: list[Issue] = field(default_factory=list)
    failures: list[Issue] = field(default_factory=list)

    @property
    def processed(self) -> int:
        return self.created + self.updated + self.unchanged + self.written

    def fail(self, name: str, reason: str) -> None:
        self.failures.append(Issue(name, reason))
        self.emit(ModelFailed(name, reason))

    def warn(self, name: str, message: str) -> None:
        self.warnings.append(Issue(name, message))
        self.emit(ModelWarning(name, message))

    def summary(self, config: Workflow, elapsed_seconds: float, cancelled: bool) -> RunSummary:
        workflow = config.workflowConfig
        return RunSummary(
            processed=self.processed, created=self.created, updated=self.updated, unchanged=self.unchanged,
            written=self.written, deleted=self.deleted, warnings=tuple(self.warnings), filtered=tuple(self.filtered),
            failures=tuple(self.failures), success_threshold=workflow.successThreshold,
            raise_on_error=workflow.raiseOnError, elapsed_seconds=elapsed_seconds, cancelled=cancelled,
            incomplete="" if cancelled else self.incomplete,
        )
