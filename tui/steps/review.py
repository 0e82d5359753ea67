"""Step 5, Review: the YAML exactly as it will be written (secrets masked), and what changes on disk.

The diff compares the engine's rendering of the file on disk with the new one, both masked, so it
shows real changes and never a secret. The disk is read in a worker. A save keeps the file's comments
and layout; when the engine cannot (`keeps_layout`), the note above the diff says so.

`c` copies the YAML (masked) to the clipboard with OSC 52, which works over SSH and in tmux. `e` opens
it in $EDITOR (the terminal is handed over with `App.suspend`, the file is private and removed after):
what comes back is read as a workflow file is, and the form starts again from it, problems shown.
"""
from __future__ import annotations

import difflib
import os
import shlex
import subprocess
import tempfile
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import ScrollableContainer
from textual.content import Content
from textual.highlight import highlight
from textual.widgets import Static

from workflow import UserError, Workflow, keeps_layout, load_workflow, to_yaml

from ..draft import Draft
from ..mapping import Path_
from ..messages import DiffReady
from .base import Step


class ReviewStep(Step):
    NAME = "review"
    TITLE = "5  Review"
    INTRO = "The file as it will be written; secrets are masked here."
    HELP = ("The YAML exactly as it will be written (secrets masked), and what changes in the file you opened. "
            "c copies it (masked), e opens it in $EDITOR: what you save there comes back into the form, checked.")

    BINDINGS = [
        Binding("c", "copy", "Copy YAML", tooltip="Copy the YAML (secrets masked) to the clipboard", id="copy-yaml"),
        Binding("e", "edit", "Edit in $EDITOR", tooltip="Edit the YAML in $EDITOR; the form takes your changes",
                id="edit-yaml"),
    ]

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

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("copy", "edit"):
            return self.report is not None and self.report.config is not None
        return True

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(to_yaml(self.report.config, secrets="mask", references=self.report.references))
        self.notify("The YAML is on the clipboard, secrets masked (Write saves the real file).", title="Copied")

    async def action_edit(self) -> None:
        """Edit the YAML in $EDITOR, then take it back into the form."""
        text = to_yaml(self.report.config, references=self.report.references)  # the real values: it is a file
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        with tempfile.TemporaryDirectory(prefix="mlflow-om-") as folder:  # private: mode 0700
            file = Path(folder, (self.draft.path.name if self.draft.path else "workflow.yaml"))
            file.write_text(text, encoding="utf-8")
            file.chmod(0o600)
            try:
                with self.app.suspend():
                    finished = subprocess.run([*shlex.split(editor), str(file)], check=False)
            except (SuspendNotSupported, OSError) as exc:
                self.notify(f"Cannot open {editor}: {exc or 'this terminal cannot be handed over'}", severity="error")
                return
            if file.read_text(encoding="utf-8") == text:
                self.notify(f"No changes made in {editor}" + (f" (it exited {finished.returncode})"
                                                              if finished.returncode else "."))
                return
            try:
                draft = Draft.open(file)
            except UserError as exc:
                self.notify(f"Your edit was not taken: {exc}", title="Not a workflow file", severity="error",
                            timeout=20)
                return
        draft.path, draft.disk_stamp = self.draft.path, self.draft.disk_stamp
        app = self.app
        await app.replace_draft(draft, step=self.screen.steps.index(self))
        app.notify("The form now holds your edit.", title=f"Back from {editor}")

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
