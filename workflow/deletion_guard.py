"""`--max-deletions`: an unattended run that would mark too many models deleted stops before writing.

With `markDeletedMlModels` (the default) a run soft-deletes every model of its service that the
registry no longer lists. A registry moved to another URL, a filter edited too eagerly or a user
who lost read access can make that most of the catalogue. Which models a run marks deleted is known
from the listing alone (the names listed and let through the filter, against the service's models in
OpenMetadata), so the guard reads just that, before the run's first write, and refuses the run when
the count is over the limit, naming each model and why it would go.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from .document.workflow_file import Workflow
from .document.filters import filter_verdict
from .document.redact import redact_uri
from .errors import EndpointError, UserError, short_reason
from .openmetadata.om_client import OpenMetadataClient
from .registry.mlflow_source import MlflowSource
from .sinks.metadata_rest import OpenMetadataSink, TooManyDeletions

NAMED = 20
"""Models named in the refusal; the rest are counted."""
GONE = "no longer in the MLflow registry"


@dataclass(frozen=True)
class DeletionLimit:
    """At most `count` models, or `count` percent of the service's live models, may be marked deleted."""

    count: int
    percent: bool = False

    @classmethod
    def parse(cls, text: str) -> "DeletionLimit":
        """`N` or `N%`; raises ValueError with a message for the user."""
        number = text.strip().removesuffix("%")
        if not number.isdigit():
            raise ValueError(f"{text!r} is not a number of models (like 5) or a percentage (like 10%)")
        limit = cls(int(number), text.strip().endswith("%"))
        if limit.percent and limit.count > 100:
            raise ValueError(f"{text!r} is over 100%")
        return limit

    def allowed(self, live: int) -> int:
        """How many of `live` models may go: a percentage rounds down (10% of 15 is 1)."""
        return math.floor(live * self.count / 100) if self.percent else self.count

    def __str__(self) -> str:
        return f"{self.count}%" if self.percent else str(self.count)


@dataclass(frozen=True)
class Deletion:
    name: str
    reason: str


def check_deletions(config: Workflow, client: OpenMetadataClient, limit: DeletionLimit,
                    cancel: threading.Event | None = None) -> int | None:
    """How many models the run may mark deleted (None: it marks none anyway); raises
    `TooManyDeletions` when a run of `config` would mark more than that now."""
    if not config.source_options.markDeletedMlModels or config.sink.type != "metadata-rest":
        return None
    going, live = deletions_ahead(config, client, cancel)
    allowed = limit.allowed(live)
    if len(going) <= allowed:
        return allowed
    named = [f"{d.name} ({d.reason})" for d in going[:NAMED]]
    more = f" and {len(going) - NAMED} more" if len(going) > NAMED else ""
    of = f" ({limit} of the {live} live models of service {config.source.serviceName!r})" if limit.percent else ""
    raise TooManyDeletions(
        f"the run would mark {len(going)} model(s) deleted, more than --max-deletions {limit} allows{of}, "
        f"so nothing was written: {'; '.join(named)}{more}",
        hint="check the registry's URL, access and mlModelFilterPattern; if these models really are gone, "
             "raise --max-deletions or run without it")


def deletions_ahead(config: Workflow, client: OpenMetadataClient,
                    cancel: threading.Event | None = None) -> tuple[list[Deletion], int]:
    """The models a run would mark deleted now, each with why, and how many live models the service has.

    As in the run: nothing when the service does not exist yet or the registry listed no model or
    let none through the filter. A listing that breaks off leaves the count unknown: an error.
    """
    sink = OpenMetadataSink(config, client)
    try:
        sink.open(create_service=False)
    finally:
        sink.close(False)
    live = sum(1 for e in sink.existing.values() if not e.deleted)
    if not live:
        return [], 0
    seen, filtered = _listed(config, cancel)
    going = sorted(sink.stale(seen), key=lambda e: e.name)
    return [Deletion(e.name, why_deleted(e.name, filtered)) for e in going], live


def _listed(config: Workflow, cancel: threading.Event | None) -> tuple[set[str], dict[str, str]]:
    """The names the filter lets through, and the filtered ones with the pattern that left each out."""
    pattern = config.source_options.mlModelFilterPattern
    seen: set[str] = set()
    filtered: dict[str, str] = {}
    try:
        source = MlflowSource(config.mlflow, config.source.serviceName, stop=cancel)
    except Exception as exc:  # noqa: BLE001 - a bad URI or missing driver, as the run words it
        raise EndpointError(f"cannot open MLflow at {redact_uri(config.mlflow.trackingUri)}: {short_reason(exc)}",
                            hint="check trackingUri and registryUri") from None
    try:
        for model in source.iter_models():
            if cancel is not None and cancel.is_set():
                raise UserError("cancelled while counting the models the run would mark deleted", exit_code=1)
            verdict = filter_verdict(model.name, pattern)
            if verdict:
                filtered[model.name] = verdict[1]
            else:
                seen.add(model.name)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - the count is unknown, so the run must not go ahead
        raise EndpointError(f"cannot check --max-deletions: listing the registered models failed after "
                            f"{len(seen) + len(filtered)} models ({short_reason(exc)}), so nothing was written",
                            hint="run again once MLflow answers") from None
    finally:
        source.close()
    return seen, filtered


def why_deleted(name: str, filtered: dict[str, str]) -> str:
    """Why a run marks a model deleted: `filtered` maps the names the filter left out to its pattern."""
    pattern = filtered.get(name)
    return f"left out by the filter: {pattern}" if pattern is not None else GONE
