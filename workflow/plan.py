"""What a run would change, found by doing the run with a sink that writes nothing.

`plan_workflow` goes through the run's own path (`runner.run_into`): the same checks, listing,
filter, concurrent reads and create requests. Only the sink differs: `PlanSink` asks the real
sink what it would do with each model (its own sourceHash comparison, its own choice of the models
to mark deleted) and records the answer instead of sending anything. No service is created, no
pipeline status is sent, no file is written. So a plan cannot disagree with the run that follows,
short of the registry or the catalogue changing in between.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Literal

from .deletion_guard import DeletionLimit, why_deleted
from .document.workflow_file import Workflow
from .document.filters import filter_verdict
from .document.redact import redact_uri, scrub
from .events import EventHandler, Issue, Outcome, RunSummary
from .openmetadata.om_client import OpenMetadataClient, model_fqn
from .registry.mlflow_credentials import known_secrets
from .registry.mlflow_source import BuiltModel
from .render import describe_sink
from .run_setup import openmetadata_client, prepare_run
from .run_flow import REGISTRY
from .runner import DEFAULT_WORKERS, run_into
from .sinks.base import SinkResult
from .sinks.metadata_rest import COMPARED_FIELDS, Existing, OpenMetadataSink

Action = Literal["new", "changed", "unchanged", "written", "deleted", "filtered", "unreadable"]
ACTIONS: tuple[Action, ...] = ("new", "changed", "unchanged", "written", "deleted", "filtered", "unreadable")
"""In the order a plan lists them. `written`: a model the file sink would write (it keeps no history)."""
FIELD_NAMES = {"description": "description", "mlFeatures": "features", "mlHyperParameters": "hyperParameters",
               "mlStore": "store", "sourceUrl": "sourceUrl"}
"""What a plan calls each compared field of the create request."""
_ACTION_OF: dict[Outcome, Action] = {"created": "new", "updated": "changed", "unchanged": "unchanged",
                                     "written": "written"}


@dataclass(frozen=True)
class FieldChange:
    """One field a run would change: its name in the plan (see FIELD_NAMES), the value OpenMetadata
    holds and the one the run would send, with secrets masked. Besides the compared fields:
    `deleted` (true -> false: a model marked deleted comes back) and `sourceHash` (the hash differs,
    no compared field does: written by another tool or version)."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class PlannedModel:
    name: str
    action: Action
    changes: tuple[FieldChange, ...] = ()
    reason: str = ""
    """Why it is marked deleted, left out or cannot be read."""
    pattern: str = ""
    """For a model left out by the filter: the exclude that matched, or the includes that all missed."""


@dataclass(frozen=True)
class Guard:
    """What `--max-deletions` makes of this plan."""

    limit: DeletionLimit
    live: int
    """The service's models OpenMetadata holds that are not marked deleted."""

    @property
    def allowed(self) -> int:
        return self.limit.allowed(self.live)


@dataclass(frozen=True)
class RunPlan:
    service: str
    source: str
    sink: str
    to_file: bool
    """The file sink: it keeps no history, so every model is `written`."""
    service_exists: bool
    mark_deleted: bool
    """markDeletedMlModels, for a sink that can mark deleted."""
    models: tuple[PlannedModel, ...]
    warnings: tuple[Issue, ...] = ()
    problem: str = ""
    """Why the plan is not complete (the listing broke off, MLflow stopped answering, a cancel)."""
    guard: Guard | None = None

    @property
    def complete(self) -> bool:
        return not self.problem

    def of(self, action: Action) -> list[PlannedModel]:
        return [m for m in self.models if m.action == action]

    @property
    def counts(self) -> dict[Action, int]:
        return {action: len(self.of(action)) for action in ACTIONS}

    @property
    def guard_stops(self) -> bool:
        return self.guard is not None and len(self.of("deleted")) > self.guard.allowed


def plan_workflow(config: Workflow, on_event: EventHandler | None = None, *, cancel: threading.Event | None = None,
                  workers: int = DEFAULT_WORKERS, check_first: bool = True,
                  max_deletions: DeletionLimit | None = None, full: bool = False) -> RunPlan:
    """The plan of a run of `config`; raises `UserError` when a run could not start either. Like the
    run, it skips the models the last run's fingerprints show unchanged (unless `full`), and it never
    saves fingerprints of its own."""
    cancel = cancel or threading.Event()
    client = openmetadata_client(config, cancel)
    try:
        config = prepare_run(config, client, cancel, check_first=check_first)
        sink = PlanSink(config, client)
        summary = run_into(config, sink, on_event, cancel=cancel, workers=workers, full=full)
        return sink.plan(summary, max_deletions)
    finally:
        client.close()


class PlanSink:
    """A sink that sends nothing: each batch is answered with what the configured sink would do."""

    def __init__(self, config: Workflow, client: OpenMetadataClient):
        self.config = config
        self.real = None if config.sink.type != "metadata-rest" else OpenMetadataSink(
            config, client, keep_fields=True)
        self.name = self.real.name if self.real else "File sink"
        self.batch_size = self.real.batch_size if self.real else 100
        self.secrets = known_secrets(config)
        self.planned: dict[str, PlannedModel] = {}
        self._lock = threading.Lock()

    def open(self) -> list[str]:
        return self.real.open(create_service=False) if self.real else []

    def write(self, batch: list[BuiltModel]) -> list[SinkResult]:
        results = [self._plan(built) for built in batch]
        with self._lock:
            self.planned.update((entry.name, entry) for entry, _ in results)
        return [SinkResult(entry.name, outcome) for entry, outcome in results]

    def _plan(self, built: BuiltModel) -> tuple[PlannedModel, Outcome]:
        if self.real is None:
            return PlannedModel(built.name, "written"), "written"
        request, outcome = self.real.prepare(built)
        known = self.real.existing.get(model_fqn(self.real.service, built.name))
        changes = self._changes(known, request) if outcome == "updated" and known else ()
        return PlannedModel(built.name, _ACTION_OF[outcome], changes), outcome

    def _changes(self, known: Existing, request: dict[str, Any]) -> tuple[FieldChange, ...]:
        changes = [FieldChange(FIELD_NAMES[key], self._mask(_shown(key, known.fields.get(key))),
                               self._mask(_shown(key, request.get(key))))
                   for key in COMPARED_FIELDS if _shown(key, known.fields.get(key)) != _shown(key, request.get(key))]
        if known.deleted:
            changes.insert(0, FieldChange("deleted", True, False))
        return tuple(changes or [FieldChange("sourceHash", known.source_hash, request["sourceHash"])])

    def holds(self, name: str, sent_hash: str) -> bool:
        """Whether the run may skip this model as unchanged since the last run; one it skips never
        reaches `write`, so it is planned `unchanged` here."""
        if not self.real or not self.real.holds(name, sent_hash):
            return False
        with self._lock:
            self.planned[name] = PlannedModel(name, "unchanged")
        return True

    def mark_deleted(self, seen: set[str]) -> list[str]:
        return sorted(e.name for e in self.real.stale(seen)) if self.real else []

    def close(self, complete: bool) -> list[str]:
        return self.real.close(complete) if self.real else []

    def _mask(self, value: Any) -> Any:
        """Secrets out of a value shown to people: passwords in URIs, and the config's own secrets."""
        if isinstance(value, str):
            return scrub(redact_uri(value) if "://" in value else value, self.secrets)
        if isinstance(value, list):
            return [self._mask(v) for v in value]
        if isinstance(value, dict):
            return {k: self._mask(v) for k, v in value.items()}
        return value

    # ------------------------------------------------------------------------------- the plan

    def plan(self, summary: RunSummary, max_deletions: DeletionLimit | None) -> RunPlan:
        pattern = self.config.source_options.mlModelFilterPattern
        patterns = {i.name: (filter_verdict(i.name, pattern) or ("", ""))[1] for i in summary.filtered}
        models = list(self.planned.values())
        models += [PlannedModel(i.name, "filtered", reason=i.reason, pattern=patterns[i.name])
                   for i in summary.filtered]
        models += [PlannedModel(name, "deleted", reason=why_deleted(name, patterns)) for name in summary.deleted]
        models += [PlannedModel(i.name, "unreadable", reason=i.reason) for i in summary.failures
                   if not _is_listing_failure(i, summary)]
        models.sort(key=lambda m: (ACTIONS.index(m.action), m.name))
        live = sum(1 for e in self.real.existing.values() if not e.deleted) if self.real else 0
        return RunPlan(
            service=self.config.source.serviceName, source=redact_uri(self.config.mlflow.trackingUri),
            sink=describe_sink(self.config), to_file=self.real is None,
            service_exists=bool(self.real and self.real.service_exists),
            mark_deleted=bool(self.real) and self.config.source_options.markDeletedMlModels,
            models=tuple(models), warnings=summary.warnings, problem=_problem(summary),
            guard=Guard(max_deletions, live) if max_deletions is not None and self.real else None)


def _shown(key: str, value: Any) -> Any:
    """A compared field as a plan shows it, keeping only what the run sends: OpenMetadata adds its
    own keys (a feature's fullyQualifiedName), and an empty value is no value."""
    if key in ("mlFeatures", "mlHyperParameters"):
        keep = ("name", "dataType") if key == "mlFeatures" else ("name", "value")
        return [{k: item.get(k) for k in keep} for item in value or [] if isinstance(item, dict)] or None
    if key == "mlStore":
        return (value.get("storage") or None) if isinstance(value, dict) else None
    return value or None


def _is_listing_failure(issue: Issue, summary: RunSummary) -> bool:
    """The listing's own failure is the plan's problem, not a model that cannot be read."""
    return issue.name == REGISTRY and bool(summary.incomplete) and summary.incomplete.startswith(issue.reason)


def _problem(summary: RunSummary) -> str:
    if summary.cancelled:
        return "cancelled before every model was read"
    return summary.incomplete
