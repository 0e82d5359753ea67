"""A labelled form control with the engine's verdict on it underneath.

Textual draws a red border on an invalid input but no text; a person needs to read *why*. Each
`Field` shows one line under its control: the engine's error, else a warning, else a quiet hint.
Whatever the control (input, text area, checkbox, radio set, select), a change is reported the same
way, as `Field.Edited(key, value)`, so the screen has one handler for every field.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.markup import escape
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, RadioButton, RadioSet, Select, Static, TextArea

from ..fields import Spec


class Field(Vertical):
    DEFAULT_CSS = """
    Field { height: auto; }
    Field > .field--label { color: $text; padding: 0 1; }
    Field > .field--message { height: auto; padding: 0 1; color: $text-muted; }
    Field > .field--message.-error { color: $text-error; }
    Field > .field--message.-warning { color: $text-warning; }
    Field > RadioSet { width: 100%; height: auto; layout: horizontal; }
    """

    @dataclass
    class Edited(Message):
        """The user changed a field's value (`reference` is set by secret fields only)."""

        field: "Field"
        key: str
        value: Any
        reference: bool | None = None

        @property
        def control(self) -> "Field":
            return self.field

    def __init__(self, spec: Spec, value: Any, *, hint: str = "") -> None:
        super().__init__(id=f"field-{spec.key}")
        self.spec = spec
        self.key = spec.key
        self.initial = value
        self.value = value
        self.hint = hint
        self.shown: tuple[str | None, str | None] | None = None

    def compose(self) -> ComposeResult:
        if self.spec.kind != "bool":
            yield self.make_label()
        yield self.make_control()
        yield self.make_message()

    def make_label(self) -> Label:
        """The label, then the YAML key dimmed, so the form and the file read alike."""
        key = escape(str(self.spec.path[-1])) if self.spec.path else ""
        return Label(f"{escape(self.spec.label)}  [dim]{key}[/]", classes="field--label")

    def make_message(self) -> Static:
        return Static(self.hint, classes="field--message", markup=False).set_styles(
            "" if self.hint else "display: none;")

    def make_control(self) -> Widget:
        spec, value, control_id = self.spec, self.initial, f"input-{self.spec.key}"
        if spec.kind == "bool":
            return Checkbox(spec.label, value=bool(value), id=control_id, compact=True)
        if spec.kind == "lines":
            area = TextArea("\n".join(value), id=control_id, soft_wrap=False, show_line_numbers=False,
                            tab_behavior="focus", placeholder=spec.placeholder)
            return area
        if spec.kind == "choice" and len(spec.choices) <= 3:
            return RadioSet(*(RadioButton(c, value=c == value, id=f"choice-{spec.key}-{c}", compact=True)
                              for c in spec.choices),
                            id=control_id)
        if spec.kind == "choice":
            return Select([(c, c) for c in spec.choices], value=value, allow_blank=False, id=control_id, compact=True)
        return Input(str(value), placeholder=spec.placeholder, id=control_id, compact=True)

    @property
    def control(self) -> Widget:
        return self.query_one(f"#input-{self.key}")

    def show(self, error: str | None = None, warning: str | None = None) -> None:
        """Put the engine's verdict under the control; the hint returns when there is nothing to say."""
        if (error, warning) == self.shown:
            return  # an update re-lays out the screen: skip it when nothing changed (every keystroke)
        self.shown = (error, warning)
        message = self.query_one(".field--message", Static)
        message.set_class(bool(error), "-error")
        message.set_class(bool(warning) and not error, "-warning")
        text = error or warning or self.hint
        message.update(text)
        message.display = bool(text)
        self.control.set_class(bool(error), "-invalid")

    def show_value(self, text: str) -> None:
        """Put a text in the input without it counting as an edit (a field that mirrors another)."""
        self.value = text
        control = self.control
        if isinstance(control, Input) and control.value != text:
            control.value = text

    def _edited(self, value: Any, reference: bool | None = None) -> None:
        """Report a change; controls also announce their first value on mount, which is not an edit."""
        if value == self.value and reference is None:
            return
        self.value = value
        self.post_message(self.Edited(self, self.key, value, reference))

    @on(Input.Changed)
    def _input(self, event: Input.Changed) -> None:
        event.stop()
        self._edited(event.value)

    @on(TextArea.Changed)
    def _lines(self, event: TextArea.Changed) -> None:
        event.stop()
        self._edited([line.strip() for line in event.text_area.text.splitlines() if line.strip()])

    @on(Checkbox.Changed)
    def _checkbox(self, event: Checkbox.Changed) -> None:
        event.stop()
        self._edited(event.value)

    @on(RadioSet.Changed)
    def _radio(self, event: RadioSet.Changed) -> None:
        event.stop()
        self._edited(str(event.pressed.label))

    @on(Select.Changed)
    def _select(self, event: Select.Changed) -> None:
        event.stop()
        self._edited(event.value)
