"""Read a workflow file into a `Workflow`, or a `ConfigError` that names the line and the fix.

Steps: read the text (at most `MAX_FILE_BYTES`, UTF-8), parse YAML while remembering where each key
sits (yaml_positions; JSON is read too, as the official CLI reads `.json` files), expand `$VAR` /
`${VAR}` in string values (variables; an unset variable is an error, unlike the official CLI which
keeps the literal text), then validate with the config models and translate pydantic's errors into
`Problem`s, each with its fix (explain).
"""
from __future__ import annotations

import os
import stat
import typing
from typing import Any
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from ..errors import ConfigError, Problem
from .workflow_file import Workflow
from .explain import explain
from .paths import Path_
from .variables import expand_variables
from .yaml_positions import parse_yaml, place


MAX_FILE_BYTES = 1024 * 1024
"""A workflow file is a few KB, even with inline certificates, a service-account key and long filter
lists; 1 MB is hundreds of times that. Anything bigger is another file named by mistake (a model, a
log, a dump), and PyYAML, pure Python here, would spend seconds on it before saying so. Reading stops
at the limit, so `-c /dev/zero` or a huge file cannot exhaust memory either."""


@dataclass
class LoadedWorkflow:
    """A validated workflow plus what the writer needs to save it back faithfully."""

    config: Workflow
    path: Path | None = None
    references: dict[Path_, str] = field(default_factory=dict)
    """Dotted paths whose value came from a `$VAR` reference, with the raw text, so a save keeps it."""


def load_workflow(path: str | os.PathLike[str], environ: typing.Mapping[str, str] | None = None) -> LoadedWorkflow:
    """Load and validate a workflow file; raise `ConfigError` for anything the user must fix."""
    file = Path(path)
    loaded = parse_workflow(_read_text(file), str(file), environ)
    loaded.path = file
    return loaded


def load_workflow_data(path: str | os.PathLike[str],
                       environ: typing.Mapping[str, str] | None = None) -> tuple[dict[str, Any], dict[Path_, str]]:
    """A workflow file's mapping with its `$VAR`s expanded, and the references, NOT validated.

    What an editor opens: a file with a wrong or missing value is exactly the one a person needs to
    open to fix. Raises `ConfigError` only when there is no mapping to edit (unreadable, not YAML);
    pass `KeepUnsetReferences()` as `environ` so that unset variables stay as written.
    """
    file = Path(path)
    data, _, _ = parse_yaml(_read_text(file), str(file))
    data, references, _ = expand_variables(data, os.environ if environ is None else environ)
    return data, references


def _read_text(file: Path) -> str:
    """The file as text, or a `ConfigError` saying why it cannot be: missing, a folder, too big, not UTF-8."""
    try:
        if stat.S_ISFIFO(file.stat().st_mode) or stat.S_ISSOCK(file.stat().st_mode):  # opening one would wait
            raise ConfigError(f"{file}: is a named pipe or socket, not a workflow file",
                              hint="pass the YAML file itself (write generated text to a file first)")
        with file.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(
            f"{file}: no such file",
            hint="check the path, or create a workflow with `metadata tui`",
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{file}: is a directory, not a workflow file", hint="pass the YAML file itself") from None
    except PermissionError:
        raise ConfigError(f"{file}: cannot be read: permission denied",
                          hint=f"check the file's owner and mode (ls -l {file})") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{file}: {_size_of(file)}, too big for a workflow file (the limit is 1 MB)",
                          hint="check that -c names the workflow YAML: a workflow is a few KB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _not_utf8(data, exc, str(file)) from None


def _size_of(file: Path) -> str:
    try:
        size = file.stat().st_size
    except OSError:
        size = 0
    return f"it is {size / 1_000_000:.1f} MB" if size > MAX_FILE_BYTES else "it holds more than 1 MB"


def _not_utf8(data: bytes, exc: UnicodeDecodeError, filename: str) -> ConfigError:
    """A decoding failure as the line, column and byte offset of the first byte that is not UTF-8."""
    offset = exc.start
    line_start = data.rfind(b"\n", 0, offset) + 1
    line = data.count(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        hint = "the file is UTF-16: save it as UTF-8"
    else:
        hint = ("save the file as UTF-8 (for example with iconv -f latin1 -t utf-8), or check that -c names "
                "the workflow YAML")
    problem = Problem("", f"not UTF-8 text: byte 0x{data[offset]:02x} at byte offset {offset} cannot be decoded",
                      hint, line, column)
    return ConfigError("", problems=[problem], filename=filename)


def parse_workflow(text: str, filename: str | None = None, environ: typing.Mapping[str, str] | None = None) -> LoadedWorkflow:
    """Validate workflow YAML given as text (the TUI's review step uses this too)."""
    if len(text) > MAX_FILE_BYTES:
        raise ConfigError(f"{filename or 'workflow'}: more than 1 MB, too big for a workflow file",
                          hint="a workflow is a few KB: check that this is the workflow YAML")
    try:
        return _parse_and_validate(text, filename, environ)
    except RecursionError:
        raise ConfigError(f"{filename or 'workflow'}: nested too deeply to be a workflow file",
                          hint="start from the sample in the README") from None


def _parse_and_validate(text: str, filename: str | None, environ: typing.Mapping[str, str] | None) -> LoadedWorkflow:
    data, marks, duplicates = parse_yaml(text, filename)
    data, references, problems = expand_variables(data, os.environ if environ is None else environ)
    problems = duplicates + problems
    if problems:
        raise ConfigError("", problems=[place(p, marks) for p in problems], filename=filename)
    try:
        config = Workflow.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("", problems=[place(p, marks) for p in explain(exc, data)], filename=filename) from None
    return LoadedWorkflow(config=config, references=references)
