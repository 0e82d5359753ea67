"""The one run path: MLflow source -> filter -> sink, concurrently, reporting typed events.

The CLI, the TUI and the Airflow task all call `run_workflow` with an event handler. The listing
is read a page ahead in a thread of its own (`read_ahead`), from before the sink opens. Listed
models are taken in batches: one call reads the runs of a batch, then each model is built (its
MLmodel file read) by a bounded thread pool while the listing goes on; built models are sent to the
sink in batches by a second small pool. At most a fixed number of models are in flight at once, so memory
does not grow with the size of the registry.

Events are emitted from the calling thread only, so handlers need no locking.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Any, Iterator

from .deletion_guard import DeletionLimit, check_deletions
from .document.workflow_file import Workflow
from .errors import EndpointError, UserError, short_reason
from .events import (
    EventHandler,
    Issue,
    ModelDone,
    ModelFiltered,
    ModelsDeleted,
    RunFinished,
    RunStarted,
    RunSummary,
    TotalKnown,
)
from .document.filters import filtered_reason
from .registry.mlflow_credentials import known_secrets
from .registry.records import ReadError, RegisteredModel, Run
from .registry.mlflow_api import PAGE_SIZE
from .registry.mlflow_source import BuiltModel, MlflowSource, ModelError
from .read_ahead import ReadAhead
from .openmetadata.pipeline_status import PipelineStatus, pipeline_status_for
from .document.redact import redact_uri
from .render import describe_sink
from .run_fingerprints import RunFingerprints
from .run_setup import openmetadata_client, prepare_run, sink_for
from .run_tally import Tally
from .sinks.base import Sink, SinkResult
from .sinks.metadata_rest import OpenMetadataSink, TooManyDeletions

DEFAULT_WORKERS = 8
RUN_BATCH = 100
"""Models whose runs are read in one call before they are built."""
BATCHES_AHEAD = 4
"""Batches whose runs may be read at once: an unchanged re-run, which builds nothing, waits on these alone."""
MAX_READERS = 64
SERVER_READ_SECONDS = 0.010
"""About what `mlflow server` spends on one read of a model (its MLmodel file: 6-12 ms measured)."""
LISTED_AHEAD = 2 * PAGE_SIZE
"""Models the listing may run ahead of the reads: the next page is asked for while this one is read."""
MAX_PENDING_WRITES = 2
"""Batches handed to the sink and not yet answered; more waits, so a slow sink bounds memory too."""
REGISTRY = "MLflow registry"
"""Where failures and warnings about the listing as a whole come from."""
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


def readers_for(workers: int, round_trip: float) -> int:
    """Reads to keep in flight: `workers` when MLflow is near, more as its round trip grows, so that
    the server stays as busy as it would be nearby (each reader waits `round_trip` per read, the
    server works about `SERVER_READ_SECONDS`), up to MAX_READERS. Rounded down: a loopback server
    slow to answer its /health under load does not count as far."""
    return min(MAX_READERS, max(workers, int(workers * (1 + round_trip / SERVER_READ_SECONDS))))


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
            seen, complete = self._process(source, listing)
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

    # ---------------------------------------------------------------------------------- pipeline

    def _process(self, source: MlflowSource, listing: Iterator[RegisteredModel]) -> tuple[set[str], bool]:
        """Build and send every listed model; returns the names seen and whether the listing completed."""
        pattern = self.config.source_options.mlModelFilterPattern
        seen: set[str] = set()
        listed_names: set[str] = set()
        listed = 0
        complete = False
        readers_count = readers_for(self.workers, source.round_trip())
        window = max(readers_count * 4, BATCHES_AHEAD * RUN_BATCH + readers_count)
        chunk: list[RegisteredModel] = []
        fetches: dict[Future[dict[str, Run]], list[RegisteredModel]] = {}
        builds: dict[Future[BuiltModel | None], str] = {}
        writes: set[Future[list[SinkResult]]] = set()
        batch: list[BuiltModel] = []
        with ThreadPoolExecutor(readers_count, thread_name_prefix="mlflow") as readers, \
                ThreadPoolExecutor(2, thread_name_prefix="sink") as writers:

            def fetch() -> None:
                """Read the runs of the models listed so far, then build them."""
                if chunk:
                    fetches[readers.submit(self._prefetch, source, chunk[:])] = chunk[:]
                    chunk.clear()

            def in_flight() -> int:
                return len(chunk) + len(builds) + sum(len(models) for models in fetches.values())

            def drain(block_until: int) -> None:
                """Collect finished reads and writes until fewer than `block_until` models are in flight."""
                if self.cancel.is_set():
                    self._drop_queued(builds)
                    self._drop_queued(fetches)
                while (in_flight() and in_flight() >= block_until) or len(writes) > MAX_PENDING_WRITES:
                    done, _ = wait(list(fetches) + list(builds) + list(writes), return_when=FIRST_COMPLETED)
                    for future in done:
                        if future in fetches:
                            models = fetches.pop(future)
                            runs = {} if future.exception() else future.result()  # unread runs: read one by one
                            for model in models if runs is not None else ():
                                if not self._unchanged(model, runs):
                                    builds[readers.submit(self._build, source, model, runs)] = model.name
                        elif future in builds:
                            self._built(builds.pop(future), future, batch)
                        else:
                            writes.discard(future)
                            self._written(future.result())
                    if len(batch) >= self.sink.batch_size:
                        writes.add(writers.submit(self._write, batch[:]))
                        batch.clear()

            try:
                for model in listing:
                    if self.cancel.is_set():
                        break
                    if model.name in listed_names:  # a paging loop would count the same models for ever
                        raise ReadError(f"MLflow at {redact_uri(self.config.mlflow.trackingUri)} listed the model "
                                        f"{model.name!r} twice: its paging is broken")
                    listed_names.add(model.name)
                    listed += 1
                    reason = filtered_reason(model.name, pattern)
                    if reason:
                        self.tally.filtered.append(Issue(model.name, reason))
                        self.emit(ModelFiltered(model.name, reason))
                        continue
                    seen.add(model.name)
                    chunk.append(model)
                    if len(chunk) >= RUN_BATCH:
                        fetch()
                    drain(window)
                else:
                    complete = True
                    self.emit(TotalKnown(listed))
            except Exception as exc:  # noqa: BLE001 - a listing failure must not hide what was done
                reason = f"listing the registered models failed after {listed} models: {short_reason(exc)}"
                self.tally.fail(REGISTRY, reason)
                self.tally.incomplete = f"{reason}; models after those were not read"
            if self.cancel.is_set():
                chunk.clear()
            fetch()
            drain(1)
            if batch:
                writes.add(writers.submit(self._write, batch[:]))
            for future in writes:
                self._written(future.result())
        if complete and listed == 0:
            self.tally.warn(REGISTRY, "the registry listed no models: it is empty, or the user cannot see them")
        return seen, complete and listed > 0

    @staticmethod
    def _drop_queued(futures: dict[Future, Any]) -> None:
        """On cancel, the reads not started yet are dropped; the ones running finish and are sent."""
        for future in list(futures):
            if future.cancel():
                del futures[future]

    def _prefetch(self, source: MlflowSource, models: list[RegisteredModel]) -> dict[str, Run] | None:
        """None for a batch that reached a reader after a cancel: its models are dropped, unread."""
        return None if self.cancel.is_set() else source.prefetch(models)

    def _build(self, source: MlflowSource, model: RegisteredModel, runs: dict[str, Run]) -> BuiltModel | None:
        """None for a build that was queued before a cancel and reached a reader after it: it is
        dropped like the queued ones, so no read starts once the user has cancelled."""
        return None if self.cancel.is_set() else source.build(model, runs)

    def _unchanged(self, model: RegisteredModel, runs: dict[str, Run]) -> bool:
        """Whether the model is as the last run left it: then it is reported unchanged and not read any further."""
        if not self.fingerprints.unchanged(model, runs, self.sink):
            return False
        self.tally.unchanged += 1
        self.emit(ModelDone(model.name, "unchanged"))
        return True

    def _built(self, name: str, future: Future[BuiltModel | None], batch: list[BuiltModel]) -> None:
        built = self._result(name, future)
        self.fingerprints.built(name, built)
        if built is None:
            return
        for warning in built.warnings:
            self.tally.warn(name, warning)
        batch.append(built)

    def _result(self, name: str, future: Future[BuiltModel | None]) -> BuiltModel | None:
        """The built model; None when it failed (counted as failed) or was dropped by a cancel."""
        try:
            return future.result()
        except ModelError as exc:
            self.tally.fail(name, str(exc))
        except Exception as exc:  # noqa: BLE001 - one model's surprise is that model's failure
            self.tally.fail(name, f"unexpected error: {short_reason(exc)}")
        return None

    def _write(self, batch: list[BuiltModel]) -> list[SinkResult]:
        """The sink's answer for a batch; a sink that breaks fails that batch's models, not the run."""
        try:
            return self.sink.write(batch)
        except UserError as exc:
            reason = exc.message
        except Exception as exc:  # noqa: BLE001 - e.g. a full disk under the file sink
            reason = f"the {self.sink.name} could not take the model: {short_reason(exc)}"
        return [SinkResult(built.name, error=reason) for built in batch]

    def _written(self, results: list[SinkResult]) -> None:
        for result in results:
            self.fingerprints.written(result.name, ok=not result.error)
            if result.error:
                self.tally.fail(result.name, result.error)
                continue
            setattr(self.tally, result.outcome, getattr(self.tally, result.outcome) + 1)
            self.emit(ModelDone(result.name, result.outcome))

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
