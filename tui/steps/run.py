"""Step 8, Run: the workflow, live — progress, counters, a log, then the summary with every failure.

The engine's `run_workflow` runs in a thread worker and calls back with typed events, each posted to
the UI as a message. Cancelling sets the run's `threading.Event`: the engine finishes the models in
flight and still reports a summary, so a cancelled run says what it did.
"""
from __future__ import annotations

import threading

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import ProgressBar, RichLog, Static

from workflow import events as ev
from workflow import UserError, Workflow, scrub, secret_values, summary_lines, verdict

from ..messages import RunEvent, RunFailed
from .base import Step

COUNTERS = ("processed", "warnings", "filtered", "errors")
LOG_LINES = 2000


class RunStep(Step):
    NAME = "run"
    TITLE = "8  Run"
    INTRO = "Runs the workflow as it is on screen (it need not be written first)."
    BINDINGS = [
        Binding("ctrl+r", "run", "Run", tooltip="Run the workflow now", id="run"),
        Binding("escape", "cancel", "Cancel run", tooltip="Stop after the models in flight", id="cancel"),
    ]

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - Step's own
        super().__init__(*args, **kwargs)
        self.cancel_event = threading.Event()
        self.running = False
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.finished = 0
        self.config: Workflow | None = None
        self.secrets: list[str] = []

    def body(self) -> ComposeResult:
        yield Static("Press ctrl+r to run.", id="run-head", markup=False)
        with Horizontal(id="run-progress"):
            yield ProgressBar(total=1, show_eta=False, id="progress")
            yield Static("", id="run-done", markup=False)
        with Horizontal(id="counters"):
            for name in COUNTERS:
                yield Static(f"{name.capitalize()} 0", id=f"count-{name}", classes="counter", markup=False)
        yield RichLog(max_lines=LOG_LINES, min_width=20, wrap=True, markup=False, highlight=False, id="run-log")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "run":
            return None if self.running else True
        if action == "cancel":
            return True if self.running else None
        return True

    def first_focus(self):  # noqa: ANN201 - the log, so the run's keys are live and it scrolls
        return self.query_one("#run-log")

    # ------------------------------------------------------------------------------------- actions

    def action_run(self) -> None:
        config = self.report.config if self.report else None
        if self.running or config is None:
            return
        self.config = config
        self.secrets = secret_values(config)
        self.running = True
        self.cancel_event = threading.Event()
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.finished = 0
        for name in COUNTERS:
            self._count(name, 0)
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.query_one("#run-done", Static).update("")
        self.query_one(RichLog).clear()
        self._head("Starting: opening the sink and the MLflow registry …")
        self.refresh_bindings()
        self._run(config, self.cancel_event)

    def on_unmount(self) -> None:
        """Closing the app mid-run cancels it: its thread would otherwise keep the process alive."""
        self.cancel_event.set()

    def action_cancel(self) -> None:
        if self.running and not self.cancel_event.is_set():
            self.cancel_event.set()
            self._head("Cancelling: finishing the models in flight …")
            self._log("cancel requested by the user")

    @work(thread=True, exclusive=True, group="run", exit_on_error=False)
    def _run(self, config: Workflow, cancel: threading.Event) -> None:
        try:
            self.services.run_workflow(config, lambda event: self.post_message(RunEvent(event)), cancel)
        except UserError as exc:
            self.post_message(RunFailed(str(exc)))
        except Exception as exc:  # noqa: BLE001 - an engine bug must end the run visibly, not hang it
            self.post_message(RunFailed(f"unexpected error: {type(exc).__name__}: {exc}"))

    # -------------------------------------------------------------------------------------- events

    @on(RunEvent)
    def _event(self, message: RunEvent) -> None:
        event = message.event
        if isinstance(event, ev.RunStarted):
            self._head(f"Running: MLflow {event.source} as service {event.service!r} → {event.sink}")
        elif isinstance(event, ev.TotalKnown):
            self.query_one(ProgressBar).update(total=max(event.total, 1))
            self._progress()
        elif isinstance(event, ev.ModelDone):
            self._bump("processed")
            self._log(f"{event.outcome:<9} {event.name}")
        elif isinstance(event, ev.ModelFailed):
            self._bump("errors")
            self._log(f"failed    {event.name}: {event.reason}")
        elif isinstance(event, ev.ModelFiltered):
            self._bump("filtered")
            self._log(f"filtered  {event.name}: {event.reason}")
        elif isinstance(event, ev.ModelWarning):
            self.counts["warnings"] += 1
            self._count("warnings", self.counts["warnings"])
            self._log(f"warning   {event.name}: {event.message}")
        elif isinstance(event, ev.ModelsDeleted):
            self._log(f"marked deleted: {', '.join(event.names)}")
        elif isinstance(event, ev.RunFinished):
            self._finish(event.summary)

    @on(RunFailed)
    def _failed(self, message: RunFailed) -> None:
        self.running = False
        self._head("✗ The run could not go on (see the log)", "-fail")
        self._log(f"error: {message.error}")
        self.query_one(ProgressBar).update(total=1, progress=0)
        self.refresh_bindings()

    def _finish(self, summary: ev.RunSummary) -> None:
        self.running = False
        bar = self.query_one(ProgressBar)
        if bar.total is None:
            bar.update(total=max(self.finished, 1))
        ok = summary.succeeded
        self._head(f"{'✓' if ok else '✗'} Finished: {verdict(summary)}", "-pass" if ok else "-fail")
        for line in summary_lines(summary, self.config):
            self._log(line)
        self.refresh_bindings()

    # ------------------------------------------------------------------------------------- display

    def _bump(self, name: str) -> None:
        self.counts[name] += 1
        self.finished += 1
        self._count(name, self.counts[name])
        self._progress()

    def _progress(self) -> None:
        bar = self.query_one(ProgressBar)
        bar.update(progress=self.finished)
        of = f" of {int(bar.total)}" if bar.total is not None else ""
        self.query_one("#run-done", Static).update(f"{self.finished}{of} models")

    def _count(self, name: str, value: int) -> None:
        self.query_one(f"#count-{name}", Static).update(f"{name.capitalize()} {value}")
        self.query_one(f"#count-{name}").set_class(name == "errors" and value > 0, "-fail")

    def _head(self, text: str, state: str = "") -> None:
        head = self.query_one("#run-head", Static)
        head.update(scrub(text, self.secrets))
        head.set_class(state == "-pass", "-pass")
        head.set_class(state == "-fail", "-fail")

    def _log(self, text: str) -> None:
        self.query_one(RichLog).write(scrub(text, self.secrets))
