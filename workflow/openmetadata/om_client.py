"""A small HTTP client for the OpenMetadata REST API, with errors a user can act on.

Compared with the official client: short connect timeouts, a few quick retries instead of 30/60/90 s
sleeps on 504 (and instead of giving up at once on 429), one token refresh on 401, and every failure
mapped to a message that says which setting to fix.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from ..net.bounded_http import AnswerTooSlow, BoundedAdapter
from ..net.failures import network_failure
from .auth import Authenticator
from .sso import authenticator_for
from .tls import verify_setting
from ..document.security_config import OpenMetadataJWTClientConfig
from ..document.server_config import OpenMetadataConnection
from ..errors import EndpointError
from ..document.redact import redact_uri
from ..net.retry import MAX_ATTEMPTS, RETRY_STATUSES, retry_wait

USER_AGENT = "mlflow-om-workflow"

PROBE_TIMEOUT = 2.0
READ_TIMEOUT = 60.0
"""Seconds to wait for an answer once connected, unless the caller sets its own: a bulk PUT of a
thousand models on a busy server fits, and a stuck server fails its batch in minutes, not never."""

MAX_ANSWER_BYTES = 256 * 2**20
"""The largest answer read from OpenMetadata: a page of 1,000 models with their features is tens of MB."""

Timeouts = tuple[float, float]
"""(connect, read) seconds for one call; a call without its own takes the client's."""

IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "DELETE"})
"""The only calls this client sends, because each may safely be sent twice: PUT is create-or-update by
FQN and DELETE of a deleted model changes nothing. So a call whose answer was lost is sent again
without any risk of a duplicate."""

@dataclass
class ApiError(Exception):
    """A non-2xx answer: the HTTP status, the body's `code` and `message` when it had them."""

    status: int
    message: str
    url: str
    html: bool = False
    attempts: int = 1
    unexpected: bool = False
    """A 2xx answer the client cannot use (`unexpected_answer`)."""

    def __str__(self) -> str:
        if self.unexpected:
            return f"OpenMetadata at {redact_uri(self.url)} {self.message}"
        return f"HTTP {self.status} from {self.url}: {self.message}{attempts_note(self.attempts)}"


class NoAnswer(OSError):
    """A call that reached the server but got no complete answer, on every attempt: the read timed
    out, or the connection was reset. An `OSError`, as the requests exception it replaces was."""

    def __init__(self, method: str, url: str, cause: str, attempts: int):
        super().__init__(f"no answer to {method} {url}: {cause}{attempts_note(attempts)}")
        self.method = method
        self.url = url
        self.cause = cause
        self.attempts = attempts


def attempts_note(attempts: int) -> str:
    return f" (gave up after {attempts} attempts)" if attempts > 1 else ""


def quote_fqn_part(name: str) -> str:
    """OpenMetadata FQN quoting: a name holding a dot is wrapped in double quotes."""
    return f'"{name}"' if "." in name else name


def model_fqn(service: str, model: str) -> str:
    return f"{quote_fqn_part(service)}.{quote_fqn_part(model)}"


class OpenMetadataClient:
    """The one client of a run: one authenticator (so one token), one connection pool. The parts of a
    run that need other timeouts (the checks, the stored connection, the pipeline status) pass their
    own to each call rather than building a client of their own."""

    def __init__(
        self,
        connection: OpenMetadataConnection,
        *,
        connect_timeout: float = 2.0,
        read_timeout: float | None = None,
        pool_size: int = 8,
        auth: Authenticator | None = None,
        stop: threading.Event | None = None,
    ):
        self.connection = connection
        self.stop = stop or threading.Event()
        """Set when the run is cancelled: a call waiting to be sent again gives up at once."""
        self.base = connection.hostPort.rstrip("/") + "/v1"
        self.timeout = (connect_timeout, READ_TIMEOUT if read_timeout is None else read_timeout)
        self._auth = auth
        self.session = requests.Session()
        adapter = BoundedAdapter(max_bytes=MAX_ANSWER_BYTES, stop=self.stop, pool_connections=2, pool_maxsize=pool_size,
                                 max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.verify = verify_setting(connection)
        self._refresh_lock = threading.Lock()
        self.gone: str | None = None
        """Why the server stopped answering, once a read timed out and a quick probe got no answer
        either: later calls fail at once instead of each waiting out the read timeout."""

    @property
    def auth(self) -> Authenticator:
        """Built on first use, so a client made before the checks fails on a malformed token only when
        a call needs the credentials (the checks' anonymous probes do not)."""
        if self._auth is None:
            self._auth = authenticator_for(self.connection)
        return self._auth

    def close(self) -> None:
        self.session.close()

    # ------------------------------------------------------------------------------------- calls

    def get(self, path: str, *, timeout: Timeouts | None = None, **params: Any) -> Any:
        return self.request("GET", path, params=params or None, timeout=timeout)

    def put(self, path: str, body: Any, *, timeout: Timeouts | None = None, **params: Any) -> Any:
        return self.request("PUT", path, body=body, params=params or None, timeout=timeout)

    def delete(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.request("DELETE", path, body=body, params=params or None)

    def request(self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None,
                timeout: Timeouts | None = None) -> Any:
        """One call, sent up to `MAX_ATTEMPTS` times while the server answers one of `RETRY_STATUSES`
        or the answer is lost (see `lost_answer`), waiting `retry_wait` in between; and, on a 401,
        sent once more with a freshly fetched token. A cancel (`stop`) during a wait ends it: the call
        fails with the answer it last got. `timeout` replaces the client's (connect, read) for this call."""
        if method not in IDEMPOTENT_METHODS:
            raise ValueError(f"{method} is not safe to retry; this client sends only {sorted(IDEMPOTENT_METHODS)}")
        url = self.base + path
        timeout = timeout or self.timeout
        if self.gone:
            raise NoAnswer(method, url, f"not sent, the server stopped answering ({self.gone})", 1)
        refreshed = False
        attempt = 1
        while True:
            try:
                response = self._send(method, url, body, params, timeout)
            except requests.RequestException as exc:
                cause = lost_answer(exc, timeout[1])
                if cause is None or (attempt == MAX_ATTEMPTS and cause == REFUSED):
                    raise  # never got in: `network_failure` words it (is the server running?)
                if cause.startswith(("read timeout", "no complete answer")) and not self._answers(timeout[0]):
                    self.gone = cause  # stuck, not slow: this call and every later one fail now
                if self.gone or attempt == MAX_ATTEMPTS or self.stop.wait(retry_wait(attempt)):
                    raise NoAnswer(method, url, cause, attempt) from exc
            else:
                if response.status_code == 401 and not refreshed:
                    refreshed = True
                    with self._refresh_lock:
                        self.auth.invalidate()
                    continue  # the same attempt, with a new token
                if (response.status_code not in RETRY_STATUSES or attempt == MAX_ATTEMPTS
                        or self.stop.wait(retry_wait(attempt, response.headers.get("Retry-After")))):
                    return self._parse(response, attempts=attempt)
            attempt += 1

    def _send(self, method: str, url: str, body: Any, params: dict[str, Any] | None,
              timeout: Timeouts) -> requests.Response:
        return self.session.request(
            method,
            url,
            params=params,
            data=None if body is None else json.dumps(body),
            headers=self._headers(),
            timeout=timeout,
            allow_redirects=False,
            # Per call: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override session.verify.
            verify=self.session.verify,
        )

    def _answers(self, connect_timeout: float) -> bool:
        """After a read timed out: does the server answer anything within a moment? A slow bulk
        write is worth sending again; a stuck server is not."""
        try:
            self.session.get(self.base + "/system/version", timeout=(connect_timeout, PROBE_TIMEOUT),
                             verify=self.session.verify)
        except requests.RequestException:
            return False
        return True

    def _headers(self, anonymous: bool = False) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": USER_AGENT}
        if not anonymous:
            headers.update(self.auth.header())
        for name, template in (self.connection.extraHeaders or {}).items():
            try:
                headers[name] = template % headers
            except (KeyError, ValueError, TypeError):
                headers[name] = template
        return headers

    @staticmethod
    def _parse(response: requests.Response, attempts: int = 1) -> Any:
        content_type = response.headers.get("Content-Type", "")
        is_html = "html" in content_type or response.text.lstrip().lower().startswith(("<!doctype", "<html"))
        if not response.ok:
            message = response.reason or "error"
            if not is_html:
                try:
                    message = response.json().get("message", message)
                except (ValueError, AttributeError):
                    message = response.text[:200] or message
            raise ApiError(response.status_code, str(message), response.url.split("?")[0], html=is_html,
                           attempts=attempts)
        if not response.content:
            return None
        if is_html:
            raise ApiError(response.status_code, "answered with an HTML page, not JSON", response.url.split("?")[0], html=True)
        return response.json()

    # -------------------------------------------------------------------------------- endpoints

    def server_version(self) -> str:
        data = self.get("/system/version")
        if not isinstance(data, dict) or "version" not in data:
            raise ApiError(200, "no version in the answer", self.base + "/system/version")
        return str(data["version"])

    def get_service(self, name: str, *, timeout: Timeouts | None = None) -> dict[str, Any] | None:
        try:
            return self.get(f"/services/mlmodelServices/name/{quote(quote_fqn_part(name), safe='')}", timeout=timeout)
        except ApiError as exc:
            if exc.status == 404 and not exc.html:
                return None
            raise

    def probe(self, path: str, *, timeout: Timeouts | None = None, anonymous: bool = False,
              host_port: str | None = None) -> Any:
        """One GET answered as is, for connection checks: the first status is the finding, so no
        retry on 5xx and no token refresh on 401. `anonymous` sends no credentials, so a broken token
        cannot hide that the server is down; `host_port` asks another address than the configured
        one (where the API might be instead). Raises `ApiError` like `get`."""
        base = self.base if host_port is None else host_port.rstrip("/") + "/v1"
        response = self.session.get(base + path, headers=self._headers(anonymous),
                                    timeout=timeout or self.timeout, allow_redirects=False, verify=self.session.verify)
        return self._parse(response)


def unexpected_answer(client: OpenMetadataClient, call: str, what: str) -> ApiError:
    """A 200 whose JSON is not what the call returns (a wrong shape, a paging loop): an error naming the
    server and the call, where the code reading it would otherwise fail with a bare KeyError."""
    return ApiError(200, f"answered {call} with {what}", client.base, unexpected=True)


REFUSED = "connection refused"


def lost_answer(exc: requests.RequestException, read_timeout: float) -> str | None:
    """What happened to a call that got no complete answer and is worth sending again, or None.

    A read timeout or a reset may have hit a busy server; a refused connection during a run is a
    server restarting (the checks before the run already refused a server that was not there).
    DNS, TLS and connect timeouts are not retried: waiting does not fix them."""
    reason = exc.args[0] if exc.args else None
    if isinstance(exc, requests.exceptions.ConnectionError) and (
            "Connection refused" in str(exc) or "Errno 111" in str(exc)):
        return REFUSED
    if isinstance(exc, AnswerTooSlow):
        return str(exc)
    if isinstance(exc, requests.exceptions.ReadTimeout) or isinstance(reason, ReadTimeoutError):
        return f"read timeout after {read_timeout:g} s"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or (
            isinstance(exc, requests.exceptions.ConnectionError) and isinstance(reason, ProtocolError)):
        return "connection reset before the answer was complete"
    return None


def describe_failure(exc: BaseException, connection: OpenMetadataConnection) -> EndpointError:
    """An exception from talking to OpenMetadata, as a message naming the setting to fix."""
    host = redact_uri(connection.hostPort)
    if isinstance(exc, ApiError) and exc.unexpected:
        return EndpointError(str(exc), hint="check that hostPort leads to an OpenMetadata 2.0 server, "
                                            "not a proxy or another service")
    if isinstance(exc, ApiError):
        if exc.status == 404 or exc.html:
            hint = "hostPort must point at the API, usually ending in /api (for example http://localhost:8585/api)"
            if host.rstrip("/").endswith("/api"):
                hint = "check hostPort: the server answered but has no OpenMetadata API at this path"
            return EndpointError(f"No OpenMetadata API at {host} ({redact_uri(exc.url)} answered HTTP {exc.status})",
                                 hint=hint)
        if exc.status in (401, 403):
            provider = connection.provider
            if provider == "no-auth":
                hint = ("the server needs a token: set authProvider: openmetadata and securityConfig.jwtToken to the "
                        "ingestion-bot JWT (OpenMetadata: Settings > Bots > ingestion-bot)")
            elif connection.securityConfig is not None and not isinstance(connection.securityConfig,
                                                                          OpenMetadataJWTClientConfig):
                hint = (f"{provider} issued a token, fetched again after the first 401, that OpenMetadata does not "
                        f"accept: check that the server's authentication is set up for this {provider} client "
                        "and that the client is registered as a bot")
            else:
                hint = f"check the credentials of authProvider {provider!r} in securityConfig"
            word = "rejected the credentials" if exc.status == 401 else "refused access"
            return EndpointError(f"OpenMetadata {word} (HTTP {exc.status}): {exc.message}", hint=hint)
        note = attempts_note(exc.attempts)
        if exc.status >= 500:
            return EndpointError(f"OpenMetadata failed with HTTP {exc.status}: {exc.message}{note}",
                                 hint="the server has a problem; check its logs and retry")
        if exc.status == 429:
            return EndpointError(f"OpenMetadata is limiting the request rate (HTTP 429): {exc.message}{note}",
                                 hint="the server limits how fast it takes calls; run again later")
        return EndpointError(f"OpenMetadata answered HTTP {exc.status}: {exc.message}{note}")
    if isinstance(exc, NoAnswer):
        return EndpointError(f"OpenMetadata did not answer {exc.method} {redact_uri(exc.url)}: "
                             f"{exc.cause}{attempts_note(exc.attempts)}",
                             hint="the server is overloaded or a proxy in between cuts connections; "
                                  "check its logs and retry")
    return network_failure(exc, "OpenMetadata", host, tls_hint="set verifySSL: validate with sslConfig.caCertificate, "
                                                               "or verifySSL: ignore to skip verification")


SUPPORTED_SERVER = (2, 0)
"""The OpenMetadata API version this tool speaks; another major.minor is a warning, not a refusal."""



def version_warning(version: str) -> str | None:
    try:
        major, minor = (int(p) for p in version.split(".")[:2])
    except ValueError:
        return f"OpenMetadata reports an unreadable version {version!r}; continuing"
    if (major, minor) != SUPPORTED_SERVER:
        expected = ".".join(map(str, SUPPORTED_SERVER))
        return f"OpenMetadata server is {version}, this tool speaks the {expected}.x API; continuing, but check the results"
    return None
