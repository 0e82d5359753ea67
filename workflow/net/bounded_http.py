"""Bounds on what a server sends back: the whole answer within a deadline, and at most so many bytes.

requests' read timeout bounds each wait for a byte, not the answer: a server that sends one byte a
second (headers or body) or an endless chunked body holds a call, and the run, for ever, and a huge
body fills memory. `BoundedAdapter` gives every call of a session a deadline for its complete answer
(headers and body) and a size limit: past the deadline a watchdog shuts the call's connection down,
so even a read blocked inside the HTTP library returns at once. With the run's cancel event (`stop`),
a call still waiting `CANCEL_GRACE` seconds after the cancel is cut off the same way: the first Ctrl-C
or SIGTERM ends a run within seconds whatever a server is doing.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

CHUNK = 64 * 1024
CANCEL_GRACE = 2.0
"""Seconds a call may still take once the run is cancelled: the models in flight to a server that answers
are finished and sent in that time; a call to one that does not is given up."""
POLL = 0.1


class AnswerTooSlow(requests.exceptions.ReadTimeout):
    """The complete answer did not arrive within the call's deadline (a read timeout, for retry rules)."""


class AnswerTooBig(requests.exceptions.RequestException):
    """The answer's body was over the size limit; reading stopped there."""


class _Watch:
    """One call's deadline: the connection it uses, shut down when the deadline passes."""

    def __init__(self, seconds: float, stop: threading.Event | None) -> None:
        self.end = time.monotonic() + seconds
        self.stop = stop
        self.expired = False
        self.cancelled = False
        self.done = False
        self.connection: Any = None
        self._lock = threading.Lock()

    def finish(self) -> None:
        """The answer is complete: from now on the connection may serve another call, never to be shut."""
        with self._lock:
            self.done = True

    def due(self, now: float) -> bool:
        """Whether the call is past its deadline, or `CANCEL_GRACE` seconds past the run's cancel."""
        if self.stop is not None and self.stop.is_set() and not self.cancelled:
            self.cancelled = True
            self.end = min(self.end, now + CANCEL_GRACE)
        return now >= self.end

    def error(self, url: str | None, seconds: float, **kwargs: Any) -> "AnswerTooSlow":
        if self.cancelled:
            return AnswerTooSlow(f"{_where(url)} had not answered {CANCEL_GRACE:g} s after the run was cancelled",
                                 **kwargs)
        return AnswerTooSlow(f"no complete answer from {_where(url)} within {seconds:g} s", **kwargs)

    def attach(self, connection: Any) -> None:
        with self._lock:
            self.connection = connection
            expired = self.expired
        if expired:
            self._shut(connection)

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            connection = self.connection
        if connection is not None:
            self._shut(connection)

    @staticmethod
    def _shut(connection: Any) -> None:
        sock = getattr(connection, "sock", None)
        if sock is not None:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One thread for every call in flight, waking each `POLL` seconds to expire the calls past their
    deadline. A thread per call would cost a thread start per request (hundreds a second in a run);
    this one exits when no call is left and starts again with the next."""

    def __init__(self) -> None:
        self.watches: set[_Watch] = set()
        self.running = False
        self._lock = threading.Lock()

    def add(self, watch: _Watch) -> None:
        with self._lock:
            self.watches.add(watch)
            if not self.running:
                self.running = True
                threading.Thread(target=self._run, name="deadline", daemon=True).start()

    def remove(self, watch: _Watch) -> None:
        with self._lock:
            self.watches.discard(watch)

    def _run(self) -> None:
        while True:
            time.sleep(POLL)
            now = time.monotonic()
            with self._lock:
                if not self.watches:
                    self.running = False
                    return
                due = [watch for watch in self.watches if watch.due(now)]
                self.watches.difference_update(due)
            for watch in due:
                watch.expire()


_WATCHDOG = _Watchdog()
os.register_at_fork(after_in_child=_WATCHDOG.__init__)  # a forked child has none of its parent's threads

_calls = threading.local()


class _WatchedPool:
    """A connection pool that tells the calling thread's watch which connection its call got."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        connection = super()._get_conn(timeout)  # type: ignore[misc]
        watch = getattr(_calls, "watch", None)
        if watch is not None:
            watch.attach(connection)
        return connection


class WatchedHTTPPool(_WatchedPool, HTTPConnectionPool):
    pass


class WatchedHTTPSPool(_WatchedPool, HTTPSConnectionPool):
    pass


class BoundedAdapter(HTTPAdapter):
    """An adapter whose calls each get `deadline(timeout)` seconds for the whole answer and at most
    `max_bytes` of body. The body is read here (`stream=True` callers get it read as well), so a
    response that returns is complete."""

    http_pool: type[HTTPConnectionPool] = WatchedHTTPPool

    def __init__(self, *, max_bytes: int, stop: threading.Event | None = None, **kwargs: Any):
        self.max_bytes = max_bytes
        self.stop = stop
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": self.http_pool, "https": WatchedHTTPSPool}

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             **kwargs: Any) -> requests.Response:
        seconds = deadline(timeout)
        watch = _Watch(seconds, self.stop)
        _calls.watch = watch
        _WATCHDOG.add(watch)
        try:
            response = super().send(request, stream=True, timeout=timeout, **kwargs)
            _calls.watch = None  # the body is read on this connection; no new one is taken
            self._read_body(response, request.url or "", watch, seconds)
            return response
        except requests.RequestException as exc:
            if watch.expired and not isinstance(exc, AnswerTooBig):
                raise watch.error(request.url, seconds, request=request) from None
            raise
        finally:
            _calls.watch = None
            _WATCHDOG.remove(watch)

    def _read_body(self, response: requests.Response, url: str, watch: _Watch, seconds: float) -> None:
        body = bytearray()
        try:
            for chunk in response.raw.stream(CHUNK, decode_content=True):
                body += chunk
                if len(body) > self.max_bytes:
                    raise AnswerTooBig(f"the answer from {_where(url)} is over {self.max_bytes // 2**20} MB; "
                                       "reading stopped there", response=response)
                if watch.expired:
                    raise watch.error(url, seconds, response=response)
        except (requests.RequestException, OSError, ValueError) as exc:
            response.close()
            if isinstance(exc, requests.RequestException):
                raise
            raise requests.exceptions.ConnectionError(exc, response=response) from None
        except Exception as exc:  # noqa: BLE001 - urllib3's errors of a broken body (protocol, decoding)
            response.close()
            raise requests.exceptions.ConnectionError(exc, response=response) from None
        watch.finish()
        if watch.expired:  # shut down just as the body ended: it may be cut short
            response.close()
            raise watch.error(url, seconds, response=response)
        response._content = bytes(body)  # noqa: SLF001 - what requests sets when it reads the body itself
        response._content_consumed = True  # noqa: SLF001
        response.raw.release_conn()


def deadline(timeout: Any) -> float:
    """Seconds for a complete answer: the connect timeout plus the read timeout, which so bounds the
    whole answer instead of each wait for a byte."""
    if isinstance(timeout, tuple):
        connect, read = timeout
        return float(connect or 0) + float(read or 0)
    return float(timeout) if timeout else 60.0


def _where(url: str | None) -> str:
    """The URL for a message: without its query and without any user-info (a password or a token)."""
    parts = urlsplit((url or "").split("?")[0])
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))
