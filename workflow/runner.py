"""The one run path: MLflow source -> filter -> sink, reporting typed events.

The CLI, the TUI and the Airflow task all call `run_workflow` with an event handler; a plan calls
`run_into` with a sink that writes nothing. This module holds the run's lifecycle: set up
(`run_setup`), the listing read a page ahead in a thread of its own (`read_ahead`) from before the
sink opens, the models sent through the sink (`run_flow`), then marking deleted, closing the sink,
keeping the fingerprints (`run_fingerprints`) and reporting the summary (`run_tally`) to
OpenMetadata's run history.

Events are emitted from the calling thread only, so handlers need no locking.
"""
from __future__ import annotations

import threading
import time
from dataclasses import replace

from .deletion_guard import DeletionLimit, check_deletions
from .document.workflow_file import Workflow
from .errors import EndpointError, UserError, short_reason
from .events import EventHandler, ModelsDeleted, RunFinished, RunStarted, RunSummary
from .registry.mlflow_credentials import known_secrets
from .registry.mlflow_api import PAGE_SIZE
from .registry.mlflow_source import MlflowSource
from .read_ahead import ReadAhead
from .openmetadata.pipeline_status import PipelineStatus, pipeline_status_for
from .document.redact import redact_uri
from .render import describe_sink
from .run_fingerprints import RunFingerprints
from .run_flow import MAX_READERS, ModelFlow
from .run_setup import openmetadata_client, prepare_run, sink_for
from .run_tally import Tally
from .sinks.base import Sink
from .sinks.metadata_rest import OpenMetadataSink, TooManyDeletions

DEFAULT_WORKERS = 8
LISTED_AHEAD = 2 * PAGE_SIZE
"""Models the listing may run ahead of the reads: the next page is asked for while this one is read."""
PIPELINE = "ingestion pipeline"
"""Where warnings about reporting the run to `ingestionPipelineFQN` come from."""


def run_workflow(
    config: Workflow,
    on_event: EventHandler | None = None,
    *,
    cancel: threading.Event | None = None,
    workers: int = DEFAULT_WORKERS,
    check_first: bool = True,
    max_deletions: DeletionLimit | None = None,
    full: bool = False,
) -> RunSummary:
    """Run the workflow; raises `UserError` when it cannot start (`ChecksFailed` after the checks,
    `TooManyDeletions` when it would mark more models deleted than `max_deletions`).

    One OpenMetadata client serves all of it (one token, one connection pool): an identity
    provider's token is fetched once, and the client's retries stop on `cancel`. A re-run into
    OpenMetadata reads only the models that may have changed since the last run (see
    `fingerprints`); `full` reads every model.
    """
    cancel = cancel or threading.Event()
    client = openmetadata_client(config, cancel)
    try:
        config = prepare_run(config, client, cancel, check_first=check_first)
        allowed = check_deletions(config, client, max_deletions, cancel) if max_deletions is not None else None
        sink = sink_for(config, client)
        if isinstance(sink, OpenMetadataSink):
            sink.max_deletions = allowed
        pipeline = pipeline_status_for(config, client, known_secrets(config))
        return run_into(config, sink, on_event, cancel=cancel, workers=workers, pipeline=pipeline, full=full,
                        remember=True)
    finally:
        client.close()


def run_into(config: Workflow, sink: Sink, on_event: EventHandler | None = None, *, cancel: threading.Event,
             workers: int = DEFAULT_WORKERS, pipeline: PipelineStatus | None = None, full: bool = False,
             remember: bool = False) -> RunSummary:
    """The run itself, into `sink`: the listing, the filter, the concurrent reads, the batches, the
    marking deleted. A plan passes a sink that sends nothing, so it reads exactly what a run reads.

    Into OpenMetadata, the last run's fingerprints skip the models unchanged since (unless `full`);
    only a run that writes (`remember`) keeps its own for the next: a plan reads them, never saves.
    """
    return _Run(config, on_event or (lambda event: None), cancel, workers, sink, pipeline, full=full,
                remember=remember).execute()


class _Run:
    def __init__(self, config: Workflow, emit: EventHandler, cancel: threading.Event, workers: int, sink: Sink,
                 pipeline: PipelineStatus | None = None, *, full: bool = False, remember: bool = False):
        self.config = config
        self.emit = emit
        self.cancel = cancel
        self.workers = max(1, workers)
        self.sink = sink
        self.pipeline = pipeline
        self.tally = Tally(emit)
        self.started = time.monotonic()
        self.fingerprints = RunFingerprints(config, full=full, remember=remember)

    def execute(self) -> RunSummary:
        if self.cancel.is_set():  # cancelled during the checks: do not even create the service
            self._close_sink(False)
            return self._finish()
        try:
            return self._execute()
        except BaseException:
            if self.pipeline is not None:  # not left `running` in OpenMetadata for ever
                self.pipeline.finish(replace(self._summary(), incomplete="the run stopped on an error"))
            raise

    def _execute(self) -> RunSummary:
        source = self._source()
        listing = ReadAhead(source.iter_models(), depth=LISTED_AHEAD, name="listing")  # under way while the sink opens
        finished = False
        try:
            warnings = self.sink.open()
            self.emit(RunStarted(self.config.source.serviceName, redact_uri(self.config.mlflow.trackingUri),
                                 describe_sink(self.config)))
            for warning in warnings:
                self.tally.warn(self.sink.name, warning)
            self._start_pipeline()
            flow = ModelFlow(self.config, source, self.sink, self.tally, self.fingerprints, self.emit, self.cancel,
                             self.workers)
            seen, complete = flow.run(listing)
            finished = complete and not self.cancel.is_set()
            if finished:
                self._mark_deleted(seen)
            self.fingerprints.save(finished, self.tally.failures)
        finally:
            listing.close()
            source.close()
            # Models MLflow did not answer for are missing: the file sink keeps its last good output.
            self._close_sink(finished and not source.unreachable)
        if source.unreachable:
            self.tally.incomplete = (f"MLflow stopped answering during the run ({source.unreachable}); the models "
                                     "reported 'not read' were not ingested: run again once MLflow is back")
        return self._finish()

    def _close_sink(self, finished: bool) -> None:
        try:
            warnings = self.sink.close(finished)
        except UserError as exc:  # e.g. the file sink's disk filled up: what it took is not kept
            self.tally.fail(self.sink.name, exc.message)
            self.tally.incomplete = exc.message
            return
        for warning in warnings:
            self.tally.warn(self.sink.name, warning)

    def _start_pipeline(self) -> None:
        """Mark the run `running` in OpenMetadata's run history, once the sink has made sure the service exists."""
        if self.pipeline is not None:
            warning = self.pipeline.start()
        elif self.config.ingestionPipelineFQN and self.config.sink.type == "file":
            warning = "ingestionPipelineFQN is set, but the file sink sends nothing to OpenMetadata: the run is not recorded there"
        else:
            return
        if warning:
            self.tally.warn(PIPELINE, warning)

    def _finish(self) -> RunSummary:
        summary = self._summary()
        if self.pipeline is not None:
            warning = self.pipeline.finish(summary)
            if warning:
                self.tally.warn(PIPELINE, warning)
                summary = self._summary()
            summary = replace(summary, recorded_in=self.pipeline.recorded)
        self.emit(RunFinished(summary))
        return summary

    def _source(self) -> MlflowSource:
        try:
            return MlflowSource(self.config.mlflow, self.config.source.serviceName, pool_size=MAX_READERS,
                                stop=self.cancel)
        except Exception as exc:  # noqa: BLE001 - a bad URI or missing driver is the user's to fix
            raise EndpointError(f"cannot open MLflow at {redact_uri(self.config.mlflow.trackingUri)}: {short_reason(exc)}",
                                hint="check trackingUri and registryUri") from None

    def _mark_deleted(self, seen: set[str]) -> None:
        if not self.config.source_options.markDeletedMlModels:
            return
        try:
            deleted = self.sink.mark_deleted(seen)
        except UserError as exc:
            self.tally.fail("Mark deleted", exc.message)
            if isinstance(exc, TooManyDeletions):  # refused, not failed: the run must not pass for a success
                self.tally.incomplete = exc.message
            return
        if deleted:
            self.tally.deleted = tuple(deleted)
            self.emit(ModelsDeleted(tuple(deleted)))

    def _summary(self) -> RunSummary:
        return self.tally.summary(self.config, time.monotonic() - self.started, self.cancel.is_set())
