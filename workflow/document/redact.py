"""Keep secrets out of everything a person sees: screens, logs, error messages, previews.

Two tools: `redact_uri` masks the password inside a URI (`mysql://user:***@host/db`), and
`secret_values` lists every secret a config holds so any text can be scrubbed of them before it is shown.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr

MASK = "***"


_USER_INFO = re.compile(r"(^|//)([^/@:\s]*):([^/@\s]*)@")
"""`user:password@` at the start or after `//`: for text urlsplit cannot read (`host:port` without a
scheme, a broken IPv6 literal), which an error message may still quote."""


def redact_uri(uri: str) -> str:
    """Mask the password of a URI's user-info part; other URIs come back unchanged."""
    try:
        parts = urlsplit(uri)
        password = parts.password
    except ValueError:
        return _USER_INFO.sub(rf"\1\2:{MASK}@", uri)
    if password is None:
        return _USER_INFO.sub(rf"\1\2:{MASK}@", uri) if "@" in uri else uri
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def without_credentials(uri: str) -> str:
    """A URI without its user-info part, for links that other people see (the catalog's sourceUrl)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def with_password(uri: str, password: str) -> str:
    """The URI with only its password replaced: the rest stays exactly as written."""
    netloc = urlsplit(uri).netloc
    userinfo, host = netloc.rsplit("@", 1)
    return uri.replace(netloc, f"{userinfo.split(':', 1)[0]}:{password}@{host}", 1)


def variable_name(path: tuple[str, ...], *, in_uri: bool = False) -> str:
    """The `${VAR}` a secret is referred to by where it is not written out (a DAG, the connection
    stored in OpenMetadata): OM_JWT_TOKEN for workflowConfig...jwtToken, MLFLOW_REGISTRY_PASSWORD
    for the password in registryUri."""
    prefix = "MLFLOW" if path[0] == "source" else "OM"
    field = re.sub(r"(?<!^)(?=[A-Z])", "_", str(path[-1])).upper()
    return f"{prefix}_{field.removesuffix('_URI')}_PASSWORD" if in_uri else f"{prefix}_{field}"


def uri_password(uri: str | None) -> str | None:
    try:
        return urlsplit(uri).password if uri else None
    except ValueError:
        return None


@dataclass(frozen=True)
class SecretField:
    """A secret in a config and where it sits: a `SecretStr` field, or the password inside a URI."""

    path: tuple[str, ...]
    secret: str
    in_uri: bool
    text: str
    """The field's value: the secret itself, or the URI holding it."""


def secret_fields(model: BaseModel, path: tuple[str, ...] = ()) -> Iterator[SecretField]:
    """Every secret a config holds, in field order; the one walk that masking, file modes and the
    DAG's variables all rely on, so none of them can miss a kind of secret the others see."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        here = path + (name,)
        if isinstance(value, BaseModel):
            yield from secret_fields(value, here)
        elif isinstance(value, SecretStr):
            yield SecretField(here, value.get_secret_value(), False, value.get_secret_value())
        elif isinstance(value, str) and "://" in value and (password := uri_password(value)):
            yield SecretField(here, password, True, value)


def secret_values(model: BaseModel) -> list[str]:
    """Every non-empty secret value in a config, for `scrub`."""
    return [field.secret for field in secret_fields(model) if field.secret]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace each secret (at least 4 characters, to avoid masking ordinary words) in a text."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, MASK)
    return re.sub(r"(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}", r"\1" + MASK, text)
