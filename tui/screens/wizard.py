"""The wizard: every step on one screen, one pane shown at a time, Back and Next between them.

All panes stay mounted (a `ContentSwitcher`; all but the first mount just after the first frame), so
going back keeps every value without any copying. After each edit the draft is checked as a whole by
the engine and the pane shows the verdict under its fields; Next is disabled while the pane has a
problem, and the step list shows where the problems are.
"""
from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, ContentSwitcher, Footer, Header, Static

from ..draft import Draft, Report
from ..fields import FORM_STEPS
from ..messages import DemoStatus, StepState
from ..services import Services
from ..steps import STEPS, Step
from ..steps.write import WriteStep
from ..widgets.field import Field
from ..widgets.step_list import StepList


class WizardScreen(Screen):
    BINDINGS = [
        # Not ctrl+b (tmux's prefix) nor ctrl+a (screen's); alt+arrows as well. The keys file moves them.
        Binding("ctrl+n,alt+right", "next", "Next", tooltip="Go to the next step (when this one is valid)", id="next"),
        Binding("ctrl+g,alt+left", "back", "Back", tooltip="Go to the previous step; every value is kept", id="back"),
    ]

    def __init__(self, draft: Draft, services: Services, *, target: Path, banner: str = "", start: int = 0) -> None:
        super().__init__()
        self.draft = draft
        self.services = services
        self.target = target
        self.banner = banner
        self.start = start
        self.visited: set[int] = set()
        self.index = 0
        self.moves: tuple[bool, bool] | None = None
        self.report: Report = draft.check()
        self.steps: list[Step] = self._make_steps()
        """Every pane; all but the first mount just after the first frame, to keep it fast."""

    def _make_steps(self) -> list[Step]:
        return [cls(self.draft, self.services, target=self.target) if cls is WriteStep else cls(self.draft, self.services)
                for cls in STEPS]

    async def load(self, draft: Draft, *, start: int) -> None:
        """Start the form again from another draft (the YAML came back from the editor)."""
        for step in self.steps:
            step.workers.cancel_all()
        self.draft, self.start, self.index, self.moves = draft, start, 0, None
        self.visited = set()
        self.report = draft.check()
        self.steps = self._make_steps()
        await self.recompose()
        self.on_mount()

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="≡")
        with Horizontal(id="body"):
            yield StepList([cls.TITLE.split(maxsplit=1)[1] for cls in STEPS], id="step-list")
            with Vertical(id="main"):
                yield Static(self.banner, id="banner", markup=False)
                with ContentSwitcher(initial=self.steps[0].id, id="panes"):
                    yield self.steps[0]
                with Horizontal(id="nav"):
                    yield Button("◂ Back", id="back", compact=True)
                    yield Static("", id="nav-status", markup=False)
                    yield Button("Next ▸", id="next", compact=True, variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#banner").display = bool(self.banner)
        self.go(0)
        self.call_after_refresh(self._mount_other_steps)
        if self.start:
            self.call_after_refresh(self.go, self.start)

    async def _mount_other_steps(self) -> None:
        """The panes not on screen yet, mounted once the first frame is out (most of the widgets)."""
        switcher = self.query_one("#panes", ContentSwitcher)
        if not switcher.is_mounted:  # the app is already closing
            return
        for step in self.steps[1:]:
            step.display = False
        await switcher.mount_all(self.steps[1:])

    # --------------------------------------------------------------------------------- properties

    @property
    def step(self) -> Step:
        return self.steps[self.index]

    def reachable(self) -> int:
        """The furthest step the user may open: every form step (a file with mistakes is fixed in any
        order), and the steps after them once they are all valid."""
        form = [i for i, cls in enumerate(STEPS) if cls.NAME in FORM_STEPS]
        if any(not self.report.step_valid(STEPS[i].NAME) for i in form):
            return max(form)
        return len(STEPS) - 1

    # ----------------------------------------------------------------------------------- editing

    @on(Field.Edited)
    def _edited(self, event: Field.Edited) -> None:
        self.draft.set(event.key, event.value, reference=event.reference)
        self.report = self.draft.check()
        self.step.show_report(self.report)  # the other panes get it when they are shown
        self._show_position()

    @on(StepState)
    def _show_position(self) -> None:
        marks = [step.mark(self.report, index in self.visited) for index, step in enumerate(self.steps)]
        self.query_one(StepList).update_state(self.index, marks, self.reachable())
        valid = self.report.step_valid(STEPS[self.index].NAME) and self.index + 1 <= self.reachable()
        problems = self.report.problem_count(STEPS[self.index].NAME)
        status = f"Step {self.index + 1} of {len(STEPS)}"
        if not valid and self.index < len(STEPS) - 1:
            status += f" · {problems} problem{'s' if problems != 1 else ''} to fix" if problems else " · fix the earlier steps"
        nav = self.query_one("#nav-status", Static)
        if str(nav.content) != status:
            nav.update(status)
        moves = (self.index > 0, self.can_advance())
        if moves != self.moves:  # the footer re-renders on refresh_bindings: only on change
            self.moves = moves
            self.query_one("#back", Button).disabled = not moves[0]
            self.query_one("#next", Button).disabled = not moves[1]
            self.refresh_bindings()

    # -------------------------------------------------------------------------------- navigation

    def can_advance(self) -> bool:
        return self.index + 1 <= self.reachable() and self.report.step_valid(STEPS[self.index].NAME)

    def go(self, index: int) -> None:
        """Show step `index` if every step before it is valid."""
        if not 0 <= index < len(STEPS) or index > self.reachable():
            return
        step = self.steps[index]
        if not step.is_mounted:
            self.call_after_refresh(self.go, index)
            return
        self.index = index
        self.visited.add(index)
        step.show_report(self.report)
        self.query_one("#panes", ContentSwitcher).current = step.id
        self._show_position()
        step.entered()
        target = step.first_focus()
        if target is not None:
            target.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next":
            return True if self.can_advance() else None
        if action == "back":
            return True if self.index > 0 else None
        return True

    def action_next(self) -> None:
        if self.can_advance():
            self.go(self.index + 1)

    def action_back(self) -> None:
        self.go(self.index - 1)

    @on(Button.Pressed, "#next")
    def _next_pressed(self) -> None:
        self.action_next()

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.action_back()

    @on(StepList.Chosen)
    def _chosen(self, message: StepList.Chosen) -> None:
        self.go(message.index)

    # -------------------------------------------------------------------------------------- demo

    @on(DemoStatus)
    def _demo(self, message: DemoStatus) -> None:
        banner = self.query_one("#banner", Static)
        banner.update(message.text)
        banner.set_class(message.failed, "-fail")
        if message.ready:
            for step in self.steps:
                step.endpoint_ready()
