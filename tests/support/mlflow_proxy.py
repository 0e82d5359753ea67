"""An HTTP proxy in front of the real `mlflow server` that fails on demand, for fault tests.

It forwards every request to the server and can:

- go down, as when the MLflow process stops: its port then refuses connections and the connections
  it had open are closed. `down_after = N` goes down after N requests; `go_down_at(path, nth=)` goes
  down at the nth request whose path matches (e.g. the listing's second page). `start()` again
  brings it back on the same port, with the trigger that fired disarmed.
- `hang()`: from then on hold every request unanswered until it stops (MLflow is stuck);
  `hang_at(path, nth=)` does so from the nth request whose path matches.
- `inject(path, kind, ...)` per request path, so a test says "the third `runs/get` is reset" rather
  than guessing which TCP connection carries it:
  "reset" (half the answer, then a TCP reset), "delay" (the answer after `seconds`), "drop" (the
  connection closed with no answer), "status" (an HTTP `status` such as 503, as a gateway in front of
  MLflow answers, optionally with `retry_after`; MLflow is not asked).

A path is matched as a substring of the request's path and query, or with `re.search` when it is a
compiled pattern. `requests` records every request (path and query, time of arrival) in order.
"""
from __future__ import annotations

import re
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Union

import requests

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}
FAULT_KINDS = {"reset", "delay", "drop", "status"}

PathMatch = Union[str, "re.Pattern[str]"]


def matches(path_pattern: PathMatch, path: str) -> bool:
    if isinstance(path_pattern, re.Pattern):
        return path_pattern.search(path) is not None
    return path_pattern in path


@dataclass(eq=False)
class Fault:
    path_part: PathMatch
    kind: str  # one of FAULT_KINDS
    times: int | None = 1  # None: every matching request
    seconds: float = 0.0  # "delay"
    status: int = 503  # "status"
    retry_after: str | None = None  # "status": the Retry-After header, if any
    hits: int = 0
    met: list[str] = field(default_factory=list)  # the paths of the requests it hit

    def takes(self, path: str) -> bool:
        return (self.times is None or self.hits < self.times) and matches(self.path_part, path)


@dataclass
class _Trigger:
    path: PathMatch
    nth: int  # matching requests still to come before it fires, this one included
    action: str  # "down" or "hang"


@dataclass(frozen=True)
class Request:
    path: str  # path and query, as sent
    at: float  # time.monotonic() on arrival


class MlflowProxy:
    def __init__(self, target: str):
        self.target = target.rstrip("/")
        self.port: int | None = None
        self.forwarded = 0
        self.down_after: int | None = None
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self.went_down = False
        """Whether a trigger took it down (it stays true after a restart)."""
        self._went_down = threading.Event()
        self._triggers: list[_Trigger] = []
        self._down = False
        self._hanging = threading.Event()
        self._released = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._stopping: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    # --------------------------------------------------------------------------------- lifecycle

    def start(self) -> "MlflowProxy":
        """Listen (on the same port as before, after a stop) and serve in a daemon thread."""
        if self._stopping is not None:  # a trigger is still closing the previous server
            self._stopping.join()
            self._stopping = None
        proxy = self

        class Handler(_Forwarder):
            owner = proxy

        server = _Server(("127.0.0.1", self.port or 0), Handler)
        with self._lock:
            self._down = False
            self._hanging.clear()
            self._released.clear()
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Close the port and the open connections: new connections are refused, as when the MLflow
        process has stopped. Requests held by `hang()` are let go, unanswered."""
        with self._lock:
            self._down = True
            connections = list(self._connections)
            server, self._server = self._server, None
        self._released.set()
        if server is not None:
            server.shutdown()
            server.server_close()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> "MlflowProxy":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        if self._stopping is not None:
            self._stopping.join()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------------------------ faults

    def inject(self, path_part: PathMatch, kind: str, *, times: int | None = 1, seconds: float = 0.0,
               status: int = 503, retry_after: str | None = None) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}: one of {sorted(FAULT_KINDS)}")
        fault = Fault(path_part, kind, times, seconds, status, retry_after)
        with self._lock:
            self.faults.append(fault)
        return fault

    def go_down_at(self, path: PathMatch, *, nth: int = 1) -> None:
        """Go down at the `nth` request matching `path`: that request's connection is reset, and the
        port closes."""
        with self._lock:
            self._triggers.append(_Trigger(path, nth, "down"))

    def hang(self) -> None:
        """From now on, hold every request unanswered until the proxy stops."""
        self._hanging.set()

    def hang_at(self, path: PathMatch, *, nth: int = 1) -> None:
        """`hang()` from the `nth` request matching `path` on, that request included."""
        with self._lock:
            self._triggers.append(_Trigger(path, nth, "hang"))

    def wait_down(self, timeout: float) -> bool:
        """Wait until a trigger takes the proxy down; False if none did within `timeout` seconds."""
        return self._went_down.wait(timeout)

    def count(self, path: PathMatch) -> int:
        """How many requests matching `path` arrived (including refused, dropped and failed ones)."""
        with self._lock:
            return sum(1 for seen in self.requests if matches(path, seen.path))

    # ---------------------------------------------------------------------------------- requests

    def _admit(self, path: str) -> str:
        """Records the request and says what becomes of it: "forward", "hang", or "down" (the proxy is
        down, or goes down with this request)."""
        with self._lock:
            self.requests.append(Request(path, time.monotonic()))
            if self._down:
                return "down"
            fired = []
            if self.down_after is not None and self.forwarded >= self.down_after:
                self.down_after = None
                fired.append("down")
            for trigger in list(self._triggers):
                if matches(trigger.path, path):
                    trigger.nth -= 1
                    if trigger.nth <= 0:
                        self._triggers.remove(trigger)
                        fired.append(trigger.action)
            if "down" in fired:
                self._down = self.went_down = True
                self._went_down.set()
                self._stopping = threading.Thread(target=self.stop, daemon=True)
                self._stopping.start()
                return "down"
            if "hang" in fired:
                self._hanging.set()
            if self._hanging.is_set():
                return "hang"
            self.forwarded += 1
            return "forward"

    def _fault_for(self, path: str, kinds: set[str]) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.kind in kinds and fault.takes(path):
                    fault.hits += 1
                    fault.met.append(path)
                    return fault
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # the client gave up, or the proxy went down under the request: expected here
        super().handle_error(request, client_address)


class _Forwarder(BaseHTTPRequestHandler):
    owner: MlflowProxy
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        with self.owner._lock:
            self.owner._connections.add(self.connection)

    def finish(self) -> None:
        with self.owner._lock:
            self.owner._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        try:
            self._forward()
        except OSError:  # the client went away (e.g. its read timeout), or the proxy went down
            self.close_connection = True

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET  # noqa: N815

    def _forward(self) -> None:
        proxy = self.owner
        fate = proxy._admit(self.path)
        if fate == "down":
            self._reset()
            return
        if fate == "hang":
            proxy._released.wait(60)
            self.close_connection = True  # let go with no answer
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        before = proxy._fault_for(self.path, {"drop", "status"})
        if before and before.kind == "drop":
            self.close_connection = True  # closed with no answer: the client sees the connection drop
            return
        if before and before.kind == "status":
            self._answer(before.status, HTTPStatus(before.status).phrase.encode(), {"Content-Type": "text/plain"} |
                         ({"Retry-After": before.retry_after} if before.retry_after else {}))
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS | {"host"}}
        # A new connection for every request: a kept-alive one the server has just closed would be a
        # fault of the proxy's own (a race the client cannot win), not one a test asked for.
        answer = requests.request(self.command, proxy.target + self.path, data=body or None,
                                  headers=headers | {"Connection": "close"}, timeout=60, allow_redirects=False)
        fault = proxy._fault_for(self.path, {"delay", "reset"})
        if fault and fault.kind == "delay":
            time.sleep(fault.seconds)
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
        if fault and fault.kind == "reset":
            self._answer(answer.status_code, answer.content, headers, cut=True)
            return
        self._answer(answer.status_code, answer.content, headers)

    def _answer(self, status: int, content: bytes, headers: dict[str, str], *, cut: bool = False) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if cut:
            self.wfile.write(content[: len(content) // 2])
            self.wfile.flush()
            self._reset()
            return
        self.wfile.write(content)

    def _reset(self) -> None:
        """Close with RST instead of FIN: the client sees "connection reset by peer"."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass
