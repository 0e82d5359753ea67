"""A secret field: masked until asked, and optionally written as a `${VAR}` reference instead.

A secret typed into a form ends up in a file; a reference keeps it out (the file then holds
`${OM_JWT_TOKEN}` and the value comes from the environment when the workflow runs).
"""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input

from ..fields import Spec
from ..references import suggested_variable
from .field import Field


class SecretField(Field):
    DEFAULT_CSS = """
    SecretField > Horizontal { height: auto; }
    SecretField > Horizontal > Input { width: 1fr; }
    SecretField > Horizontal > Button { margin: 0 1; min-width: 6; }
    SecretField > Checkbox { margin: 0 1; }
    """

    def __init__(self, spec: Spec, value: str, *, reference: bool, hint: str = "") -> None:
        super().__init__(spec, value, hint=hint)
        self.reference = reference

    def compose(self) -> ComposeResult:
        yield self.make_label()
        with Horizontal():
            yield Input("" if self.reference else self.initial, password=True, id=f"input-{self.key}",
                        placeholder=self.spec.placeholder or "the secret (masked)", compact=True)
            yield Input(self.initial if self.reference else "", id=f"var-{self.key}",
                        placeholder=suggested_variable(self.key), compact=True)
            yield Button("Show", id=f"show-{self.key}", compact=True)
        yield Checkbox("Write it as a ${VAR} reference, not inline", value=self.reference,
                       id=f"ref-{self.key}", compact=True)
        yield self.make_message()

    def on_mount(self) -> None:
        self._show_mode()

    @property
    def control(self) -> Widget:
        return self.query_one(f"#var-{self.key}" if self.reference else f"#input-{self.key}")

    @property
    def secret_input(self) -> Input:
        return self.query_one(f"#input-{self.key}", Input)

    class Toggled(Message):
        """The secret was shown or masked again."""

    def show_secret(self, show: bool) -> None:
        """Show or mask the secret (the reference name is never masked: it is not a secret)."""
        self.secret_input.password = not show
        self.query_one(Button).label = "Hide" if show else "Show"
        self.post_message(self.Toggled())

    def _show_mode(self) -> None:
        self.query_one(f"#var-{self.key}").display = self.reference
        self.secret_input.display = not self.reference
        self.query_one(Button).display = not self.reference

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.show_secret(self.secret_input.password)

    @on(Checkbox.Changed)
    def _checkbox(self, event: Checkbox.Changed) -> None:
        event.stop()
        event.prevent_default()  # not Field's handler: this checkbox is the reference switch
        if event.value == self.reference:
            return
        self.reference = event.value
        self._show_mode()
        variable = self.query_one(f"#var-{self.key}", Input)
        if self.reference and not variable.value:
            variable.value = suggested_variable(self.key)
        self.value = variable.value if self.reference else self.secret_input.value
        self.post_message(self.Edited(self, self.key, self.value, self.reference))

    @on(Input.Changed)
    def _input(self, event: Input.Changed) -> None:
        event.stop()
        event.prevent_default()  # not Field's handler: it would lose the reference flag
        is_variable = event.input.id == f"var-{self.key}"
        if is_variable == self.reference and event.value != self.value:
            self.value = event.value
            self.post_message(self.Edited(self, self.key, event.value, self.reference))
