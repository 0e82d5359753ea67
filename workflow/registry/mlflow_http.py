"""MLflow over HTTP: one session per server, serving a run's reads and a check's probes, as the
OpenMetadata client serves `request` and `probe`.

The session carries MLflow's own credential and TLS variables (`MlflowCredentials`), bounds each
answer in time and size, and acknowledges every read at once. `request` is a run's read: sent again
on a lost answer or a 429/5xx as its `ReadPolicy` allows, given up at once when the run is
cancelled. `probe` is a check's: one GET whose answer, whatever its status, is the finding.
"""
from __future__ import annotations

import socket
import threading
import time
from typing import Any

import requests
from urllib3.connection import HTTPConnection

from ..net.bounded_http import AnswerTooBig, AnswerTooSlow, BoundedAdapter, WatchedHTTPPool
from ..net.retry import RETRY_STATUSES, retry_wait
from .mlflow_credentials import MlflowCredentials
from .mlflow_failures import mlflow_transport_failure, transport_reason
from .read_policy import CONNECT_TIMEOUT, ReadPolicy
from .records import ReadError

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
"""The server's artifact proxy: `mlflow-artifacts:/<path>` is served at ARTIFACTS/<path>."""
HEALTH_TIMEOUT = 2.0
MAX_ANSWER_BYTES = 64 * 2**20
"""The largest answer read from MLflow: a page of 1,000 models is a few MB, an MLmodel file a few KB."""


class MlflowHttp:
    """GETs (and the POSTs of MLflow's searches, reads too) against one MLflow server."""

    def __init__(self, base: str, policy: ReadPolicy, *, pool_size: int = 8, stop: threading.Event | None = None):
        self.base = base.rstrip("/")
        self.policy = policy
        self.stop = stop or threading.Event()
        """Set when the run is cancelled: a read waiting to be sent again gives up at once."""
        self.timeout = (policy.connect, policy.read)
        self.credentials = MlflowCredentials.from_env()
        self.session = _session(self.base, self.credentials, pool_size, self.stop)

    def close(self) -> None:
        self.session.close()

    def request(self, path: str, what: str, params: dict[str, Any], *, body: dict[str, Any] | None = None
                ) -> requests.Response:
        """A run's read: a GET (a POST with `body`), sent up to `policy.attempts` times on a transport
        failure or 429/5xx (reads are safe to repeat): a restart or a busy moment of a shared server
        is absorbed. A cancel (`stop`) during a wait ends it with the failure or answer it last got."""
        attempts = self.policy.attempts
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                response = self._send("GET" if body is None else "POST", self.base + path, params, body, self.timeout)
            except requests.ReadTimeout as exc:  # not retried: the same call is likely to be as slow again
                cause = str(exc) if isinstance(exc, AnswerTooSlow) else "read timeout"
                raise ReadError(f"MLflow did not answer in time to {what} ({cause})",
                                unreachable=not self.stop.is_set() and not self.healthy(),
                                explanation=mlflow_transport_failure(exc, self.base)) from None
            except AnswerTooBig as exc:  # not retried: it would be as big again
                raise ReadError(f"MLflow's answer to {what} was refused: {exc}") from None
            except requests.RequestException as exc:
                if last:  # one call MLflow keeps dropping fails its model; a dead server, the run
                    raise ReadError(f"MLflow did not answer ({transport_reason(exc)})", unreachable=not self.healthy(),
                                    explanation=mlflow_transport_failure(exc, self.base)) from None
                if self.stop.wait(retry_wait(attempt)):
                    raise ReadError(f"MLflow did not answer ({transport_reason(exc)}); "
                                    "not sent again, the run was cancelled") from None
            else:
                if (response.status_code not in RETRY_STATUSES or last
                        or self.stop.wait(retry_wait(attempt, response.headers.get("Retry-After")))):
                    return response
        raise AssertionError("unreachable")  # the loop returns or raises on its last pass

    def probe(self, path: str, *, base: str | None = None, **params: Any) -> requests.Response:
        """A check's GET: the answer whatever its status, never sent twice; a failure to get one raises
        `EndpointError` naming the cause. `base` asks another address (where MLflow might be instead)."""
        base = (base or self.base).rstrip("/")
        try:
            return self._send("GET", base + path, params or None, None, self.timeout)
        except requests.RequestException as exc:
            raise mlflow_transport_failure(exc, base) from None

    def healthy(self) -> bool:
        """After a call got no answer: does the server still answer at all (any status below 500:
        a 401 is an answer)? A call that failed alone fails only its model; a server that is gone
        or stuck fails the run at once instead of one timeout per model."""
        try:
            answer = self._send("GET", self.base + "/health", None, None, (CONNECT_TIMEOUT, HEALTH_TIMEOUT))
        except requests.RequestException:
            return False
        return answer.status_code < 500

    def round_trip(self) -> float:
        """Seconds a call that asks the server for next to nothing takes (its /health, the quickest
        of three on a kept-alive connection): mostly the network's round trip. 0 when it does not answer."""
        taken = []
        for _ in range(3):
            started = time.monotonic()
            try:
                self._send("GET", self.base + "/health", None, None, (CONNECT_TIMEOUT, HEALTH_TIMEOUT))
            except requests.RequestException:
                return 0.0
            taken.append(time.monotonic() - started)
        return min(taken)

    def _send(self, method: str, url: str, params: dict[str, Any] | None, body: dict[str, Any] | None,
              timeout: tuple[float, float]) -> requests.Response:
        return self.session.request(method, url, params=params, json=body, timeout=timeout, allow_redirects=False,
                                    verify=self.session.verify)


def _session(base: str, credentials: MlflowCredentials, pool_size: int, stop: threading.Event) -> requests.Session:
    """A session for the server at `base`. What requests would look up in the environment on every
    call (proxies, `~/.netrc`), each a file or variable scan, is looked up once: all calls go to `base`."""
    session = requests.Session()
    session.trust_env = False
    session.proxies = requests.utils.get_environ_proxies(base)
    adapter = _QuickAckAdapter(max_bytes=MAX_ANSWER_BYTES, stop=stop, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if credentials.username and credentials.password:
        session.auth = (credentials.username, credentials.password)
    if credentials.token:
        session.headers["Authorization"] = f"Bearer {credentials.token}"
    session.verify = credentials.verify
    if credentials.client_cert:
        session.cert = credentials.client_cert
    if session.auth is None:  # as requests does: ~/.netrc when no user and password are set
        session.auth = requests.utils.get_netrc_auth(base)
    return session


# ------------------------------------------------------------------------- kept-alive connections


class _QuickAckSocket(socket.socket):
    """A socket that acknowledges every read at once.

    `mlflow server` (uvicorn) writes a response's headers and body separately without TCP_NODELAY,
    so on a kept-alive connection the body waits for the ACK of the headers, which Linux delays by
    about 40 ms: measured 50 ms per call, against 8 ms with an immediate ACK (and 5 ms on a fresh
    connection, which costs a handshake and a port per call instead).
    """

    __slots__ = ()  # the same layout as socket.socket, so an open socket can take this class

    def recv_into(self, *args: Any) -> int:
        count = super().recv_into(*args)
        self.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        return count


class _QuickAckConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        if hasattr(socket, "TCP_QUICKACK") and type(sock) is socket.socket:
            sock.__class__ = _QuickAckSocket
        return sock


class _QuickAckPool(WatchedHTTPPool):
    ConnectionCls = _QuickAckConnection


class _QuickAckAdapter(BoundedAdapter):
    http_pool = _QuickAckPool
