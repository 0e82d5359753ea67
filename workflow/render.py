"""Plain-text renderings of a run, shared by the CLI and the Airflow task: live progress from the
run's events, the end-of-run summary, and where the models went; every line scrubbed of secrets."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator, TextIO

from . import events as ev
from .document.sink import FileSink as FileSinkConfig
from .document.workflow_file import Workflow
from .document.redact import redact_uri, scrub
from .errors import shown
from .events import Issue, RunSummary

MAX_LISTED = 50


def summary_lines(summary: RunSummary, config: Workflow, *, total: int | None = None,
                  stopped_by: str | None = None) -> list[str]:
    """The end-of-run report: counts like the official CLI's, then each failure by model and reason.

    `total` is how many models the registry listed, when the listing finished (a `TotalKnown` event);
    `stopped_by` names what cancelled the run when it was not the user (a scheduler's SIGTERM).
    """
    lines = [
        "",
        f"Workflow summary: service {config.source.serviceName!r} -> {describe_sink(config)}",
        f"  Processed:  {summary.processed}{_breakdown(summary)}",
        f"  Warnings:   {len(summary.warnings)}",
        f"  Filtered:   {len(summary.filtered)}",
        f"  Errors:     {len(summary.failures)}",
    ]
    if summary.deleted:
        lines.append(f"  Marked deleted: {len(summary.deleted)}")
    elif summary.cancelled and config.source_options.markDeletedMlModels and config.sink.type == "metadata-rest":
        lines.append("  Marked deleted: none (the run was cancelled, so models it did not reach are not stale)")
    lines.append(f"  Success %:  {summary.success_percent} (threshold {summary.success_threshold})")
    if summary.recorded_in:
        lines.append(f"  Recorded:   {summary.recorded_in}")
    lines += _issues("Failures", summary.failures)
    lines += _issues("Warnings", summary.warnings)
    lines.append(f"Finished in {summary.elapsed_seconds:.2f} s: {verdict(summary, total=total, stopped_by=stopped_by)}")
    return lines


def verdict(summary: RunSummary, *, total: int | None = None, stopped_by: str | None = None) -> str:
    if summary.cancelled:
        return _cancelled(summary, total, stopped_by)
    if summary.incomplete:
        return f"FAILED: {summary.incomplete}"
    if summary.changed_nothing:
        return f"nothing changed: all {summary.processed} model(s) were already up to date"
    if not summary.failures:
        return "success"
    if summary.succeeded:
        if summary.below_threshold:
            return "finished with failures (raiseOnError is false, so this counts as success)"
        return "finished with failures, above the success threshold"
    return "FAILED: success % is below the threshold"


def _cancelled(summary: RunSummary, total: int | None, stopped_by: str | None) -> str:
    """How far a cancelled run got, so the user knows what a re-run still has to do.

    Models reached = done + failed + filtered; without `total` the listing had not finished, so the
    registry's size is unknown (MLflow's search does not count).
    """
    reached = summary.processed + len(summary.failures) + len(summary.filtered)
    where = f"{reached} of {total} model(s)" if total is not None else \
        f"{reached} model(s), before the registry listing finished"
    how = f"stopped by {stopped_by}" if stopped_by else "cancelled by the user"
    return f"{how} after {where}: {summary.processed} done, {len(summary.failures)} failed"


def _breakdown(summary: RunSummary) -> str:
    parts = [(summary.created, "created"), (summary.updated, "updated"), (summary.unchanged, "unchanged"),
             (summary.written, "written")]
    shown = [f"{n} {label}" for n, label in parts if n]
    return f" ({', '.join(shown)})" if shown else ""


def _issues(title: str, issues: tuple[Issue, ...]) -> list[str]:
    if not issues:
        return []
    lines = [f"{title}:"]
    lines += [f"  - {i.name}: {i.reason}" for i in issues[:MAX_LISTED]]
    if len(issues) > MAX_LISTED:
        lines.append(f"  ... and {len(issues) - MAX_LISTED} more")
    return lines


class Printer:
    """Writes lines with every secret of the config scrubbed out."""

    def __init__(self, stream: TextIO, secrets: list[str]):
        self.stream = stream
        self.secrets = secrets
        self.tty = stream.isatty()

    def line(self, text: str = "", *, stream: TextIO | None = None) -> None:
        target = stream or self.stream
        print(shown(scrub(text, self.secrets)), file=target, flush=True)

    def summary(self, summary, config, total: int | None = None,  # noqa: ANN001 - RunSummary, Workflow
                stopped_by: str | None = None) -> None:
        for text in summary_lines(summary, config, total=total, stopped_by=stopped_by):
            self.line(text)



class ProgressView:
    """Live progress: one rewritten line on a terminal; otherwise (Airflow, CI, a log file) a plain line
    every `every` seconds, from `tick`, whether or not a model finished, so a long run never looks stuck.

    Events come from the run's thread and ticks from the main one: a lock keeps their lines whole.
    """

    def __init__(self, out: Printer, every: float = 10.0, verbose: bool = False):
        self.out = out
        self.verbose = verbose
        self.every = every
        self.total: int | None = None
        self.done = 0
        self.failed = 0
        self.started = self.last = time.monotonic()
        self.running = False
        self.lock = threading.Lock()

    @contextmanager
    def ticking(self) -> Iterator[None]:
        """Tick from a thread of its own while the block runs (for callers with no loop of their own)."""
        stop = threading.Event()

        def tick_until_stopped() -> None:
            while not stop.wait(0.2):
                self.tick()

        thread = threading.Thread(target=tick_until_stopped, name="progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def tick(self) -> None:
        with self.lock:
            now = time.monotonic()
            if self.running and not self.out.tty and now - self.last >= self.every:
                self.last = now
                self.out.line(f"{self._text()} ({now - self.started:.0f} s)")

    def handle(self, event) -> None:  # noqa: ANN001 - an events.Event
        with self.lock:
            self._handle(event)

    def _handle(self, event) -> None:  # noqa: ANN001 - an events.Event
        if isinstance(event, ev.RunStarted):
            self.running = True
            self.out.line(f"Ingesting MLflow {event.source} as service {event.service!r} into {event.sink}")
        elif isinstance(event, ev.TotalKnown):
            self.total = event.total
        elif isinstance(event, ev.ModelDone):
            self.done += 1
            if self.verbose:
                self._clear()
                self.out.line(f"  {event.outcome:<10}{event.name}")
        elif isinstance(event, ev.ModelFiltered):
            self.done += 1
            if self.verbose:
                self._clear()
                self.out.line(f"  filtered {event.name}: {event.reason}")
        elif isinstance(event, ev.ModelFailed):
            self.done += 1
            self.failed += 1
            self._clear()
            self.out.line(f"  failed   {event.name}: {event.reason}")
        elif isinstance(event, ev.ModelWarning):
            self._clear()
            self.out.line(f"  warning  {event.name}: {event.message}")
        elif isinstance(event, ev.ModelsDeleted):
            self._clear()
            self.out.line(f"  marked deleted: {', '.join(event.names)}")
        elif isinstance(event, ev.RunFinished):
            self.running = False
            self._clear()
            return
        self._progress()

    def _text(self) -> str:
        return f"  {self.counts()}"

    def counts(self) -> str:
        """How far the run got, e.g. "12/40 models handled, 1 failed"."""
        of = f"/{self.total}" if self.total is not None else ""
        return f"{self.done}{of} models handled, {self.failed} failed"

    def _progress(self) -> None:
        if self.out.tty:
            self.out.stream.write("\r" + self._text() + "\033[K")
            self.out.stream.flush()

    def _clear(self) -> None:
        if self.out.tty:
            self.out.stream.write("\r\033[K")


def describe_sink(config: Workflow) -> str:
    if isinstance(config.sink, FileSinkConfig):
        return f"file {config.sink.config.filename}"
    return redact_uri(config.openmetadata.hostPort)
