"""Step 7, Write: save the workflow file, atomically, private when it holds a secret.

Saving the file being edited is the normal case and asks nothing, unless it changed on disk since
it was opened. Any other existing file: the engine's `write_workflow` refuses to replace it unless
told to; that refusal becomes a question here, and only a "yes" writes again with `overwrite=True`.
"""
from __future__ import annotations

import os
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Button, Static

from workflow import UserError, Workflow, has_inline_secret, write_workflow

from ..draft import Report
from ..fields import Spec
from ..mapping import Path_
from ..messages import StepState, WriteResult
from ..screens.confirm import ConfirmScreen
from ..widgets.field import Field
from .base import Step

PATH_SPEC = Spec("writePath", "write", (), "Workflow file", placeholder="./mlflow_workflow.yaml")


class WriteStep(Step):
    NAME = "write"
    TITLE = "7  Write"
    INTRO = ("Written atomically (a temporary file, then renamed). Saving the file you opened replaces it; any other "
             "existing file, or one changed on disk since, is replaced only if you confirm.")
    HELP = ("Saves the workflow: 0600 when a secret is written inline, comments and layout kept when saving over "
            "a YAML file. `metadata ingest -c FILE` then runs it without the app.")
    BINDINGS = [Binding("ctrl+s", "write", "Write file", tooltip="Write the workflow file", id="write")]

    def __init__(self, *args, target: Path, **kwargs) -> None:  # noqa: ANN002, ANN003 - Step's own
        super().__init__(*args, **kwargs)
        self.target = str(target)
        self.written = False

    def body(self) -> ComposeResult:
        with VerticalScroll():
            yield Field(PATH_SPEC, self.target, hint="Relative paths are from the current folder")
            yield Static("", id="write-mode", markup=False)
            yield Button("Write file (ctrl+s)", id="write-button", variant="primary", compact=True)
            yield Static("", id="write-result", markup=False)

    def mark(self, report: Report, visited: bool) -> str:
        """Done once written in this session, until the next edit."""
        return "done" if self.draft.disk_stamp and not self.draft.unsaved() and self.written else ""

    def entered(self) -> None:
        config = self.report.config if self.report else None
        mode = self.query_one("#write-mode", Static)
        if config is None:
            mode.update("Fix the problems on the earlier steps first.")
        elif has_inline_secret(config, self.report.references):
            mode.update("A secret is written inline, so the file will be readable by you only (mode 0600). "
                        "Use a ${VAR} reference on the OpenMetadata step to keep it out of the file.")
        else:
            mode.update("No secret is written inline.")

    @on(Field.Edited, "#field-writePath")
    def _path(self, event: Field.Edited) -> None:
        event.stop()
        self.target = event.value
        self.query_one("#field-writePath", Field).show("a path is needed" if not event.value.strip() else None)

    @on(Button.Pressed, "#write-button")
    def _pressed(self) -> None:
        self.action_write()

    def action_write(self, overwrite: bool = False) -> None:
        config = self.report.config if self.report else None
        if config is None or not self.target.strip():
            return
        target = Path(self.target.strip()).expanduser()
        self.query_one("#write-result", Static).update("Writing …")
        self._write(config, self.report.references, target, overwrite or self.draft.saves_in_place(target))

    @work(thread=True, exclusive=True, group="write", exit_on_error=False)
    def _write(self, config: Workflow, references: dict[Path_, str], target: Path, overwrite: bool) -> None:
        try:
            written = write_workflow(target, config, references=references, overwrite=overwrite)
        except UserError as exc:
            self.post_message(WriteResult(target, exists=target.exists() and not overwrite, error=str(exc)))
            return
        except OSError as exc:
            self.post_message(WriteResult(target, error=f"cannot write {target}: {exc.strerror or exc}"))
            return
        self.post_message(WriteResult(written, mode=os.stat(written).st_mode & 0o777))

    @on(WriteResult)
    def _written(self, message: WriteResult) -> None:
        result = self.query_one("#write-result", Static)
        if message.exists:
            result.update(f"{message.path} exists: waiting for your answer.")
            opened = self.draft.path is not None and message.path.resolve() == self.draft.path.resolve()
            why = "changed on disk since you opened it" if opened else "already exists"
            self.app.push_screen(ConfirmScreen(f"{message.path} {why}.\n\nReplace it with this workflow?"),
                                 self._confirmed)
            return
        if message.error:
            result.update(f"✗ {message.error}")
            result.set_class(True, "-fail")
            return
        self.draft.mark_saved(message.path)
        self.written = True
        self.post_message(StepState())
        self.app.sub_title = str(message.path)
        result.set_class(False, "-fail")
        result.update(f"✓ Wrote {message.path} (mode {message.mode:04o}). Next: run it, or `metadata ingest -c "
                      f"{message.path}`.")

    def _confirmed(self, yes: bool | None) -> None:
        if yes:
            self.action_write(overwrite=True)
        else:
            self.query_one("#write-result", Static).update("Not written: the file was kept as it is.")
