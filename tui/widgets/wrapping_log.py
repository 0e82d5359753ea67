"""A log whose lines wrap to its width, and wrap again when the width changes.

`RichLog` wraps each line once, at the width it had when the line came; after the terminal is made
narrower (or a pane is shown at a new size) those lines are cut at the edge instead. This log keeps
the text of its last lines and writes them again at the new width.
"""
from __future__ import annotations

from collections import deque

from textual.events import Resize
from textual.widgets import RichLog


class WrappingLog(RichLog):
    def __init__(self, *, max_lines: int, id: str | None = None) -> None:
        super().__init__(max_lines=max_lines, min_width=20, wrap=True, markup=False, highlight=False, id=id)
        self.texts: deque[str] = deque(maxlen=max_lines)
        self.wrapped_at = 0

    def add(self, text: str) -> None:
        self.texts.append(text)
        self.write(text)

    def clear(self) -> "WrappingLog":
        self.texts.clear()
        return super().clear()

    def on_resize(self, event: Resize) -> None:
        width = self.scrollable_content_region.width
        if self.texts and self.wrapped_at and width != self.wrapped_at:
            super().clear()
            for text in self.texts:
                self.write(text)
        self.wrapped_at = width

    def plain_text(self) -> str:
        return "\n".join(self.texts)
