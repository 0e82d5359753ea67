"""Pydantic's validation errors turned into `Problem`s a user can act on: the key, what is wrong,
and the fix (did you mean, the allowed keys, an example value); secrets are never shown."""
from __future__ import annotations

import datetime
import difflib
import re
import typing
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from ..errors import InvalidValue, Problem
from .security_config import SECURITY_CONFIGS, security_tag
from .workflow_file import Workflow
from .paths import Path_, dotted

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
            problems.append(Problem(dotted(loc), f"unknown key {str(key)!r}", hint))
        elif error["type"] == "missing":
            if loc in suggested or any(loc[:-1] == k[:-1] and did_you_mean(str(k[-1]), [str(loc[-1])]) for k in extras):
                continue
            example = EXAMPLES.get(str(loc[-1])) if loc else None
            hint = f"add `{loc[-1]}: {example}`" if example else f"add `{loc[-1]}`"
            problems.append(Problem(dotted(loc), "required key is missing", hint))
        elif error["type"] == "union_tag_not_found" and loc == ("sink",):
            problems.append(Problem("sink.type", "required key is missing", SINK_TYPES_HINT))
        elif error["type"] == "union_tag_invalid" and loc == ("sink",):
            tag = error.get("ctx", {}).get("tag", "")
            guess = did_you_mean(str(tag), SINK_TYPES)
            problems.append(Problem("sink.type", f"{tag!r} is not a sink type: the sink types are "
                                    f"{' and '.join(SINK_TYPES)}",
                                    f"did you mean {guess!r}?" if guess else SINK_TYPES_HINT))
        else:
            problems.append(Problem(dotted(loc), _message(error), _hint(error, loc)))
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
