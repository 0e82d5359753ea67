"""What a test reads on the stand-in: the log of the requests it received, each as it arrived."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from tests.support.om_standin.faults import Fault


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stand-in received it (recorded before it is answered)."""

    method: str
    path: str  # as sent (still percent-encoded), without the query string
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: Any  # parsed JSON, or None when the body was empty or not JSON
    fault: Fault | None = None  # the injected fault this request met, if any
    received: float = 0.0  # time.monotonic() on arrival, to measure the waits between retries


class RequestLog:
    """The stand-in's record of requests; it appends to `requests` under `_lock` as each arrives."""

    requests: list[RecordedRequest]
    _lock: threading.RLock

    def requests_to(self, method: str, path_suffix: str) -> list[RecordedRequest]:
        """Recorded requests with this method whose path ends with ``path_suffix``.

        The suffix's query string is ignored; it may be given percent-encoded or decoded.
        """
        suffix = path_suffix.split("?", 1)[0]
        with self._lock:
            recorded = list(self.requests)
        return [r for r in recorded if r.method == method.upper()
                and (r.path.endswith(suffix) or unquote(r.path).endswith(suffix))]

    def calls_beyond_probes(self) -> list[RecordedRequest]:
        """Every request but the anonymous `GET .../system/version` reachability probes.

        `metadata ingest` and `test-connection` first ask for the version without credentials, to tell a
        server that is down from credentials that are wrong; tests about credentials look past those.
        """
        with self._lock:
            recorded = list(self.requests)
        return [r for r in recorded if not (r.method == "GET" and r.path.endswith("/system/version")
                                            and "authorization" not in r.headers)]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()
