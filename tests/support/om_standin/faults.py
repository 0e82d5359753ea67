"""Faults a test injects into the stand-in (error statuses, slow answers, resets, partial bulk
failures), met by requests in the order they were injected."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import unquote

from tests.support.om_standin.http_server import Response


@dataclass(eq=False)
class Fault:
    """A misbehaviour injected with ``OpenMetadataStandIn.inject``; ``hits`` counts the requests it met."""

    method: str
    path_suffix: str
    status: int | None = None
    message: str = "injected fault"
    retry_after: float | str | None = None
    delay: float = 0.0
    reset: bool = False
    partial_bulk_fail: frozenset[str] = frozenset()
    times: int | None = 1  # None: every matching request
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Whether it applies to this request and has uses left (the path as sent, or decoded)."""
        return ((self.times is None or self.hits < self.times) and method == self.method
                and (path.endswith(self.path_suffix) or unquote(path).endswith(self.path_suffix)))


class FaultInjection:
    """Faults met in the order they were injected; the stand-in takes one per request under `_lock`."""

    faults: list[Fault]
    _lock: threading.RLock

    def inject(self, method: str, path_suffix: str, *, status: int | None = None,
               message: str = "injected fault", retry_after: float | str | None = None,
               delay: float = 0.0, reset: bool = False, partial_bulk_fail: Iterable[str] = (),
               times: int | None = 1) -> Fault:
        """Make the next ``times`` requests (None: every one) with this method, whose path ends with
        ``path_suffix``, misbehave as a real server or a proxy in front of it does. Faults are met
        in the order they were injected; one that has met ``times`` requests is spent.

        - ``status``: answer ``{"code": status, "message": message}`` without handling the request
          (a proxy's 502 or 504, an overloaded server's 503 or 429), with ``Retry-After:
          retry_after`` when that is given.
        - ``partial_bulk_fail``: handle a bulk PUT, but put these model names in its
          ``failedRequest`` (status 500, ``message``) instead of storing them.
        - ``delay``: wait this many seconds before answering. The request is handled first, as on a
          slow server, so a client that gave up waiting has still written.
        - ``reset``: handle the request, send the head and half the body, then reset the connection.

        Returns the fault: its ``hits`` counts the requests it met, and each of them is recorded
        with ``fault`` set, so a test can count the retries.
        """
        if status is not None and partial_bulk_fail:
            raise ValueError("a fault either answers an error status or fails bulk entries, not both")
        if status is None and not partial_bulk_fail and not delay and not reset:
            raise ValueError("a fault needs a status, partial_bulk_fail, a delay or reset")
        fault = Fault(method.upper(), path_suffix.split("?", 1)[0], status, message, retry_after,
                      delay, reset, frozenset(partial_bulk_fail), times)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        """The first fault this request meets, counted as met. The caller holds the lock."""
        fault = next((f for f in self.faults if f.matches(method, path)), None)
        if fault is not None:
            fault.hits += 1
        return fault

    @staticmethod
    def _fault_answer(fault: Fault) -> Response:
        response = Response.error(fault.status, fault.message)
        if fault.retry_after is not None:
            response.headers["Retry-After"] = str(fault.retry_after)
        return response
