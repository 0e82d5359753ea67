"""Keep secrets out of everything a person sees: screens, logs, error messages, previews.

Two tools: `redact_uri` masks the password inside a URI (`mysql://user:***@host/db`), and
`secret_values` lists every secret a config holds so any text can be scrubbed of them before it is shown.
"""
from __future__ import annotations

import re
from typing import Iterable
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


def uri_password(uri: str | None) -> str | None:
    try:
        return urlsplit(uri).password if uri else None
    except ValueError:
        return None


def secret_values(model: BaseModel) -> list[str]:
    """Every secret value in a config: SecretStr fields and passwords inside URI strings."""
    found: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            found += secret_values(value)
        elif isinstance(value, str):
            password = uri_password(value) if "://" in value else None
            if password:
                found.append(password)
    return [v for v in found if v]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace each secret (at least 4 characters, to avoid masking ordinary words) in a text."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, MASK)
    return re.sub(r"(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}", r"\1" + MASK, text)
