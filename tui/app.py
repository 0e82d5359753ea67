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
from textual.binding import Binding
from textual.screen import Screen

from workflow import UserError

from .draft import Draft
from .keymap import binding_ids, keymap_path, load_keymap
from .messages import DemoStatus
from .screens.confirm import ConfirmScreen
from .screens.help import HelpScreen
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
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", tooltip="Quit (asks first when edits are not written)", show=False,
                priority=True, id="quit"),
        Binding("question_mark,f1", "help", "Help", tooltip="What each step does, and every key", id="help"),
        Binding("ctrl+p", "command_palette", "palette", tooltip="Open the command palette", show=False,
                priority=True, id="command-palette"),
        Binding("escape", "hide_help_panel", "Close keys", tooltip="Close the keys panel", show=False,
                priority=True, id="close-keys"),
    ]

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
        self._apply_keymap()
        if self.demo is not None:
            self._start_demo(self.demo, self.screen)

    # -------------------------------------------------------------------------------------- keys

    def _apply_keymap(self) -> None:
        keymap, problems = load_keymap(binding_ids(self.binding_classes()))
        self.keymap = keymap
        if keymap:
            self.set_keymap(keymap)
        for problem in problems:
            self.notify(problem, title="Keys file", severity="warning", timeout=15)

    def binding_classes(self) -> list[type]:
        return [type(self), WizardScreen, *STEPS, ConfirmScreen, HelpScreen]

    def keys_of(self, binding: Binding) -> str:
        """The keys that trigger a binding now (the keys file may have moved it), for people to read."""
        keys = self.keymap.get(binding.id or "", binding.key) if hasattr(self, "keymap") else binding.key
        return ", ".join(k.replace("question_mark", "?") for k in keys.split(","))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "hide_help_panel":  # Esc closes the keys panel, and only then is it taken from the steps
            return bool(self.screen.query("HelpPanel"))
        return True

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        steps = [(cls.TITLE, cls.HELP) for cls in STEPS]
        seen, keys = set(), []
        for cls in self.binding_classes():
            for binding in cls.BINDINGS:
                if isinstance(binding, Binding) and (binding.id, binding.description) not in seen:
                    seen.add((binding.id, binding.description))
                    keys.append((self.keys_of(binding), binding.tooltip or binding.description, binding.id or ""))
        self.push_screen(HelpScreen(steps, keys, str(keymap_path())))

    # ------------------------------------------------------------------------------------- quit

    async def action_quit(self) -> None:
        """Quit, but ask first when the form holds edits that are not written to the file."""
        wizard = next((s for s in self.screen_stack if isinstance(s, WizardScreen)), None)
        if wizard is None or not wizard.draft.unsaved() or isinstance(self.screen, ConfirmScreen):
            self.exit(self.return_code or 0)
            return
        where = f"written to {wizard.draft.path}" if wizard.draft.path else "written to a file"
        self.push_screen(ConfirmScreen(f"Your edits are not {where}.\n\nQuit and lose them?", yes="Quit",
                                       no="Keep editing"),
                         lambda yes: self.exit(self.return_code or 0) if yes else None)

    def on_unmount(self) -> None:
        if self.demo is not None:
            self.demo.stop()

    async def replace_draft(self, draft: Draft, *, step: int) -> None:
        """Start the form again from another draft (the YAML came back from the editor)."""
        draft.saved = self.draft.saved
        self.draft = draft
        wizard = next(s for s in self.screen_stack if isinstance(s, WizardScreen))
        await wizard.load(draft, start=step)

    # -------------------------------------------------------------------------------------- demo

    def _demo_text(self, status: str) -> str:
        if self.demo is None:
            return ""
        return f"DEMO · {status} · quitting stops its server · files go to {self.demo.folder}"

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
            yield SystemCommand(f"{binding.description} ({self.keys_of(binding)})", binding.tooltip or binding.description,
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
