"""What every block of the workflow document shares: the `Strict` base model (unknown keys are errors,
which is what lets the loader suggest the key the user meant), and the rules for values that several
blocks hold (entity names, MLflow URIs, URLs), so each rule is written once for the YAML loader, the
CLI and the app's inline messages.
"""
from __future__ import annotations

import difflib
import re
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from ..errors import InvalidValue
from .redact import redact_uri


class Strict(BaseModel):
    """Base for every config block: unknown keys are errors, models compare by value."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


ENTITY_NAME_MAX = 256
_NAME_REFUSED = re.compile(r'::|[>"\x00-\x1f]')
"""OpenMetadata 2.0's `entityName` (type/basic.json): 1 to 256 characters matching
`^((?!::)[^>"\x00-\x1f])*$`. The service name is sent as is (the ingestion library only rewrites
table and column names), so the server would refuse the run's first request with a 400."""

_CONTROL_NAMES = {"\t": "a tab", "\n": "a line break", "\r": "a carriage return"}


def entity_name_problem(value: str) -> InvalidValue | None:
    """Why OpenMetadata would refuse `value` as an entity name, with a name it would take; None if fine."""
    refused = list(dict.fromkeys(m.group(0) for m in _NAME_REFUSED.finditer(value)))
    if refused:
        names = [
            "'::'" if part == "::" else "'>'" if part == ">" else 'a double quote (")' if part == '"'
            else _CONTROL_NAMES.get(part, f"the control character U+{ord(part):04X}")
            for part in refused
        ]
        fixed = _NAME_REFUSED.sub("_", value).strip() or "local_mlflow"
        return InvalidValue(f"must not contain {', '.join(names)}: OpenMetadata refuses ::, >, double quotes and "
                            "control characters in names", hint=f"for example {fixed!r}")
    if value != value.strip():
        return InvalidValue("must not start or end with a space: it would name a different service from "
                            f"{value.strip()!r}, though both look the same", hint=f"write {value.strip()!r}")
    if len(value) > ENTITY_NAME_MAX:
        return InvalidValue(f"is {len(value)} characters long: OpenMetadata allows at most {ENTITY_NAME_MAX}",
                            hint="choose a shorter name")
    return None


HOST_PORT = re.compile(r"[A-Za-z0-9_.-]+:\d+(/\S*)?")
"""`host:port[/path]` without a scheme: MLflow reads `localhost` as a URI scheme it has no store for (or
`127.0.0.1:5000` as a local folder), and OpenMetadata's client needs http(s)://."""

MLFLOW_SCHEMES = ("http", "https", "file", "databricks", "databricks-uc", "uc",
                  "sqlite", "mysql", "postgresql", "mssql")
"""The URI schemes MLflow 2 and 3 open without a plugin (a database scheme may add `+driver`); no
scheme at all is a local folder. A plugin can register any other scheme, so others are not refused,
except a near-miss of one of these."""


def mlflow_uri_problem(uri: str) -> InvalidValue | None:
    """Why MLflow cannot open `uri` on any machine, with the likely fix; None when it may work.

    Only what cannot work is refused: a folder path, an unknown (plugin) scheme, or a server that is
    down are left to `metadata test-connection`, which runs where the workflow runs.
    """
    example = "for example http://localhost:5000"
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        return InvalidValue(f"{redact_uri(uri)!r} is not a valid URI: {exc}", hint=example)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname:
            return InvalidValue(f"{redact_uri(uri)!r} has no host name", hint=example)
        return url_space_problem(uri)
    return _non_http_problem(uri, scheme, example)


def url_space_problem(url: str) -> InvalidValue | None:
    """A URL with a space or other blank in it: no server name or path can hold one as typed."""
    if any(c.isspace() for c in url):
        return InvalidValue(f"{redact_uri(url)!r} contains a space, which a URL cannot hold",
                            hint="remove it, or write it as %20 where a path really has one")
    return None


def _non_http_problem(uri: str, scheme: str, example: str) -> InvalidValue | None:
    base = scheme.split("+")[0]
    if base in MLFLOW_SCHEMES or len(scheme) == 1:  # one letter: a Windows drive, which MLflow reads as a path
        return None
    if HOST_PORT.fullmatch(uri):
        return InvalidValue(f"{uri!r} has no scheme: MLflow cannot open it", hint=f"did you mean {'http://' + uri!r}?")
    if not scheme:
        if any(c.isspace() for c in uri) and not re.search(r"[/\\]", uri) and not uri.startswith(("~", ".")):
            return InvalidValue(f"{uri!r} is neither a URI nor a folder path",
                                hint="write the MLflow server's URL (http://host:5000), a database URI "
                                     "(sqlite:///mlflow.db) or a folder path (./mlruns)")
        return None
    guess = difflib.get_close_matches(base, MLFLOW_SCHEMES, n=1, cutoff=0.75)
    if guess:
        fixed = redact_uri(guess[0] + uri[len(scheme):])
        return InvalidValue(f"MLflow has no store for the URI scheme {scheme!r}", hint=f"did you mean {fixed!r}?")
    return None
