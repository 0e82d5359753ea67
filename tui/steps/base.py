"""What every pane of the wizard has: a title, its fields, and the engine's verdict on them.

The screen calls `show_report` before a pane is shown and after every edit on it, and `entered` once
it is visible; a pane
that talks to a server starts its worker from `entered`, never from `compose`, so the first frame
does not wait.
"""
from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import ScrollableContainer, Vertical, VerticalScroll
from textual.scroll_view import ScrollView
from textual.widget import Widget
from textual.widgets import Static

from ..draft import Draft, Report
from ..fields import BY_KEY, FORM_STEPS
from ..services import Services
from ..widgets.field import Field
from ..widgets.secret import SecretField


class Step(Vertical):
    NAME: ClassVar[str]
    TITLE: ClassVar[str]
    INTRO: ClassVar[str] = ""
    HELP: ClassVar[str] = ""
    """What the step does, for the help screen."""
    HINTS: ClassVar[dict[str, str]] = {}
    """A quiet line under a field while the engine has nothing to say about it."""

    def __init__(self, draft: Draft, services: Services) -> None:
        super().__init__(id=f"step-{self.NAME}", classes="step")
        self.draft = draft
        self.services = services
        self.report: Report | None = None
        self.problems = ""

    def compose(self) -> ComposeResult:
        yield Static(self.TITLE, classes="step-title", markup=False)
        if self.INTRO:
            yield Static(self.INTRO, classes="step-intro", markup=False)
        yield from self.body()
        yield Static("", classes="step-problems", markup=False).set_styles("display: none;")

    def body(self) -> ComposeResult:
        yield from ()

    def field(self, key: str) -> Field:
        """The form control for one of the draft's fields, filled with its current value."""
        spec = BY_KEY[key]
        value = self.draft.values[key]
        hint = self.HINTS.get(key, "")
        if spec.kind == "secret":
            return SecretField(spec, value, reference=self.draft.reference_mode[key], hint=hint)
        return Field(spec, value, hint=hint)

    def show_report(self, report: Report) -> None:
        self.report = report
        for field in self.query(Field):
            if field.key in BY_KEY:
                field.show(report.errors.get(field.key), report.warnings.get(field.key))
        problems = "\n".join(report.general.get(self.NAME, []))
        if problems != self.problems:  # an update re-lays out the screen: only on change
            self.problems = problems
            label = self.query_one(".step-problems", Static)
            label.update(problems)
            label.display = bool(problems)

    def mark(self, report: Report, visited: bool) -> str:
        """What the step list says of this step: "done", "problems" or "" (not visited, not done yet).
        A form step has problems wherever they are (an opened file's too), and is done once seen valid."""
        if not report.step_valid(self.NAME):
            return "problems" if self.NAME in FORM_STEPS else ""
        return "done" if visited else ""

    def entered(self) -> None:
        """The pane became visible (the latest report is in `self.report`)."""

    def endpoint_ready(self) -> None:
        """A server the draft points at just came up (the demo's MLflow): refresh what came from it."""

    def on_mount(self) -> None:
        for scroll in self.query(VerticalScroll):  # a form scrolls to the focused field: Tab skips its frame
            if type(scroll) is VerticalScroll:
                scroll.can_focus = False

    def first_focus(self) -> Widget | None:
        """The first control of the pane, else its scrolling view (Review's YAML, Test's checks)."""
        focusable = [w for w in self.query("*") if w.focusable and w.display]
        controls = [w for w in focusable if not isinstance(w, ScrollableContainer) or isinstance(w, ScrollView)]
        return (controls or focusable or [None])[0]
