"""The workflow as a plain mapping, read and written by key path (`("sink", "type")`).

Apart from the form's fields and the `Draft`, because these know nothing of either: the draft keeps
the file's own mapping, not a model, so that keys the user did not touch (mistakes included) are
saved back as they were, and these few functions are how it is read and edited.
"""
from __future__ import annotations

import typing
from enum import Enum
from typing import Any

from pydantic import BaseModel, SecretStr

from workflow import Workflow

Path_ = tuple[Any, ...]
"""Where a value is in the workflow mapping: its keys from the top (list positions as ints)."""


def plain(value: Any) -> Any:
    """A model's value as the file holds it: a secret's text, an enum's value."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Enum):
        return value.value
    return value


def model_default(path: Path_) -> Any:
    """The engine model's default for a key the file leaves out (None when it has none)."""
    model: Any = Workflow
    for part in path:
        info = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if info is None:
            return None
        model = next((a for a in (info.annotation, *typing.get_args(info.annotation))
                      if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return None if info.is_required() else plain(info.get_default(call_default_factory=True))
    return None


def get_at(data: Any, path: Path_) -> Any:
    for part in path:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def put_at(data: dict[str, Any], path: Path_, value: Any) -> None:
    node = data
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[path[-1]] = value


def prune(data: Any) -> Any:
    """Drop keys set to None, so optional blocks vanish and required ones are reported as missing."""
    if isinstance(data, dict):
        return {k: prune(v) for k, v in data.items() if v is not None}
    return data
