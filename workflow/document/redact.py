"""Keep secrets out of everything a person sees: screens, logs, error messages, previews.

Two tools: `redact_uri` masks the secret inside a URI (`mysql://user:***@host/db`), and
`secret_values` lists every secret a config holds (`secret_fields`) so any text can be scrubbed of them
before it is shown.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr

MASK = "***"


_USER_INFO = re.compile(r"(^|//)([^/@:\s]*):([^/@\s]*)@")
"""`user:password@` at the start or after `//`: for text urlsplit cannot read (`host:port` without a
scheme, a broken IPv6 literal), which an error message may still quote."""


def redact_uri(uri: str) -> str:
    """Mask the secret of a URI's user-info part (`user:***@`, or `***@` for a token alone);
    other URIs come back unchanged."""
    if uri_secret(uri) is not None:
        return with_uri_secret(uri, MASK)
    return _USER_INFO.sub(rf"\1\2:{MASK}@", uri) if "@" in uri else uri


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


def uri_secret(uri: str | None) -> str | None:
    """The secret in a URI's user-info: the password of `user:password@`, or all of it when it has no
    colon (`https://TOKEN@host`, as tokens are often given); None when there is none."""
    userinfo = _userinfo(uri)
    if not userinfo:
        return None
    user, colon, password = userinfo.partition(":")
    return (password or None) if colon else userinfo


def with_uri_secret(uri: str, replacement: str) -> str:
    """The URI with only its user-info secret replaced: the rest stays exactly as written."""
    match = _NETLOC.match(uri)
    if match is None or "@" not in match.group(1):
        return uri
    start = match.start(1)
    user, colon, _ = match.group(1).rsplit("@", 1)[0].partition(":")
    kept = f"{user}:" if colon else ""
    return uri[:start] + kept + replacement + uri[start + match.group(1).rindex("@"):]


_NETLOC = re.compile(r"[\x00-\x20]*[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")
"""A URI's authority as written (urlsplit drops tabs and line breaks from it, which would shift what
`with_uri_secret` replaces)."""


def _userinfo(uri: str | None) -> str | None:
    match = _NETLOC.match(uri or "")
    return match.group(1).rsplit("@", 1)[0] if match and "@" in match.group(1) else None


REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*")
"""A whole text that is one `${VAR}` / `$VAR` reference, and so holds no secret itself."""
_SECRET_HEADER = re.compile(r"auth|token|key|secret|passw|cookie|session|credential|signature", re.IGNORECASE)
_SECRET_SCHEME = re.compile(r"\s*(bearer|basic|token|digest|apikey)\s", re.IGNORECASE)


def is_secret_header(name: str, value: str) -> bool:
    """An `extraHeaders` entry that carries a credential: by its name (Authorization, X-Api-Key, ...)
    or by its value (`Bearer ...`)."""
    return bool(_SECRET_HEADER.search(name) or _SECRET_SCHEME.match(value))


@dataclass(frozen=True)
class SecretField:
    """A secret in a config and where it sits: a `SecretStr` field, a credential header, or the secret
    inside a URI's user-info."""

    path: tuple[str, ...]
    secret: str
    in_uri: bool
    text: str
    """The field's value: the secret itself, or the URI holding it."""

    def inline(self, references: Mapping[tuple, str]) -> bool:
        """Whether writing the field puts a secret in the file: it was not loaded from a reference, or
        its secret part is more than one `${VAR}` (`PW${X}`, `${A}.rest-of-a-jwt`, `http://u:pw@${HOST}`)."""
        if self.path not in references:
            return bool(self.secret)
        text = references[self.path]
        part = uri_secret(text) if self.in_uri else text
        return bool(part) and not REFERENCE.fullmatch(part)

    def referring(self, text: str, reference: str) -> str:
        """`text` (the field's value) with its secret part replaced by `reference`."""
        return with_uri_secret(text, reference) if self.in_uri and uri_secret(text) else reference


def secret_fields(model: BaseModel, path: tuple[str, ...] = ()) -> Iterator[SecretField]:
    """Every secret a config holds, in field order; the one walk that masking, scrubbing, file modes
    and the DAG's variables all rely on, so none of them can miss a kind of secret the others see."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        here = path + (name,)
        if isinstance(value, BaseModel):
            yield from secret_fields(value, here)
        elif isinstance(value, SecretStr):
            yield SecretField(here, value.get_secret_value(), False, value.get_secret_value())
        elif isinstance(value, str) and (secret := uri_secret(value)):
            yield SecretField(here, secret, True, value)
        elif name == "extraHeaders" and isinstance(value, dict):
            yield from (SecretField(here + (header,), text, False, text) for header, text in value.items()
                        if isinstance(text, str) and is_secret_header(header, text))


def secret_values(model: BaseModel) -> list[str]:
    """Every non-empty secret value in a config, for `scrub`."""
    return [field.secret for field in secret_fields(model) if field.secret]


_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
"""A JSON Web Token: OpenMetadata's bot token and every identity provider's access token are JWTs, so a
token fetched at run time (never in the config) is masked wherever it is echoed too."""


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace each secret (at least 4 characters, to avoid masking ordinary words), bearer token and
    JWT in a text."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, MASK)
    text = _JWT.sub(MASK, text)
    return re.sub(r"(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}", r"\1" + MASK, text)
