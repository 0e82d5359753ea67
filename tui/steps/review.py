"""Step 5, Review: the YAML exactly as it will be written (secrets masked), and what changes on disk.

The diff compares the engine's rendering of the file on disk with the new one, both masked, so it
shows real changes and never a secret. The disk is read in a worker. A save keeps the file's comments
and layout; when the engine cannot (`keeps_layout`), the note above the diff says so.
"""
from __future__ import annotations

import difflib
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import ScrollableContainer
from textual.content import Content
from textual.highlight import highlight
from textual.widgets import Static

from workflow import UserError, Workflow, keeps_layout, load_workflow, to_yaml

from ..draft import Path_
from ..messages import DiffReady
from .base import Step


class ReviewStep(Step):
    NAME = "review"
    TITLE = "5  Review"
    INTRO = "The file as it will be written; secrets are masked here."

    def body(self) -> ComposeResult:
        with ScrollableContainer(id="review-scroll", can_focus=True):
            yield Static("", id="yaml")
            yield Static("", id="diff-head", markup=False)
            yield Static("", id="diff")

    def entered(self) -> None:
        config = self.report.config if self.report else None
        if config is None:
            self.query_one("#yaml", Static).update("Fix the problems on the earlier steps first.")
            return
        text = to_yaml(config, secrets="mask", references=self.report.references)
        self.query_one("#yaml", Static).update(highlight(text, language="yaml"))
        if self.draft.path is None:
            self.query_one("#diff-head", Static).update("A new file: nothing to compare with.")
            self.query_one("#diff", Static).update("")
        else:
            self.query_one("#diff-head", Static).update(f"Comparing with {self.draft.path} …")
            self._compare(self.draft.path, text, config, self.report.references)

    @work(thread=True, exclusive=True, group="diff", exit_on_error=False)
    def _compare(self, path: Path, new: str, config: Workflow, references: dict[Path_, str]) -> None:
        try:
            loaded = load_workflow(path)
        except UserError as exc:
            self.post_message(DiffReady("", f"No comparison with {path}: {str(exc).splitlines()[0]}"))
            return
        old = to_yaml(loaded.config, secrets="mask", references=loaded.references)
        diff = list(difflib.unified_diff(old.splitlines(), new.splitlines(), f"{path.name} (on disk)",
                                         f"{path.name} (to write)", lineterm="", n=2))
        note = f"Changes to {path}:" if diff else f"No changes to the settings in {path}."
        if not keeps_layout(path, config, references):
            note += " (its comments and layout will be rewritten)"
        self.post_message(DiffReady("\n".join(diff), note))

    @on(DiffReady)
    def _diff(self, message: DiffReady) -> None:
        self.query_one("#diff-head", Static).update(message.note)
        styles = {"+": "$text-success", "-": "$text-error", "@": "$text-accent"}
        lines = [Content.styled(line, styles.get(line[:1], "")) for line in message.text.splitlines()]
        self.query_one("#diff", Static).update(Content("\n").join(lines))
