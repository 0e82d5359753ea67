"""`metadata tui`: the Textual app, and its command line.

With `-c FILE` it edits that workflow (or creates it, if the file does not exist yet); with no
argument it opens the demo: a local MLflow server with sample models, started in a worker so the
first frame does not wait, and stopped when the app closes.
"""
from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.screen import Screen

from workflow import UserError

from .draft import Draft
from .messages import DemoStatus
from .screens.wizard import WizardScreen
from .services import Services
from .steps import STEPS

if TYPE_CHECKING:
    from workflow import Demo

NEW_FILE = Path("mlflow_workflow.yaml")


class WorkflowApp(App[int]):
    """The wizard over one draft; `services` are the engine calls its workers make."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "MLflow → OpenMetadata"
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, draft: Draft, *, target: Path | None = None, services: Services | None = None,
                 demo: "Demo | None" = None) -> None:
        super().__init__()
        self.draft = draft
        self.services = services or Services()
        self.target = target or draft.path or NEW_FILE
        self.demo = demo
        self.animation_level = "none"
        self.sub_title = "demo" if demo else str(draft.path) if draft.path else "new workflow"

    def get_default_screen(self) -> Screen:
        return WizardScreen(self.draft, self.services, target=self.target, banner=self._demo_text("starting …"))

    def on_mount(self) -> None:
        if self.demo is not None:
            self._start_demo(self.demo, self.screen)

    def on_unmount(self) -> None:
        if self.demo is not None:
            self.demo.stop()

    # -------------------------------------------------------------------------------------- demo

    def _demo_text(self, status: str) -> str:
        if self.demo is None:
            return ""
        return (f"DEMO · {status}\n"
                f"Files go to {self.demo.folder}; closing the app stops the demo's server.")

    @work(thread=True, exclusive=True, group="demo", exit_on_error=False)
    def _start_demo(self, demo: "Demo", screen: Screen) -> None:
        try:
            demo.start(on_status=lambda text: screen.post_message(DemoStatus(self._demo_text(text))))
        except UserError as exc:
            screen.post_message(DemoStatus(self._demo_text(f"the demo could not start: {exc}"), failed=True))
            return
        screen.post_message(DemoStatus(self._demo_text(f"sample models at {demo.url}"), ready=True))

    # --------------------------------------------------------------------------- command palette

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every key of the footer, plus a jump to each step, so nothing needs remembering."""
        yield from super().get_system_commands(screen)
        if not isinstance(screen, WizardScreen):
            return
        seen = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.show or not active.enabled or binding.action in seen:
                continue
            seen.add(binding.action)
            yield SystemCommand(f"{binding.description} ({binding.key})", binding.tooltip or binding.description,
                                partial(self.run_action, binding.action, active.node))
        for index, cls in enumerate(STEPS[: screen.reachable() + 1]):
            yield SystemCommand(f"Go to step {cls.TITLE}", f"Open the {cls.TITLE.split()[-1]} step",
                                partial(screen.go, index))


def main(argv: list[str], prog: str = "metadata tui") -> int:
    parser = argparse.ArgumentParser(
        prog=prog, description="Author, test, write and run an MLflow to OpenMetadata workflow in the terminal.",
        epilog="With no option it opens a demo on a local MLflow server with sample models.",
    )
    parser.add_argument("-c", "--config", metavar="FILE", type=Path,
                        help="the workflow file to edit (created when you write it, if it does not exist)")
    parser.add_argument("--new", action="store_true", help="start a new workflow instead of the demo")
    args = parser.parse_args(argv)
    demo = None
    try:
        if args.config and args.config.exists():
            draft = Draft.open(args.config)
        elif args.config or args.new:
            draft = Draft.new()
        else:
            from workflow import prepare_demo

            demo = prepare_demo()
            draft = Draft(demo.config())
    except UserError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    target = args.config or (demo.workflow_path if demo else NEW_FILE)
    app = WorkflowApp(draft, target=target, demo=demo)
    try:
        app.run()
    finally:
        if demo is not None:
            demo.stop()
    return app.return_code or 0
