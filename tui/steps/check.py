"""Step 6, Test: both endpoints checked live, each step shown as it finishes.

The checks run in a thread worker and post one message per finished step. Each round has a number,
so the rows of a superseded round (the user re-tested) are dropped instead of mixed in; the old
round's cancel event is set so it stops early.
"""
from __future__ import annotations

import threading
from dataclasses import replace

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from workflow import Workflow, known_secrets, scrub, shown, to_yaml

from ..draft import Report
from ..messages import CheckDone, ChecksFinished, StepState
from ..widgets.check_list import CheckList
from .base import Step


class TestStep(Step):
    NAME = "test"
    TITLE = "6  Test"
    INTRO = "Both endpoints, checked live. A failed check does not stop you writing the file."
    HELP = ("Checks MLflow and OpenMetadata live, step by step, each failure with its cause and what to do "
            "(as `metadata test-connection` does). ctrl+t tests again, c copies the results.")
    BINDINGS = [
        Binding("ctrl+t", "retest", "Test again", tooltip="Check both endpoints again", id="retest"),
        Binding("c", "copy", "Copy results", tooltip="Copy every check, with its cause and fix, to the clipboard",
                id="copy-checks"),
    ]

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - Step's own
        super().__init__(*args, **kwargs)
        self.round = 0
        self.tested: str | None = None
        self.cancel = threading.Event()
        self.failed = 0
        self.warned = 0
        self.checking = False  # a round is running: its steps are still arriving
        self.outcome = ""  # "done" or "problems" once a round finished (or could not start)

    def body(self) -> ComposeResult:
        yield Static("", id="check-status", markup=False)
        yield CheckList(id="checks")

    def entered(self) -> None:
        config = self.report.config if self.report else None
        if config is not None and to_yaml(config) != self.tested:
            self.action_retest()

    def on_unmount(self) -> None:
        self.cancel.set()

    def endpoint_ready(self) -> None:
        if self.round:
            self.action_retest()

    def action_retest(self) -> None:
        config = self.report.config if self.report else None
        status = self.query_one("#check-status", Static)
        if config is None:
            status.update("Fix the problems on the earlier steps first.")
            return
        if self.report.unset:  # checking a literal ${VAR} would only fail, and confusingly
            self.cancel.set()
            self.tested = None
            self.query_one(CheckList).clear()
            status.update(f"✗ Cannot test: {self.report.unset_message()}.")
            status.set_class(True, "-fail")
            self._outcome("problems")
            return
        self.cancel.set()
        self.cancel = threading.Event()
        self.round += 1
        self.tested = to_yaml(config)
        self.failed = self.warned = 0
        self.checking = True
        self._outcome("")
        self.query_one(CheckList).clear()
        self.query_one("#check-status", Static).update("Checking MLflow and OpenMetadata …")
        self._check(config, self.round, self.cancel)

    @work(thread=True, exclusive=True, group="checks", exit_on_error=False)
    def _check(self, config: Workflow, round: int, cancel: threading.Event) -> None:
        try:
            for step in self.services.iter_checks(config, cancel):
                self.post_message(CheckDone(round, step))
        except Exception as exc:  # noqa: BLE001 - a checker bug must still end the round visibly
            self.post_message(ChecksFinished(round, error=f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(ChecksFinished(round))

    @on(CheckDone)
    def _done(self, message: CheckDone) -> None:
        if message.round != self.round:
            return
        step = message.step
        secrets = known_secrets(self.report.config) if self.report and self.report.config else []
        step = replace(step, cause=shown(scrub(step.cause, secrets)),
                       remediation=shown(scrub(step.remediation, secrets)))
        self.failed += step.status == "fail"
        self.warned += step.status == "warn"
        self.query_one(CheckList).add(step)

    @on(ChecksFinished)
    def _finished(self, message: ChecksFinished) -> None:
        if message.round != self.round:
            return
        self.checking = False
        status = self.query_one("#check-status", Static)
        if message.error:
            text = f"The checks stopped: {message.error}"
        elif self.failed:
            text = f"✗ {self.failed} failed (causes below) · ctrl+t tests again"
        elif self.warned:
            text = f"! Passed with {self.warned} warning(s)."
        else:
            text = "✓ Both endpoints passed."
        status.update(text)
        status.set_class(bool(self.failed or message.error), "-fail")
        status.set_class(not (self.failed or message.error), "-pass")
        self._outcome("problems" if self.failed or message.error else "done")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "copy":
            return bool(self.query_one(CheckList).steps) or bool(self.outcome)
        return True

    def action_copy(self) -> None:
        status = str(self.query_one("#check-status", Static).render())
        self.app.copy_to_clipboard("\n\n".join(filter(None, [status, self.query_one(CheckList).as_text()])))
        self.notify("The check results are on the clipboard.", title="Copied")

    def _outcome(self, outcome: str) -> None:
        self.outcome = outcome
        self.post_message(StepState())
        self.refresh_bindings()

    def mark(self, report: Report, visited: bool) -> str:
        return self.outcome
