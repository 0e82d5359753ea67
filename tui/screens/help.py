"""The app's own help (`?`): what each step does, and every key with the id to remap it by."""
from __future__ import annotations

from typing import Iterable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 96; max-width: 100%; height: 90%; padding: 0 1;
        border: round $primary; background: $surface;
    }
    HelpScreen Static { margin-bottom: 1; }
    """
    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close", tooltip="Close the help", id="close-help")]

    def __init__(self, steps: Iterable[tuple[str, str]], keys: Iterable[tuple[str, str, str]], keymap_file: str):
        super().__init__()
        self.steps = list(steps)
        self.keys = list(keys)
        self.keymap_file = keymap_file

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-scroll"):
            yield Static(Content.styled("The steps", "bold $text-primary"))
            for title, text in self.steps:
                yield Static(Content.assemble((title, "bold"), "\n", text))
            yield Static(Content.styled("Keys (esc closes this)", "bold $text-primary"))
            width = max(len(keys) for keys, _, _ in self.keys)
            lines = [Content.assemble((keys.ljust(width + 2), "bold $text-accent"), what, (f"  [{bid}]", "dim"))
                     for keys, what, bid in self.keys]
            yield Static(Content("\n").join(lines), id="help-keys")
            yield Static(f"Remap a key by its [id] in {self.keymap_file} (one `id: keys` per line, for example "
                         "`back: alt+left`); MLFLOW_OM_KEYS names another file. Tab and shift+tab move between "
                         "fields; ctrl+p opens the command palette, which lists every action.", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
