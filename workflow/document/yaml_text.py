"""A `Workflow` rendered as clean YAML text: the seed's key order, no nulls, no default noise.

Secrets are rendered one of three ways: inline (a file holding one is then written with mode 0600:
`has_inline_secret`), as the `${VAR}` reference they were loaded from or that the user chose, or
masked (for previews). Kept apart from writing files, because previews, the DAG file and saving all
render, and only saving writes a workflow file.
"""
from __future__ import annotations

from enum import Enum
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr

from .paths import Path_
from .redact import is_secret_header, redact_uri, secret_fields
from .workflow_file import Workflow


MASK = "**********"

# Keys written even when they hold their default: the seed shows them, and the official CLI needs them.
_ALWAYS = {
    ("source", "type"),
    ("source", "serviceConnection", "config", "type"),
    ("source", "serviceConnection", "config", "registryUri"),
    ("source", "sourceConfig"),
    ("source", "sourceConfig", "config"),
    ("source", "sourceConfig", "config", "type"),
    ("sink", "type"),
    ("sink", "config"),
    ("workflowConfig", "openMetadataServerConfig", "authProvider"),
}


def to_yaml(config: Workflow, *, secrets: str = "inline", references: dict[Path_, str] | None = None) -> str:
    """Render the workflow; `secrets` is "inline" or "mask"; `references` keeps `${VAR}` texts by path."""
    data = _plain(config, (), references or {}, secrets)
    if "serviceConnection" in data["source"]:
        registry = data["source"]["serviceConnection"]["config"]
        registry.setdefault("registryUri", registry["trackingUri"])
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100)


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, except that text holding a character YAML counts as a line break (U+0085,
    U+2028, U+2029) is written double-quoted, where it is escaped: in a plain or single-quoted scalar
    PyYAML writes it as a break, which reads back as a space (U+0085) or depends on indentation."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = '"' if any(c in text for c in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_text)


def has_inline_secret(config: Workflow, references: dict[Path_, str] | None = None) -> bool:
    """True when writing would put a secret value in the file (it then gets mode 0600): the secret walk's
    own rule (`SecretField.inline`), so a token in a URI, a header or `PW${X}` count as they do for a DAG."""
    return any(field.inline(references or {}) for field in secret_fields(config))


def _plain(model: BaseModel, path: Path_, references: dict[Path_, str], secrets: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        here = path + (name,)
        if value is None:
            continue
        if here not in _ALWAYS and name not in model.model_fields_set and value == info.get_default(call_default_factory=True):
            continue
        out[name] = _value(value, here, references, secrets)
    return out


def _value(value: Any, path: Path_, references: dict[Path_, str], secrets: str) -> Any:
    if path in references:
        text = references[path]
        return redact_uri(text) if secrets == "mask" and "://" in text else text
    if isinstance(value, BaseModel):
        return _plain(value, path, references, secrets)
    if isinstance(value, SecretStr):
        return MASK if secrets == "mask" else _literal(value.get_secret_value())
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, str):
        return _literal(redact_uri(value) if secrets == "mask" and "://" in value else value)
    if isinstance(value, list):
        return [_value(v, path + (i,), references, secrets) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: MASK if secrets == "mask" and path[-1] == "extraHeaders" and is_secret_header(k, str(v))
                else _value(v, path + (k,), references, secrets) for k, v in value.items()}
    return value


def _literal(text: str) -> str:
    """A value as typed: `$` doubled, so loading does not take it for a variable reference."""
    return text.replace("$", "$$")
