"""The wizard's table of contents: every step with its state, clickable to jump there.

Each mark says what is true, by a glyph and a colour, so it reads without colour too: ✓ done (a
form step visited and valid, checks passed, the file written, the run succeeded), ✗ has problems
(a field to fix, a failed check or run), nothing when not visited or not done yet; ▸ is the current step.
"""
from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static


class StepList(Vertical):
    DEFAULT_CSS = """
    StepList { width: 19; height: 100%; padding: 1 0; background: $surface; }
    StepList > Static { width: 100%; padding: 0 1; }
    StepList > Static.-current { background: $primary 30%; text-style: bold; }
    StepList > Static.-invalid { color: $text-error; }
    StepList > Static.-done { color: $text-success; }
    StepList > Static.-locked { color: $text-disabled; }
    """

    @dataclass
    class Chosen(Message):
        """The user clicked a step."""

        index: int

    def __init__(self, titles: list[str], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.titles = titles

    def compose(self) -> ComposeResult:
        for index, title in enumerate(self.titles):
            yield Static(f"   {index + 1} {title}", id=f"stepitem-{index}", markup=False)

    def update_state(self, current: int, marks: list[str], reachable: int) -> None:
        """`marks`: "done", "problems" or "" per step; `reachable`: the last step the user may jump to."""
        for index, row in enumerate(self.query(Static)):
            mark = marks[index]
            glyph = {"done": "✓", "problems": "✗"}.get(mark, " ")
            text = f"{'▸' if index == current else ' '}{glyph} {index + 1} {self.titles[index]}"
            if str(row.content) != text:
                row.update(text)
            row.set_class(index == current, "-current")
            row.set_class(mark == "problems", "-invalid")
            row.set_class(mark == "done" and index != current, "-done")
            row.set_class(index > reachable, "-locked")

    def on_click(self, event) -> None:  # noqa: ANN001 - textual.events.Click
        widget = event.widget
        if widget is not None and widget.id and widget.id.startswith("stepitem-"):
            self.post_message(self.Chosen(int(widget.id.split("-")[1])))
