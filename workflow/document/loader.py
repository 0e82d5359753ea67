"""Read a workflow file into a `Workflow`, or a `ConfigError` that names the line and the fix.

Steps: read the text (at most `MAX_FILE_BYTES`, UTF-8), parse YAML while remembering where each key
sits (JSON is read too, as the official CLI reads `.json` files), expand `$VAR` / `${VAR}` in string
values (an unset variable is an error, unlike the official CLI which keeps the literal text), then
validate with the config models and translate pydantic's errors into `Problem`s, each with its fix.
"""
from __future__ import annotations

import datetime
import difflib
import json
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from .config import SECURITY_CONFIGS, Workflow, security_tag
from ..errors import ConfigError, InvalidValue, Problem

Path_ = tuple[Any, ...]

_VAR = re.compile(r"\$\$|\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")

EXAMPLES = {
    "serviceName": "local_mlflow",
    "trackingUri": "http://localhost:5000",
    "registryUri": "http://localhost:5000",
    "hostPort": "http://localhost:8585/api",
    "sink": "{type: metadata-rest, config: {}}",
    "type": None,
    "filename": "./mlmodels.jsonl",
    "jwtToken": "${OM_JWT_TOKEN}",
    "openMetadataServerConfig": "{hostPort: http://localhost:8585/api, authProvider: no-auth}",
}


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


def _read_text(file: Path) -> str:
    """The file as text, or a `ConfigError` saying why it cannot be: missing, a folder, too big, not UTF-8."""
    try:
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
    data, marks, duplicates = _parse_yaml(text, filename)
    data, references, problems = expand_variables(data, os.environ if environ is None else environ)
    problems = duplicates + problems
    if problems:
        raise ConfigError("", problems=[_place(p, marks) for p in problems], filename=filename)
    try:
        config = Workflow.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("", problems=[_place(p, marks) for p in explain(exc, data)], filename=filename) from None
    return LoadedWorkflow(config=config, references=references)


# ----------------------------------------------------------------------------------------------- YAML


Marks = dict[Path_, tuple[int, int]]


def _parse_yaml(text: str, filename: str | None) -> tuple[dict[str, Any], Marks, list[Problem]]:
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
        return node, (loader.construct_document(node) if node is not None else None)
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
                    _dotted(path + (key,)),
                    f"{key!r} is written twice in this mapping (first at line {seen[key]}); only the last would count",
                    "keep one of them", line, key_node.start_mark.column + 1))
            seen.setdefault(key, line)
            marks.setdefault(path + (key,), (line, key_node.start_mark.column + 1))
            if key.isdigit():  # `_place` reads a dotted path's digits as a list index
                marks.setdefault(path + (int(key),), (line, key_node.start_mark.column + 1))
            _collect_marks(value_node, path + (key,), marks, visited, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            marks[path + (index,)] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _collect_marks(item, path + (index,), marks, visited, duplicates)


def _place(problem: Problem, marks: Marks) -> Problem:
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


# ------------------------------------------------------------------------------------ env variables


def expand_variables(
    data: Any, environ: typing.Mapping[str, str], path: Path_ = ()
) -> tuple[Any, dict[Path_, str], list[Problem]]:
    """Expand `$VAR` and `${VAR}` in string values; `$$` is a literal dollar sign."""
    references: dict[Path_, str] = {}
    problems: list[Problem] = []
    done: dict[int, Any] = {}  # a YAML alias is one object met many times: expand it once

    def walk(value: Any, here: Path_) -> Any:
        if isinstance(value, (dict, list)) and id(value) in done:
            return done[id(value)]
        if isinstance(value, dict):
            done[id(value)] = {k: walk(v, here + (k,)) for k, v in value.items()}
            return done[id(value)]
        if isinstance(value, list):
            done[id(value)] = [walk(v, here + (i,)) for i, v in enumerate(value)]
            return done[id(value)]
        if isinstance(value, str) and "$" in value:
            expanded, missing = expand_string(value, environ)
            for name in missing:
                problems.append(
                    Problem(
                        path=_dotted(here),
                        message=f"environment variable {name} is not set",
                        hint=f"export {name}=... before running, or write $$ for a literal dollar sign",
                    )
                )
            if any(m.group(0) != "$$" for m in _VAR.finditer(value)):
                references[here] = value
            return expanded
        return value

    return walk(data, path), references, problems


def expand_string(value: str, environ: typing.Mapping[str, str]) -> tuple[str, list[str]]:
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) if match.group(1) is not None else match.group(2)
        if name in environ:
            return environ[name]
        missing.append(name)
        return match.group(0)

    return _VAR.sub(substitute, value), missing


# ---------------------------------------------------------------------------------- pydantic errors


def explain(exc: ValidationError, data: dict[str, Any]) -> list[Problem]:
    """Turn pydantic errors into one `Problem` each, with did-you-mean for unknown keys.

    A misspelt key produces two pydantic errors (the unknown key, and the real one missing); they
    are merged into one problem that names both.
    """
    errors = exc.errors()
    extras = {tuple(_clean_loc(e["loc"])): e for e in errors if e["type"] == "extra_forbidden"}
    suggested: set[Path_] = set()
    problems: list[Problem] = []
    for error in errors:
        loc = _clean_loc(error["loc"])
        if error["type"] == "extra_forbidden":
            key = loc[-1]
            allowed = _allowed_keys(error["loc"])
            guess = did_you_mean(str(key), allowed)
            if guess:
                suggested.add(loc[:-1] + (guess,))
            hint = f"did you mean {guess!r}?" if guess else (
                f"allowed keys here: {', '.join(sorted(allowed))}" if allowed else "remove it"
            )
            problems.append(Problem(_dotted(loc), f"unknown key {str(key)!r}", hint))
        elif error["type"] == "missing":
            if loc in suggested or any(loc[:-1] == k[:-1] and did_you_mean(str(k[-1]), [str(loc[-1])]) for k in extras):
                continue
            example = EXAMPLES.get(str(loc[-1])) if loc else None
            hint = f"add `{loc[-1]}: {example}`" if example else f"add `{loc[-1]}`"
            problems.append(Problem(_dotted(loc), "required key is missing", hint))
        elif error["type"] == "union_tag_not_found" and loc == ("sink",):
            problems.append(Problem("sink.type", "required key is missing", SINK_TYPES_HINT))
        elif error["type"] == "union_tag_invalid" and loc == ("sink",):
            tag = error.get("ctx", {}).get("tag", "")
            guess = did_you_mean(str(tag), SINK_TYPES)
            problems.append(Problem("sink.type", f"{tag!r} is not a sink type: the sink types are "
                                    f"{' and '.join(SINK_TYPES)}",
                                    f"did you mean {guess!r}?" if guess else SINK_TYPES_HINT))
        else:
            problems.append(Problem(_dotted(loc), _message(error), _hint(error, loc)))
    return problems


SINK_TYPES = ("metadata-rest", "file")
SINK_TYPES_HINT = "use `type: metadata-rest` to send to OpenMetadata, or `type: file` with config.filename"

_SHOWN_INPUT = ("int_parsing", "int_type", "int_from_float", "float_parsing", "float_type", "bool_parsing",
                "bool_type", "greater_than_equal", "less_than_equal", "greater_than", "less_than")
"""Error types whose input is shown in the message: numbers and flags, never a secret."""


def _message(error: dict[str, Any]) -> str:
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    given = error.get("input")
    if error["type"] in ("union_tag_invalid", "literal_error", "enum"):
        if not isinstance(given, (dict, list)):
            message = f"{given!r} is not allowed: {message[0].lower()}{message[1:]}"
    elif error["type"] in _SHOWN_INPUT and not isinstance(given, (dict, list)):
        message = f"{message} (found {given!r})"
    return message


def _hint(error: dict[str, Any], loc: Path_) -> str:
    given = error.get("input")
    kind = error["type"]
    ctx = error.get("ctx") or {}
    field_name = str(loc[-1]) if loc else ""
    if isinstance(ctx.get("error"), InvalidValue):
        return ctx["error"].hint
    if kind == "union_tag_invalid" and isinstance(given, dict):
        tag = str(given.get("type", ""))
        guess = did_you_mean(tag, ctx.get("expected_tags", "").replace("'", "").split(", "))
        if guess:
            return f"did you mean {guess!r}?"
    if loc and loc[-1] == "authProvider":
        return "no-auth, openmetadata (bot JWT), auth0, azure, custom-oidc, google or okta"
    if kind in ("literal_error", "enum"):
        expected = [e.strip(" '") for e in re.split(r",| or ", str(ctx.get("expected", ""))) if e.strip(" '")]
        guess = did_you_mean(str(given), expected) if not isinstance(given, (dict, list)) else None
        if guess:
            return f"did you mean {guess!r}?"
        if len(expected) == 1:
            return f"write `{field_name}: {expected[0]}`" + (
                " (this tool runs MLflow metadata workflows)" if loc in (("source", "type"),) else "")
        return ""
    if field_name == "successThreshold" and kind in _SHOWN_INPUT:
        return "the percentage of models that must succeed: a whole number from 0 to 100, for example 90"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "write a whole number, without quotes"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bounds = {"greater_than_equal": "at least", "greater_than": "more than",
                  "less_than_equal": "at most", "less_than": "less than"}
        limit = next((v for k, v in ctx.items() if k in ("ge", "gt", "le", "lt")), "")
        return f"write a number {bounds[kind]} {limit}"
    if kind in ("bool_parsing", "bool_type"):
        return f"write `{field_name}: true` or `{field_name}: false`, without quotes"
    if kind == "string_type" and isinstance(given, (int, float, bool, datetime.date)):
        shown = "..." if _is_secret(error["loc"]) else given
        return f'YAML read this as {_read_as(given)}: put it in quotes, for example {field_name}: "{shown}"'
    if kind == "list_type" and isinstance(given, (str, int, float)):
        return f'write a list, for example {field_name}: ["{given}"]'
    if kind == "invalid_key":
        return f"YAML read this key as {_read_as(given)}: keys are names like serviceName; remove it"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"`{field_name}` holds keys: write them indented on the lines under `{field_name}:`"
    return ""


def _is_secret(loc: tuple[Any, ...]) -> bool:
    """Whether a (raw, tagged) pydantic location is a secret field, whose value is never echoed."""
    model: Any = Workflow
    for part in loc[:-1]:
        model = _step(model, part)
        if model is None:
            return False
    info = model.model_fields.get(loc[-1]) if _is_model(model) and loc else None
    return info is not None and _unwrap(info.annotation) is SecretStr


def _read_as(value: Any) -> str:
    """What YAML made of an unquoted scalar, in the user's words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, datetime.date):
        return "a date"
    return f"a {type(value).__name__}"


def _clean_loc(loc: tuple[Any, ...]) -> Path_:
    """Drop the union tags pydantic inserts (`sink.file.config` -> `sink.config`)."""
    cleaned: list[Any] = []
    for i, part in enumerate(loc):
        previous = loc[i - 1] if i else None
        if previous == "securityConfig" and part in SECURITY_CONFIGS:
            continue
        if previous == "sink" and part in ("metadata-rest", "file"):
            continue
        cleaned.append(part)
    return tuple(cleaned)


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model that owns the last key of a (raw, tagged) pydantic location."""
    model: Any = Workflow
    for part in loc[:-1]:
        model = _step(model, part)
        if model is None:
            return []
    return list(model.model_fields) if _is_model(model) else []


def _step(model: Any, part: Any) -> Any:
    if _is_model(model):
        info = model.model_fields.get(part)
        return _unwrap(info.annotation) if info else None
    if isinstance(model, list):  # a union: the location names the member by its tag
        for member in model:
            type_field = member.model_fields.get("type") if _is_model(member) else None
            tags = typing.get_args(type_field.annotation) if type_field else ()
            if part in tags or part == security_tag(member):
                return member
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip Optional / Annotated / list[...] down to a model class, or a list of union members."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        members = [_unwrap(a) for a in typing.get_args(annotation) if a is not type(None)]
        return members[0] if len(members) == 1 else members
    if origin is list:
        return _unwrap(typing.get_args(annotation)[0])
    return annotation


def _is_model(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, BaseModel)


def did_you_mean(key: str, allowed: typing.Iterable[str]) -> str | None:
    """The allowed key closest to a misspelt one (stray quotes and case ignored), if any is close."""
    allowed = list(allowed)
    bare = key.strip("\"' :")
    for candidate in allowed:
        if candidate.lower() == bare.lower():
            return candidate
    matches = difflib.get_close_matches(bare, allowed, n=1, cutoff=0.7)
    return matches[0] if matches else None


def _dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path)
