"""The flow of models through a run: listed, filtered, read in batches, built, and sent to the sink.

Apart from the run's lifecycle (open the sink, mark deleted, close, record) because this is where
the concurrency is. A model the last run's fingerprints show unchanged by its listing entry goes no
further; the others are taken in batches: one call reads the runs of a batch, then
each model is built (its MLmodel file read) by a bounded thread pool while the listing goes on;
built models are sent to the sink in batches by a second small pool. At most a fixed number of
models are in flight at once, so memory does not grow with the size of the registry. Events are
emitted from the calling thread only, so handlers need no locking.
"""
from __future__ import annotations

import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Iterator

from .document.filters import filtered_reason
from .document.redact import redact_uri
from .document.workflow_file import Workflow
from .errors import UserError, short_reason
from .events import EventHandler, Issue, ModelDone, ModelFiltered, TotalKnown
from .registry.mlflow_source import BuiltModel, MlflowSource, ModelError
from .registry.records import ReadError, RegisteredModel, Run
from .run_fingerprints import RunFingerprints
from .run_tally import Tally
from .sinks.base import Sink, SinkResult

RUN_BATCH = 100
"""Models whose runs are read in one call before they are built."""
BATCHES_AHEAD = 4
"""Batches whose runs may be read at once: an unchanged re-run, which builds nothing, waits on these alone."""
MAX_READERS = 64
SERVER_READ_SECONDS = 0.010
"""About what `mlflow server` spends on one read of a model (its MLmodel file: 6-12 ms measured)."""
MAX_PENDING_WRITES = 2
"""Batches handed to the sink and not yet answered; more waits, so a slow sink bounds memory too."""
REGISTRY = "MLflow registry"
"""Where failures and warnings about the listing as a whole come from."""


def readers_for(workers: int, round_trip: float) -> int:
    """Reads to keep in flight: `workers` when MLflow is near, more as its round trip grows, so that
    the server stays as busy as it would be nearby (each reader waits `round_trip` per read, the
    server works about `SERVER_READ_SECONDS`), up to MAX_READERS. Rounded down: a loopback server
    slow to answer its /health under load does not count as far."""
    return min(MAX_READERS, max(workers, int(workers * (1 + round_trip / SERVER_READ_SECONDS))))


class ModelFlow:
    """One pass over the listing, into the sink; counts and events go through the run's `tally`."""

    def __init__(self, config: Workflow, source: MlflowSource, sink: Sink, tally: Tally,
                 fingerprints: RunFingerprints, emit: EventHandler, cancel: threading.Event, workers: int):
        self.config = config
        self.source = source
        self.sink = sink
        self.tally = tally
        self.fingerprints = fingerprints
        self.emit = emit
        self.cancel = cancel
        self.workers = workers

    def run(self, listing: Iterator[RegisteredModel]) -> tuple[set[str], bool]:
        """Build and send every listed model; returns the names seen and whether the listing completed."""
        pattern = self.config.source_options.mlModelFilterPattern
        seen: set[str] = set()
        listed_names: set[str] = set()
        listed = 0
        complete = False
        readers_count = readers_for(self.workers, self.source.round_trip())
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
                    fetches[readers.submit(self._prefetch, chunk[:])] = chunk[:]
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
                                    builds[readers.submit(self._build, model, runs)] = model.name
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
                    if self._unchanged_listed(model):
                        continue
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

    def _prefetch(self, models: list[RegisteredModel]) -> dict[str, Run] | None:
        """None for a batch that reached a reader after a cancel: its models are dropped, unread."""
        return None if self.cancel.is_set() else self.source.prefetch(models)

    def _build(self, model: RegisteredModel, runs: dict[str, Run]) -> BuiltModel | None:
        """None for a build that was queued before a cancel and reached a reader after it: it is
        dropped like the queued ones, so no read starts once the user has cancelled."""
        return None if self.cancel.is_set() else self.source.build(model, runs)

    def _unchanged_listed(self, model: RegisteredModel) -> bool:
        """Whether the listing shows the model as the last run left it, its run not due to be read
        again: then it is reported unchanged and not read at all."""
        return self.fingerprints.unchanged_listed(model, self.sink) and self._report_unchanged(model.name)

    def _unchanged(self, model: RegisteredModel, runs: dict[str, Run]) -> bool:
        """Whether the model, its run read, is as the last run left it: then it is reported unchanged
        and not read any further."""
        return self.fingerprints.unchanged(model, runs, self.sink) and self._report_unchanged(model.name)

    def _report_unchanged(self, name: str) -> bool:
        self.tally.unchanged += 1
        self.emit(ModelDone(name, "unchanged"))
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
