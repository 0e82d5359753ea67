"""A token from an identity provider, kept until shortly before it expires, and the POST that gets it.

`TokenAuthenticator` is the `Authenticator` protocol over a provider's `fetch()`; `TokenEndpoint` makes
the POST with the connection's TLS settings and turns every failure into a message naming the provider
and the `securityConfig` field to fix. What a provider says back is scrubbed of the config's secrets.
"""
from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests

from ..document.redact import redact_uri, scrub
from ..errors import EndpointError
from ..net.failures import network_failure
from .auth import unverified_claims
from ..net.bounded_http import BoundedAdapter

log = logging.getLogger(__name__)


TIMEOUT = (5.0, 30.0)
"""(connect, read) seconds for a token call: identity providers answer fast or not at all."""
TOKEN_MAX_BYTES = 2**20
"""A token answer is a few KB."""


REFRESH_MARGIN = 60.0
"""Fetch a new token this long before the old one expires (at most a quarter of its lifetime)."""


REJECTED_CREDENTIALS = {"invalid_client", "unauthorized_client", "access_denied", "invalid_grant"}
"""OAuth error codes that mean: who you say you are, or your proof of it, was not accepted."""


@dataclass(frozen=True)
class Token:
    """A bearer token and when to stop using it (None: until the server answers 401)."""

    value: str
    refresh_at: float | None

    @classmethod
    def issued(cls, value: str, expires_in: Any) -> "Token":
        """Expiry from the answer's `expires_in`, else from the token's own `exp` when it is a JWT."""
        now = time.time()
        lifetime = _seconds(expires_in)
        expiry = now + lifetime if lifetime is not None else _seconds((unverified_claims(value) or {}).get("exp"))
        if expiry is None:
            return cls(value, None)
        margin = min(REFRESH_MARGIN, max(expiry - now, 0) / 4)
        return cls(value, expiry - margin)

    def stale(self) -> bool:
        return self.refresh_at is not None and time.time() >= self.refresh_at


def _seconds(value: Any) -> float | None:
    """A number of seconds as providers send it (some send expires_in as a string), else None."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class TokenAuthenticator:
    """Base of the identity-provider authenticators: the `Authenticator` protocol over `fetch()`.

    The token is fetched on first use, not at start-up, so building a client never touches the
    network. Several threads send at once: the lock makes one fetch serve all of them.
    """

    provider: str

    def __init__(self, endpoint: "TokenEndpoint"):
        self.endpoint = endpoint
        self._token: Token | None = None
        self._lock = threading.Lock()

    def header(self) -> dict[str, str]:
        with self._lock:
            if self._token is None or self._token.stale():
                self._token = self.fetch()
                left = "" if self._token.refresh_at is None else f", refresh in {self._token.refresh_at - time.time():.0f} s"
                log.debug("fetched a token from %s at %s%s", self.provider, redact_uri(self.endpoint.url), left)
            return {"Authorization": f"Bearer {self._token.value}"}

    def invalidate(self) -> None:
        """Forget the token: OpenMetadata answered 401, so the next call fetches a fresh one."""
        with self._lock:
            self._token = None

    def fetch(self) -> Token:
        raise NotImplementedError


@dataclass
class TokenEndpoint:
    """One provider's token URL, and what to tell the user when it fails.

    `url_field` and `credential_fields` are the settings a message points at; `secrets` are scrubbed
    from anything the provider sends back before it reaches a message.
    """

    provider: str
    url: str
    url_field: str
    credential_fields: tuple[str, ...]
    verify: bool | str
    secrets: tuple[str, ...]
    scopes_field: str | None = None

    def post(self, form: dict[str, str], token_key: str = "access_token") -> Token:
        """POST the form (as RFC 6749 wants) and return the token in the answer's `token_key`."""
        try:
            with requests.Session() as session:
                session.mount("http://", BoundedAdapter(max_bytes=TOKEN_MAX_BYTES))
                session.mount("https://", (_AlsoUsualCAs if isinstance(self.verify, str) else BoundedAdapter)(
                    max_bytes=TOKEN_MAX_BYTES))
                response = session.post(self.url, data=form, headers={"Accept": "application/json"},
                                        timeout=TIMEOUT, verify=self.verify, allow_redirects=False)
        except (requests.RequestException, OSError) as exc:
            raise self._unreachable(exc) from None
        answer = _json_object(response)
        if not response.ok:
            raise self._refused(response.status_code, answer)
        token = answer.get(token_key) if answer else None
        if not isinstance(token, str) or not token:
            raise EndpointError(f"the {self.provider} token endpoint at {self._shown_url} answered without an {token_key}",
                                hint=f"check {self.url_field}: it must lead to the provider's token endpoint")
        return Token.issued(token, answer.get("expires_in"))

    @property
    def _shown_url(self) -> str:
        return redact_uri(self.url)

    def _unreachable(self, exc: BaseException) -> EndpointError:
        tls_hint = ("the token endpoint's certificate must be signed by a CA of the usual bundle (the system's, "
                    "certifi's or REQUESTS_CA_BUNDLE) or by sslConfig.caCertificate (with verifySSL: validate)")
        error = network_failure(exc, f"the {self.provider} token endpoint", self._shown_url, tls_hint=tls_hint)
        error.message = scrub(error.message, self.secrets)
        error.hint = f"check {self.url_field}; {error.hint}" if error.hint else f"check {self.url_field}"
        return error

    def _refused(self, status: int, answer: dict[str, Any] | None) -> EndpointError:
        """A non-2xx answer, by the OAuth `error` code when there is one (RFC 6749 section 5.2)."""
        error = str((answer or {}).get("error") or "")
        said = self._provider_said(answer)
        if error == "invalid_scope" and self.scopes_field:
            return EndpointError(f"{self.provider} rejected the requested scopes (invalid_scope): check {self.scopes_field}",
                                 hint=said)
        if error in REJECTED_CREDENTIALS or (status == 401 and answer is not None):
            fields = " and ".join(self.credential_fields)
            return EndpointError(f"{self.provider} rejected the client credentials ({error or f'HTTP {status}'}): "
                                 f"check {fields}", hint=said)
        if answer is None or status in (404, 405):
            return EndpointError(f"no {self.provider} token endpoint at {self._shown_url} (HTTP {status})",
                                 hint=f"check {self.url_field}")
        if status >= 500:
            return EndpointError(f"the {self.provider} token endpoint at {self._shown_url} failed with HTTP {status}",
                                 hint=said or "the identity provider has a problem; retry later")
        return EndpointError(f"the {self.provider} token endpoint at {self._shown_url} refused the request "
                             f"(HTTP {status}{' ' + error if error else ''})", hint=said or f"check {self.url_field}")

    def _provider_said(self, answer: dict[str, Any] | None) -> str:
        description = str((answer or {}).get("error_description") or "").strip()
        return f"{self.provider} said: {scrub(description, self.secrets)[:300]}" if description else ""


class _AlsoUsualCAs(BoundedAdapter):
    """HTTPS that trusts the usual CAs as well as the request's `verify` file (sslConfig.caCertificate).

    The CA file is there for OpenMetadata, often behind a private CA, while the identity provider
    (Auth0, Okta, Azure, Google) has a public certificate: the official client's provider libraries
    verify it with the usual bundle. Trusting both serves either setup without a merged CA file.
    urllib3 adds the request's CA file to this context when it connects.
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        context = ssl.create_default_context()  # the system's CAs, then the bundle requests would use
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or requests.certs.where()
        context.load_verify_locations(**{"capath" if os.path.isdir(bundle) else "cafile": bundle})
        super().init_poolmanager(*args, ssl_context=context, **kwargs)


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    """The answer as a JSON object, or None (an HTML error page, a proxy's text, nothing)."""
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def with_scheme(value: str) -> str:
    """A URL as given when it has a scheme (how a local endpoint is reached over http), else https://."""
    value = value.strip().rstrip("/")
    return value if "://" in value else f"https://{value}"


def client_credentials(client_id: str, secret: str, **extra: str) -> dict[str, str]:
    """The client-credentials grant with the secret in the body (client_secret_post)."""
    return {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, **extra}
