"""Step 8, Run: the workflow, live — progress, counters, a log, then the summary with every failure.

The first ctrl+r makes the plan (`workflow.plan`: what the run would change, nothing written) and
shows its counts, the list on demand (l), filterable; the second runs it, after one more question
when the plan marks models deleted. The engine's `run_workflow` runs in a thread worker and calls
back with typed events, each posted to the UI as a message. Cancelling sets the run's
`threading.Event`: the engine finishes the models in flight and still reports a summary, so a
cancelled run says what it did.
"""
from __future__ import annotations

import threading

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, ProgressBar, Static

from workflow import events as ev
from workflow import UserError, Workflow, known_secrets, scrub, shown, summary_lines, verdict

from ..draft import Report
from ..messages import PlanReady, RunEvent, RunFailed, StepState
from ..screens.confirm import ConfirmScreen
from ..widgets.wrapping_log import WrappingLog
from .base import Step

COUNTERS = ("processed", "warnings", "filtered", "errors")
LOG_LINES = 2000


class RunStep(Step):
    NAME = "run"
    TITLE = "8  Run"
    INTRO = "Runs the workflow as it is on screen (it need not be written first)."
    HELP = ("Runs the workflow as it is on screen. ctrl+r first makes the plan (what the run would change; nothing "
            "is written) and shows its counts, l lists its models with a filter; ctrl+r again runs it, asking once "
            "more when models would be marked deleted. Then progress, counters, the log and the summary with every "
            "failure. Esc cancels after the models in flight, c copies the summary.")
    BINDINGS = [
        Binding("ctrl+r", "run", "Run", tooltip="Plan the run (nothing is written), then run it", id="run"),
        Binding("l", "list_plan", "List plan", tooltip="The plan model by model, with a filter", id="list-plan"),
        Binding("escape", "cancel", "Cancel run", tooltip="Stop after the models in flight", id="cancel"),
        Binding("c", "copy", "Copy summary", tooltip="Copy the run's summary to the clipboard", id="copy-summary"),
    ]

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - Step's own
        super().__init__(*args, **kwargs)
        self.cancel_event = threading.Event()
        self.running = False
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.finished = 0
        self.config: Workflow | None = None
        self.secrets: list[str] = []
        self.planning = False
        self.plan = None  # a workflow.plan.RunPlan of `plan_config`, until it runs
        self.plan_config: Workflow | None = None
        self.outcome = ""  # "done" or "problems" once a run ended
        self.summary_text = ""

    def body(self) -> ComposeResult:
        yield Static("Press ctrl+r to run.", id="run-head", markup=False)
        with Horizontal(id="run-progress"):
            yield ProgressBar(total=1, show_eta=False, id="progress")
            yield Static("", id="run-done", markup=False)
        with Horizontal(id="counters"):
            for name in COUNTERS:
                yield Static(f"{name.capitalize()} 0", id=f"count-{name}", classes="counter", markup=False)
        yield Input(placeholder="filter the plan: part of a name, or new, changed, deleted …",
                    id="plan-filter").set_styles("display: none;")
        yield WrappingLog(max_lines=LOG_LINES, id="run-log")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "run":
            return None if self.running or self.planning else True
        if action == "cancel":
            return True if self.running or self.planning else None
        if action == "list_plan":
            return self.plan is not None and not self.running
        if action == "copy":
            return bool(self.summary_text)
        return True

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.summary_text)
        self.notify("The run's summary is on the clipboard.", title="Copied")

    def first_focus(self):  # noqa: ANN201 - the log, so the run's keys are live and it scrolls
        return self.query_one("#run-log")

    # ------------------------------------------------------------------------------------- actions

    def action_run(self) -> None:
        config = self.report.config if self.report else None
        if self.running or config is None:
            return
        if self.report.unset:
            self._head(f"✗ Cannot run: {self.report.unset_message()}.", "-fail")
            self._outcome("problems")
            return
        self.config = config
        self.secrets = known_secrets(config)
        if self.plan is None or self.plan_config != config:
            self._start_plan(config)
        elif self.plan.counts["deleted"]:
            question = (f"This run marks {self.plan.counts['deleted']} model(s) deleted in OpenMetadata "
                        f"(l lists them). Run it?")
            self.app.push_screen(ConfirmScreen(question, yes="Run", no="No, not now"), self._confirmed)
        else:
            self._start_run(config)

    def _confirmed(self, yes: bool | None) -> None:
        if yes and self.config is not None:
            self._start_run(self.config)
        else:
            self._head("Not run. ctrl+r asks again, l lists the plan.")

    def _start_plan(self, config: Workflow) -> None:
        self.planning = True
        self.plan, self.plan_config = None, config
        self.summary_text = ""
        self._outcome("")
        self.cancel_event = threading.Event()
        self.query_one(WrappingLog).clear()
        self._show_filter(False)
        self._head("Planning: reading MLflow and OpenMetadata as the run would (nothing is written) …")
        self.refresh_bindings()
        self._plan(config, self.cancel_event)

    def _start_run(self, config: Workflow) -> None:
        self.plan = None
        self._show_filter(False)
        self.running = True
        self.summary_text = ""
        self._outcome("")
        self.cancel_event = threading.Event()
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.finished = 0
        for name in COUNTERS:
            self._count(name, 0)
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.query_one("#run-done", Static).update("")
        self.query_one(WrappingLog).clear()
        self._head("Starting: opening the sink and the MLflow registry …")
        self.refresh_bindings()
        self._run(config, self.cancel_event)

    def on_unmount(self) -> None:
        """Closing the app mid-run cancels it: its thread would otherwise keep the process alive."""
        self.cancel_event.set()

    def action_list_plan(self) -> None:
        self._show_filter(True)
        self.query_one("#plan-filter", Input).focus()
        self._list_plan()

    @on(Input.Changed, "#plan-filter")
    def _list_plan(self) -> None:
        from workflow import plan_lines  # the plan's modules bring the runner: not at start-up

        if self.plan is not None:
            self.query_one(WrappingLog).clear()
            for line in plan_lines(self.plan, only=self.query_one("#plan-filter", Input).value):
                self._log(line)

    def _show_filter(self, shown: bool) -> None:
        self.query_one("#plan-filter").display = shown

    def action_cancel(self) -> None:
        if (self.running or self.planning) and not self.cancel_event.is_set():
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

    @work(thread=True, exclusive=True, group="run", exit_on_error=False)
    def _plan(self, config: Workflow, cancel: threading.Event) -> None:
        try:
            self.post_message(PlanReady(self.services.plan_workflow(config, lambda event: None, cancel)))
        except UserError as exc:
            self.post_message(RunFailed(str(exc)))
        except Exception as exc:  # noqa: BLE001 - an engine bug must end the plan visibly, not hang it
            self.post_message(RunFailed(f"unexpected error: {type(exc).__name__}: {exc}"))

    # -------------------------------------------------------------------------------------- events

    @on(PlanReady)
    def _planned(self, message: PlanReady) -> None:
        from workflow import counts_text, plan_notes

        self.planning = False
        plan = message.plan
        if plan.complete:
            self.plan = plan
            self._head(f"Plan: {counts_text(plan)}. ctrl+r runs it, l lists the models.")
        else:
            self._outcome("problems")
            self._head("✗ No plan, so nothing to run yet (see the log); ctrl+r tries again", "-fail")
        for line in plan_notes(plan):
            self._log(line)
        self.refresh_bindings()

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
        what = "plan" if self.planning else "run"
        self.running = self.planning = False
        self._outcome("problems")
        self._head(f"✗ The {what} could not go on (see the log)", "-fail")
        self._log(f"error: {message.error}")
        self.query_one(ProgressBar).update(total=1, progress=0)
        self.refresh_bindings()

    def _finish(self, summary: ev.RunSummary) -> None:
        self.running = False
        bar = self.query_one(ProgressBar)
        if bar.total is None:
            bar.update(total=max(self.finished, 1))
        ok = summary.succeeded
        self._outcome("done" if ok else "problems")
        head = f"{'✓' if ok else '✗'} Finished: {verdict(summary)}"
        self._head(head, "-pass" if ok else "-fail")
        lines = summary_lines(summary, self.config)
        for line in lines:
            self._log(line)
        self.summary_text = shown(scrub("\n".join([head, *lines]), self.secrets))
        self.refresh_bindings()

    def _outcome(self, outcome: str) -> None:
        self.outcome = outcome
        self.post_message(StepState())

    def mark(self, report: Report, visited: bool) -> str:
        return self.outcome

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
        head.update(shown(scrub(text, self.secrets)))
        head.set_class(state == "-pass", "-pass")
        head.set_class(state == "-fail", "-fail")

    def _log(self, text: str) -> None:
        self.query_one(WrappingLog).add(shown(scrub(text, self.secrets)))
