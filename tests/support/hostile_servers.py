"""Small hostile HTTP servers for tests: what a broken, slow or malicious MLflow or OpenMetadata sends.

`HostileServer` listens on 127.0.0.1 (a free port) and answers each request by the first route whose
method and path prefix match (and whose `when` accepts the query); with an `upstream`, every other
request is forwarded there, so a real stand-in can serve the calls a test does not make hostile.
Routes are behaviours:

- `answer(body)`: JSON (or text) with a status, as any server would;
- `trickle(interval)`: the status line and headers one byte per `interval` seconds, for ever;
- `endless_chunked()`: a chunked body that never ends, as fast as the client reads it.

`mlflow_routes(...)` makes one a minimal MLflow tracking server (the REST calls a run makes).
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import requests

Behaviour = Callable[["_Handler", dict[str, str]], None]


@dataclass
class Route:
    method: str
    prefix: str
    behaviour: Behaviour
    when: Callable[[dict[str, str]], bool] | None = None


class HostileServer:
    def __init__(self, routes: list[Route] | None = None, upstream: str | None = None):
        self.routes = list(routes or [])
        self.upstream = upstream.rstrip("/") if upstream else None
        self.requests: list[tuple[str, str]] = []
        self.stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.hostile = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "HostileServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def count(self, prefix: str) -> int:
        return sum(1 for _, path in self.requests if path.startswith(prefix))

    def route_for(self, method: str, path: str, query: dict[str, str]) -> Route | None:
        return next((r for r in self.routes if r.method == method and path.startswith(r.prefix)
                     and (r.when is None or r.when(query))), None)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        server: HostileServer = self.server.hostile  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        server.requests.append((self.command, parts.path))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        route = server.route_for(self.command, parts.path, query)
        try:
            if route is not None:
                route.behaviour(self, query)
            elif server.upstream:
                self._forward(server.upstream, body)
            else:
                answer({"error_code": "ENDPOINT_NOT_FOUND", "message": "no such route"}, 404)(self, query)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _handle  # noqa: N815 - http.server's naming

    def _forward(self, upstream: str, body: bytes) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        reply = requests.request(self.command, upstream + self.path, headers=headers, data=body or None,
                                 timeout=30, allow_redirects=False)
        self.send(reply.status_code, reply.content, reply.headers.get("Content-Type", "application/json"))

    def send(self, status: int, content: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


# ------------------------------------------------------------------------------------------ behaviours


def answer(body: Any, status: int = 200) -> Behaviour:
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    kind = "text/plain" if isinstance(body, str) else "application/json"
    return lambda handler, query: handler.send(status, content, kind)


def trickle(interval: float = 1.0) -> Behaviour:
    """An answer that never completes: one byte of its head every `interval` seconds."""
    def behaviour(handler: _Handler, query: dict[str, str]) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: " + b"x" * 1_000_000
        stopping = handler.server.hostile.stopping  # type: ignore[attr-defined]
        for byte in head:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            if stopping.wait(interval):
                break
        handler.close_connection = True
    return behaviour


def endless_chunked() -> Behaviour:
    """A 200 whose chunked JSON body never ends."""
    def behaviour(handler: _Handler, query: dict[str, str]) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        chunk = b"[" + b"0," * 32_000
        stopping = handler.server.hostile.stopping  # type: ignore[attr-defined]
        while not stopping.is_set():
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        handler.close_connection = True
    return behaviour


# ----------------------------------------------------------------------------------- a minimal MLflow

MLFLOW_API = "/api/2.0/mlflow"


def mlflow_routes(names: list[str], *, mlmodels: dict[str, str] | None = None, listing: Behaviour | None = None,
                  run_listing_only: bool = True) -> list[Route]:
    """Routes of an MLflow server holding `names`, each with version 1 of run `run-<name>` and, when
    `mlmodels` has it, an MLmodel file. `listing` replaces the answer to the run's listing (1,000 per
    page; the checks list with max_results 1 or a few, and are answered normally)."""
    mlmodels = mlmodels or {}

    def models(query: dict[str, str]) -> dict[str, Any]:
        return {"registered_models": [{"name": n, "latest_versions": [
            {"name": n, "version": "1", "run_id": f"run-{n}", "source": f"models:/m-{n}"}]} for n in names]}

    def run(handler: _Handler, query: dict[str, str]) -> None:
        answer({"run": {"info": {"artifact_uri": "file:///tmp/artifacts"}, "data": {"params": [], "tags": []}}})(
            handler, query)

    def artifact(handler: _Handler, query: dict[str, str]) -> None:
        text = mlmodels.get(query.get("name", ""))
        if text is None:
            answer({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no MLmodel"}, 404)(handler, query)
        else:
            answer(text)(handler, query)

    full_listing = (lambda query: query.get("max_results") == "1000") if run_listing_only else None
    routes = [Route("GET", "/health", answer("OK")),
              Route("GET", MLFLOW_API + "/runs/get", run),
              Route("GET", "/model-versions/get-artifact", artifact),
              Route("GET", MLFLOW_API + "/model-versions/search", answer({"model_versions": []}))]
    if listing is not None:
        routes.append(Route("GET", MLFLOW_API + "/registered-models/search", listing, when=full_listing))
    routes.append(Route("GET", MLFLOW_API + "/registered-models/search",
                        lambda handler, query: answer(models(query))(handler, query)))
    return routes


def waited(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False
