"""The stand-in itself: its settings and in-memory state, and serving on a free loopback port.

What it does with a request comes from the parts it is made of: the request log, fault injection,
routing, and the routes over services, models and ingestion pipelines.
"""

from __future__ import annotations

import ssl
import threading
from typing import Any, Callable

from tests.support.om_standin.faults import Fault, FaultInjection
from tests.support.om_standin.http_server import StandInServer
from tests.support.om_standin.models import ModelRoutes
from tests.support.om_standin.pipelines import PipelineRoutes
from tests.support.om_standin.request_log import RecordedRequest, RequestLog
from tests.support.om_standin.routing import Routing
from tests.support.om_standin.schema import now_ms
from tests.support.om_standin.services import ServiceRoutes


class OpenMetadataStandIn(RequestLog, FaultInjection, Routing, ServiceRoutes, ModelRoutes, PipelineRoutes):
    """A fake OpenMetadata server: real HTTP on loopback, in-memory state, recorded requests."""

    def __init__(self, *, token: str | None = None, version: str = "2.0.7",
                 api_prefix: str = "/api", bulk: bool = True, delete_stale: bool = True,
                 ssl_context: ssl.SSLContext | None = None,
                 token_validator: Callable[[str], bool] | None = None,
                 html_root: bool = False):
        self.token = token
        self.version = version
        self.api_prefix = "/" + api_prefix.strip("/") if api_prefix.strip("/") else ""
        self.bulk = bulk
        self.delete_stale = delete_stale
        self.ssl_context = ssl_context
        self.token_validator = token_validator
        self.html_root = html_root

        self.requests: list[RecordedRequest] = []
        self.services: dict[str, dict] = {}
        self.models: dict[str, dict] = {}
        self.pipelines: dict[str, dict] = {}
        """Ingestion pipelines by FQN."""
        self.pipeline_statuses: dict[str, dict[str, dict]] = {}
        """Each pipeline's run statuses, by run id, as last put."""
        self.fail_models: set[str] = set()
        self.status_override: dict[tuple[str, str], int] = {}
        self.faults: list[Fault] = []

        self._lock = threading.RLock()
        self._started_ms = now_ms()
        self._server: StandInServer | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._routes = self._build_routes()

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> "OpenMetadataStandIn":
        """Bind a free loopback port and serve in a daemon thread (idempotent)."""
        if self._server is None:
            self._server = StandInServer(self, self.ssl_context)
            self._port = self._server.server_address[1]
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                name=f"om-standin-{self._port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open connections, so later calls fail like an unreachable host."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "OpenMetadataStandIn":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        """Valid once started, and still after stop() (handy for "server unreachable" tests)."""
        if self._port is None:
            raise RuntimeError("OpenMetadataStandIn is not started")
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self._port}"

    @property
    def url(self) -> str:
        """What a user would put in ``hostPort``: the root URL plus the API prefix."""
        return self.root_url + self.api_prefix
