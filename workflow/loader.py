"""Read a workflow file into a `Workflow`, or a `ConfigError` that names the line and the fix.

Steps: read the text, parse YAML while remembering where each key sits, expand `$VAR` / `${VAR}` in
string values (an unset variable is an error, unlike the official CLI which keeps the literal text),
then validate with the config models and translate pydantic's errors into `Problem`s.
"""
from __future__ import annotations

import difflib
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .config import SECURITY_CONFIGS, Workflow
from .errors import ConfigError, Problem

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
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{file}: no such file",
            hint="check the path, or create a workflow with `metadata tui`",
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{file}: is a directory, not a workflow file", hint="pass the YAML file itself") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot be read: {exc}") from None
    loaded = parse_workflow(text, str(file), environ)
    loaded.path = file
    return loaded


def parse_workflow(text: str, filename: str | None = None, environ: typing.Mapping[str, str] | None = None) -> LoadedWorkflow:
    """Validate workflow YAML given as text (the TUI's review step uses this too)."""
    try:
        return _parse_and_validate(text, filename, environ)
    except RecursionError:
        raise ConfigError(f"{filename or 'workflow'}: nested too deeply to be a workflow file",
                          hint="start from the sample in the README") from None


def _parse_and_validate(text: str, filename: str | None, environ: typing.Mapping[str, str] | None) -> LoadedWorkflow:
    data, marks = _parse_yaml(text, filename)
    data, references, problems = expand_variables(data, os.environ if environ is None else environ)
    if problems:
        raise ConfigError("", problems=[_place(p, marks) for p in problems], filename=filename)
    try:
        config = Workflow.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("", problems=[_place(p, marks) for p in explain(exc, data)], filename=filename) from None
    return LoadedWorkflow(config=config, references=references)


# ----------------------------------------------------------------------------------------------- YAML


def _parse_yaml(text: str, filename: str | None) -> tuple[dict[str, Any], dict[Path_, tuple[int, int]]]:
    where = filename or "workflow"
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = f"YAML syntax error: {exc.problem or exc.context}"
        if exc.context and exc.context_mark and exc.problem_mark:
            message += f" ({exc.context} started at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1})"
        problem = Problem(
            path="",
            message=message,
            hint="check the indentation and quoting on this line and the one before it",
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        )
        raise ConfigError("", problems=[problem], filename=filename) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {exc}") from None
    if data is None:
        raise ConfigError(f"{where}: the file is empty", hint="start from the sample in the README, or run `metadata tui`")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{where}: expected a mapping with source, sink and workflowConfig at the top, found {type(data).__name__}",
            hint="start from the sample in the README",
        )
    marks: dict[Path_, tuple[int, int]] = {}
    _collect_marks(node, (), marks)
    return data, marks


def _collect_marks(node: yaml.Node, path: Path_, marks: dict[Path_, tuple[int, int]],
                   visited: set[int] | None = None) -> None:
    """Remember the line and column of every key and list item, to point errors at them.

    An aliased node is visited once: a file of nested aliases must not make this exponential.
    """
    visited = set() if visited is None else visited
    if id(node) in visited:
        return
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            marks[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _collect_marks(value_node, path + (key,), marks, visited)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            marks[path + (index,)] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _collect_marks(item, path + (index,), marks, visited)


def _place(problem: Problem, marks: dict[Path_, tuple[int, int]]) -> Problem:
    """Attach the line of the deepest key of the problem's path that exists in the file."""
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
        else:
            problems.append(Problem(_dotted(loc), _message(error), _hint(error, loc)))
    return problems


def _message(error: dict[str, Any]) -> str:
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if error["type"] in ("union_tag_invalid", "literal_error", "enum"):
        given = error.get("input")
        if not isinstance(given, (dict, list)):
            message = f"{given!r} is not allowed: {message[0].lower()}{message[1:]}"
    return message


def _hint(error: dict[str, Any], loc: Path_) -> str:
    given = error.get("input")
    if error["type"] == "union_tag_invalid" and isinstance(given, dict):
        tag = str(given.get("type", ""))
        guess = did_you_mean(tag, error.get("ctx", {}).get("expected_tags", "").replace("'", "").split(", "))
        if guess:
            return f"did you mean {guess!r}?"
    if loc and loc[-1] == "type" and loc[0] == "sink":
        return "use `metadata-rest` to send to OpenMetadata, or `file` with config.filename"
    if loc and loc[-1] == "authProvider":
        return "no-auth, openmetadata (bot JWT), auth0, azure, custom-oidc, google or okta"
    return ""


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
            if part in tags or part == _security_tag_of(member):
                return member
    return None


def _security_tag_of(member: Any) -> str | None:
    for tag, cls in SECURITY_CONFIGS.items():
        if cls is member:
            return tag
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
