"""YAML (or JSON) into data, remembering the line and column of each key so a problem can point at
it; keys written twice are problems, and YAML's own errors are worded with the line and the fix."""
from __future__ import annotations

import json
import re
from typing import Any

import yaml

from ..errors import ConfigError, Problem
from .paths import Path_, dotted
from .safe_yaml import TooManyValues, check_size

Marks = dict[Path_, tuple[int, int]]


def parse_yaml(text: str, filename: str | None) -> tuple[dict[str, Any], Marks, list[Problem]]:
    """The document as data, the line and column of each key, and the keys written twice."""
    where = filename or "workflow"
    parsed = _parse_json(text) if _looks_like_json(text) else None
    if parsed is not None:
        data, (node, _) = parsed[0], _compose(text.replace("\t", " "), filename, quiet=True)
    else:
        node, data = _compose(text, filename)
    if data is None:
        if node is None:
            raise ConfigError(f"{where}: the file is empty",
                              hint="start from the sample in the README, or run `metadata tui`")
        raise ConfigError(f"{where}: the file holds only null, not a workflow",
                          hint="start from the sample in the README, or run `metadata tui`")
    if not isinstance(data, dict):
        found = {list: "a list", str: "a single text value", bool: "a single true/false value"}.get(
            type(data), "a single number" if isinstance(data, (int, float)) else f"a single {type(data).__name__}")
        raise ConfigError(
            f"{where}: expected a mapping with source, sink and workflowConfig at the top, found {found}",
            hint="start from the sample in the README",
        )
    marks: Marks = {}
    duplicates: list[Problem] = []
    if node is not None:
        _collect_marks(node, (), marks, duplicates=duplicates)
    return data, marks, duplicates


def _looks_like_json(text: str) -> bool:
    """A JSON document (an object whose first key is quoted, or an array), not YAML flow style."""
    return re.match(r'\s*(\{\s*("|\})|\[)', text) is not None


def _parse_json(text: str) -> tuple[Any] | None:
    """The document parsed as JSON, as the official CLI reads a `.json` file; None if it is not JSON.

    JSON is YAML too, except that JSON allows tabs as indentation, which YAML refuses.
    """
    try:
        return (json.loads(text),)
    except ValueError:
        return None


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a value its constructors refuse (`2024-13-01`, a 13th month;
    `!!float "abc"`) is a YAML error at the value's line, not a bare ValueError."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(None, None, f"invalid value: {exc}", node.start_mark) from None


def _compose(text: str, filename: str | None, quiet: bool = False) -> tuple[yaml.Node | None, Any]:
    """Parse once: the node tree (for the lines of keys) and the data built from it."""
    loader = None
    try:
        loader = _Loader(text)  # checks every character is printable: may raise already
        node = loader.get_single_node()
        check_size(node)
        return node, (loader.construct_document(node) if node is not None else None)
    except TooManyValues as exc:
        raise ConfigError(f"{filename or 'workflow'}: not a workflow file: {exc}",
                          hint="a workflow holds a few dozen values: remove the aliases, or check that -c names "
                               "the workflow YAML") from None
    except yaml.YAMLError as exc:
        if quiet:
            return None, None
        raise _yaml_error(exc, text, filename) from None
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_error(exc: yaml.YAMLError, text: str, filename: str | None) -> ConfigError:
    json_like = _looks_like_json(text)
    if json_like:
        try:
            json.loads(text)
        except json.JSONDecodeError as error:  # the JSON parser says what is wrong with JSON best
            problem = Problem("", f"JSON syntax error: {error.msg}",
                              "check for a missing or extra comma, quote or bracket here or just before", error.lineno,
                              error.colno)
            return ConfigError("", problems=[problem], filename=filename)
        except ValueError:
            pass
    if isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        character = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        problem = Problem("", f"the character {character} is not allowed in YAML",
                          "remove it (a workflow file is plain text), or check that -c names the workflow YAML",
                          before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1)
        return ConfigError("", problems=[problem], filename=filename)
    if not isinstance(exc, yaml.MarkedYAMLError):
        return ConfigError(f"{filename or 'workflow'}: not valid YAML: {exc}")
    mark = exc.problem_mark or exc.context_mark
    message = f"YAML syntax error: {exc.problem or exc.context}"
    if exc.context and exc.context_mark and exc.problem_mark:
        message += f" ({exc.context} started at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1})"
    hint = "check the indentation and quoting on this line and the one before it"
    if "expected a single document" in message:
        hint = "a workflow file holds one document: remove the second `---` and what follows, or merge them"
    elif "'\\t'" in message or "\\t" in (exc.problem or ""):
        hint = "YAML does not allow tabs for indentation: indent with spaces"
    elif (exc.problem or "").startswith("invalid value"):
        hint = "YAML read this as a date or number: put the value in quotes to keep it as text"
    problem = Problem("", message, hint, mark.line + 1 if mark else None, mark.column + 1 if mark else None)
    return ConfigError("", problems=[problem], filename=filename)


def _collect_marks(node: yaml.Node, path: Path_, marks: Marks, visited: set[int] | None = None,
                   duplicates: list[Problem] | None = None) -> None:
    """Remember the line and column of every key and list item, to point errors at them, and note
    the keys written twice in one mapping (YAML would silently keep only the last one).

    An aliased node is visited once: a file of nested aliases must not make this exponential.
    """
    visited = set() if visited is None else visited
    if id(node) in visited:
        return
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # a list or mapping as a key: the constructor has refused it already
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen and key != "<<" and duplicates is not None:
                duplicates.append(Problem(
                    dotted(path + (key,)),
                    f"{key!r} is written twice in this mapping (first at line {seen[key]}); only the last would count",
                    "keep one of them", line, key_node.start_mark.column + 1))
            seen.setdefault(key, line)
            marks.setdefault(path + (key,), (line, key_node.start_mark.column + 1))
            if key.isdigit():  # `place` reads a dotted path's digits as a list index
                marks.setdefault(path + (int(key),), (line, key_node.start_mark.column + 1))
            _collect_marks(value_node, path + (key,), marks, visited, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            marks[path + (index,)] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _collect_marks(item, path + (index,), marks, visited, duplicates)


def place(problem: Problem, marks: Marks) -> Problem:
    """Attach the line of the deepest key of the problem's path that exists in the file."""
    if problem.line is not None:
        return problem
    parts = tuple(int(p) if p.isdigit() else p for p in problem.path.split(".")) if problem.path else ()
    while parts and parts not in marks:
        parts = parts[:-1]
    if not parts:
        return problem
    line, column = marks[parts]
    return Problem(problem.path, problem.message, problem.hint, line, column)
