"""Turn `securityConfig` into the Authorization header of every OpenMetadata call.

Each provider is a small class with `header()` (cached until shortly before expiry) and
`invalidate()` (called once when the server answers 401 mid-run, to fetch a fresh token). The bot JWT
lives here; the identity providers (auth0, azure, custom-oidc, google, okta) are in `sso.py`, with
`authenticator_for`, which picks one for a connection.
"""
from __future__ import annotations

import base64
import json
import os
import time
from typing import Protocol

from ..document.security_config import OpenMetadataJWTClientConfig
from ..errors import UserError


class Authenticator(Protocol):
    provider: str

    def header(self) -> dict[str, str]: ...

    def invalidate(self) -> None: ...


class NoAuth:
    provider = "no-auth"

    def header(self) -> dict[str, str]:
        return {}

    def invalidate(self) -> None:
        return None


class StaticJWT:
    """A bot JWT, given inline or as the path of a file holding it (as the official CLI allows)."""

    def __init__(self, provider: str, config: OpenMetadataJWTClientConfig):
        self.provider = provider
        self._token = read_jwt(config.jwtToken.get_secret_value())

    def header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def invalidate(self) -> None:
        return None


def read_jwt(value: str) -> str:
    """The token itself, read from a file when the value is a path; checked to look like a JWT."""
    token = value.strip()
    if os.path.isfile(token):
        try:
            with open(token, encoding="utf-8") as handle:
                token = handle.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "it is not a text file"
            raise UserError(f"securityConfig.jwtToken names a file that cannot be read: {reason}",
                            hint="give the token itself, or the path of a file that holds only the token") from None
    check_jwt(token)
    return token


def check_jwt(token: str) -> None:
    """Reject what cannot work before any call: not a JWT, or already expired (read, not verified)."""
    field = "workflowConfig.openMetadataServerConfig.securityConfig.jwtToken"
    if len(token.split(".")) != 3:
        raise UserError(
            f"{field} is not a JWT (expected three dot-separated parts)",
            hint="copy the ingestion-bot token from OpenMetadata: Settings > Bots > ingestion-bot",
        )
    payload = unverified_claims(token)
    if payload is None:
        raise UserError(f"{field} is not a JWT (its payload is not JSON)", hint="copy the token again, whole")
    expiry = payload.get("exp")
    if isinstance(expiry, (int, float)) and expiry < time.time():
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(expiry))
        raise UserError(
            f"{field} expired on {when}",
            hint="generate a new token for the ingestion bot in OpenMetadata (Settings > Bots)",
        )


def unverified_claims(token: str) -> dict | None:
    """A JWT's payload, read without checking the signature (only the issuer's key could); None if unreadable."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


