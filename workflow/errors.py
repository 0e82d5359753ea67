"""Errors a user can cause, as values with a message and a remediation.

The engine raises these at the edge (loading a file, reaching a server); the faces (CLI, TUI) render
them. Anything else that escapes is a programming error and stays a plain exception.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config: where it is, what is wrong, how to fix it."""

    path: str
    message: str
    hint: str = ""
    line: int | None = None
    column: int | None = None

    def render(self, filename: str | None = None) -> str:
        where = filename or ""
        if self.line is not None:
            where = f"{where}:{self.line}:{self.column or 1}" if where else f"line {self.line}"
        head = f"{where}: " if where else ""
        at = f"{self.path}: " if self.path else ""
        text = f"{head}{at}{self.message}"
        return f"{text}\n    hint: {self.hint}" if self.hint else text


class InvalidValue(ValueError):
    """A field validator's refusal that knows its fix; pydantic keeps it in the error's `ctx["error"]`
    and the loader shows `hint` next to the message (as the TUI does under the field)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


@dataclass
class UserError(Exception):
    """A mistake the user can fix; rendered without a traceback, exit code 2 by default."""

    message: str
    hint: str = ""
    exit_code: int = 2

    def __str__(self) -> str:
        return f"{self.message}\n    hint: {self.hint}" if self.hint else self.message


@dataclass
class ConfigError(UserError):
    """A workflow file that cannot be used, with every problem found in it."""

    problems: list[Problem] = field(default_factory=list)
    filename: str | None = None

    def __str__(self) -> str:
        lines = [p.render(self.filename) for p in self.problems]
        if self.message:
            lines.insert(0, f"{self.message}\n    hint: {self.hint}" if self.hint else self.message)
        return "\n".join(lines)


@dataclass
class EndpointError(UserError):
    """An endpoint (MLflow or OpenMetadata) that cannot be used; exit code 1 like a failed check."""

    exit_code: int = 1


_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""Characters a terminal acts on instead of showing (escape sequences, bell, backspace, carriage return,
C1 controls) or that reorder what it shows (bidirectional overrides); line feeds are kept."""


def shown(text: str) -> str:
    """Text that came from a server (a model name, an error message), made safe to show on a terminal
    or in a log: each control character is written as its escape (`\\x1b`), so a name like
    `zz-\\x1b]0;PWNED\\x07` cannot retitle, clear or recolour the user's screen. The one function every
    face uses for such text."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


def short_reason(exc: BaseException) -> str:
    """The first line of an exception, without the long retry chains MLflow and urllib3 attach."""
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
