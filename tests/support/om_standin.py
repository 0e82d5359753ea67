"""An in-process stand-in for the OpenMetadata 2.0.x REST API (MLflow ingestion subset).

The real OpenMetadata server is a Java service that cannot run in the test environment.
This module answers the calls that an MLflow ``metadata ingest`` run makes (see the
reference ``openmetadata-ingestion.md`` sections 4-6) with the same paths, JSON bodies,
status codes and ``{"code": <int>, "message": "..."}`` error bodies, so that client code
written against it also works against a real server.  Every request is recorded so that
tests can assert on exactly what was sent.  Faults can be injected on demand (error statuses with
or without ``Retry-After``, slow answers, connection resets, partial bulk failures; see
``OpenMetadataStandIn.inject``), and the requests that met one are recorded with it.

Standard library only: a ``ThreadingHTTPServer`` in a daemon thread, optionally behind TLS.

    with OpenMetadataStandIn(token="secret") as om:
        run_ingestion(host_port=om.url, jwt="secret")
        assert om.requests_to("PUT", "/v1/mlmodels/bulk")

        fault = om.inject("PUT", "/v1/mlmodels/bulk", status=503, times=2)
        run_ingestion(host_port=om.url, jwt="secret")
        assert fault.hits == 2
"""

from __future__ import annotations

import base64
import json
import re
import socket
import struct
import sys
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, unquote

__all__ = ["Fault", "OpenMetadataStandIn", "RecordedRequest", "fqn_part"]

ML_SERVICE_TYPES = frozenset({"Mlflow", "Sklearn", "CustomMlModel", "SageMaker", "VertexAI"})
FEATURE_DATA_TYPES = frozenset({"numerical", "categorical"})

# Top-level keys of CreateMlModelRequest (openmetadata-spec createMlModel.json). Jackson rejects others.
CREATE_MLMODEL_FIELDS = frozenset({
    "name", "displayName", "description", "algorithm", "mlFeatures", "target",
    "mlHyperParameters", "dashboard", "mlStore", "server", "tags", "owners", "service",
    "extension", "sourceUrl", "domains", "dataProducts", "lifeCycle", "sourceHash",
})
CREATE_SERVICE_FIELDS = frozenset({
    "name", "displayName", "description", "serviceType", "connection", "tags", "owners",
    "dataProducts", "domains", "ingestionRunner", "extension",
})
ML_FEATURE_FIELDS = frozenset({
    "name", "dataType", "description", "fullyQualifiedName", "featureSources",
    "featureAlgorithm", "tags",
})
HYPER_PARAMETER_FIELDS = frozenset({"name", "value", "description"})
# CreateIngestionPipeline, PipelineStatus and StepSummary (openmetadata-spec), for a run that names its pipeline.
CREATE_PIPELINE_FIELDS = frozenset({
    "name", "displayName", "description", "pipelineType", "sourceConfig", "airflowConfig", "loggerLevel",
    "raiseOnError", "service", "owners", "domains", "provider", "enableStreamableLogs", "processingEngine",
    "ingestionRunner",
})
PIPELINE_TYPES = frozenset({"metadata", "usage", "lineage", "profiler", "autoClassification", "TestSuite",
                            "dataInsight", "elasticSearchReindex", "dbt", "application"})
PIPELINE_STATUS_FIELDS = frozenset({"runId", "pipelineState", "startDate", "timestamp", "endDate", "status",
                                    "config", "metadata"})
PIPELINE_STATES = frozenset({"queued", "success", "failed", "running", "partialSuccess"})
STEP_SUMMARY_FIELDS = frozenset({"name", "records", "updated_records", "warnings", "errors", "filtered",
                                 "failures", "progress", "operationMetrics", "sourceTimeMs", "sinkTimeMs"})
ML_STORE_FIELDS = frozenset({"storage", "imageRepository"})

# Entity keys the server owns; everything else in a stored model came from the create request.
SERVER_MANAGED_FIELDS = frozenset({
    "id", "fullyQualifiedName", "version", "updatedAt", "updatedBy", "href", "deleted",
    "service", "changeDescription",
})

MAX_LIST_LIMIT = 1_000_000
DEFAULT_LIST_LIMIT = 10

HTML_NOT_FOUND = b"<html><body>Not Found</body></html>"
HTML_ROOT_PAGE = b"<!DOCTYPE html><html><head><title>Web server</title></head><body>It works</body></html>"

TEST_CONNECTION_DEFINITION_FQN = "Mlflow.testConnectionDefinition"
TEST_CONNECTION_DEFINITION = {
    "id": "5c6b6f47-6d6c-4f77-8b4e-000000000001",
    "name": "Mlflow",
    "fullyQualifiedName": TEST_CONNECTION_DEFINITION_FQN,
    "displayName": "Mlflow Test Connection",
    "description": "This Test Connection validates the access against the server and basic "
                   "metadata extraction of workbooks and views.",
    "steps": [{"name": "GetModels", "description": "List all the models available to the user.",
               "mandatory": True}],
    "version": 0.1,
    "updatedBy": "admin",
    "deleted": False,
}


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


class ApiError(Exception):
    """Raised by route handlers; becomes ``{"code": status, "message": message}``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def fqn_part(name: str) -> str:
    """Quote one FQN component the way OpenMetadata does: wrap in double quotes iff it has a dot."""
    return f'"{name}"' if "." in name else name


def _now_ms() -> int:
    return int(time.time() * 1000)


def _bump(version: float) -> float:
    """Minor version bump (0.1 -> 0.2) without float noise such as 0.30000000000000004."""
    return round(version + 0.1, 1)


def _bulk_result(successes: list[dict], failures: list[dict]) -> dict:
    """Build a BulkOperationResult; 'failure' only when every processed row failed."""
    processed = len(successes) + len(failures)
    if not failures:
        status = "success"
    elif not successes:
        status = "failure"
    else:
        status = "partialSuccess"
    return {
        "status": status,
        "numberOfRowsProcessed": processed,
        "numberOfRowsPassed": len(successes),
        "numberOfRowsFailed": len(failures),
        "successRequest": successes,
        "failedRequest": failures,
        "dryRun": False,
    }


def _encode_cursor(fqn: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"fqn": fqn}).encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))["fqn"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError(400, f"Invalid cursor: {cursor}") from exc


# --------------------------------------------------------------------------------------------
# Request validation (mirrors bean validation + Jackson on the Java side)
# --------------------------------------------------------------------------------------------

def _reject_unknown(obj: dict, allowed: frozenset, java_class: str) -> None:
    """Jackson fails on unknown properties; catching them here catches client typos early."""
    for key in obj:
        if key not in allowed:
            raise ApiError(400, f'Unrecognized field "{key}" (class {java_class}), not marked as ignorable')


def _require_str(obj: dict, key: str, where: str = "") -> None:
    if obj.get(key) is None:
        raise ApiError(400, f"[{where}{key} must not be null]")
    if not isinstance(obj[key], str):
        raise ApiError(400, f"[{where}{key} must be a string]")


def _optional_str(obj: dict, key: str, where: str = "") -> None:
    if obj.get(key) is not None and not isinstance(obj[key], str):
        raise ApiError(400, f"[{where}{key} must be a string]")


def _list_of_objects(obj: dict, key: str) -> list[dict]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ApiError(400, f"[{key} must be a list of objects]")
    return value


def _validate_entity_name(name: Any, what: str) -> None:
    if not isinstance(name, str) or not name:
        raise ApiError(400, f"[name must not be null or empty] ({what})")
    if len(name) > 256:
        raise ApiError(400, "[name size must be between 1 and 256]")


def _validate_ml_features(create: dict) -> None:
    for i, feature in enumerate(_list_of_objects(create, "mlFeatures")):
        _reject_unknown(feature, ML_FEATURE_FIELDS, "org.openmetadata.schema.type.MlFeature")
        _require_str(feature, "name", f"mlFeatures[{i}].")
        data_type = feature.get("dataType")
        if data_type is not None and data_type not in FEATURE_DATA_TYPES:
            # Typical client bug: sending the Python enum repr "FeatureType.numerical".
            raise ApiError(400, f'Cannot construct instance of `FeatureType`, problem: "{data_type}" '
                                f"(mlFeatures[{i}].dataType must be one of numerical, categorical)")


def _validate_hyper_parameters(create: dict) -> None:
    for i, param in enumerate(_list_of_objects(create, "mlHyperParameters")):
        _reject_unknown(param, HYPER_PARAMETER_FIELDS, "org.openmetadata.schema.type.MlHyperParameter")
        _require_str(param, "name", f"mlHyperParameters[{i}].")
        _optional_str(param, "value", f"mlHyperParameters[{i}].")


def _validate_ml_store(create: dict) -> None:
    store = create.get("mlStore")
    if store is None:
        return
    if not isinstance(store, dict):
        raise ApiError(400, "[mlStore must be an object]")
    _reject_unknown(store, ML_STORE_FIELDS, "org.openmetadata.schema.type.MlStore")
    _optional_str(store, "storage", "mlStore.")
    _optional_str(store, "imageRepository", "mlStore.")


def validate_create_mlmodel(create: Any) -> None:
    """Check a CreateMlModelRequest; raise ApiError(400) like the server's validation would."""
    if not isinstance(create, dict):
        raise ApiError(400, "Cannot deserialize CreateMlModel from a non-object value")
    _reject_unknown(create, CREATE_MLMODEL_FIELDS, "org.openmetadata.schema.api.data.CreateMlModel")
    _validate_entity_name(create.get("name"), "CreateMlModel")
    if '"' in create["name"]:
        raise ApiError(400, f"[name must not contain double quotes: {create['name']}]")
    _require_str(create, "algorithm")
    _require_str(create, "service")
    for key in ("description", "displayName", "sourceUrl", "target", "dashboard", "server"):
        _optional_str(create, key)
    source_hash = create.get("sourceHash")
    if source_hash is not None and (not isinstance(source_hash, str) or not 1 <= len(source_hash) <= 32):
        raise ApiError(400, "[sourceHash size must be between 1 and 32]")
    for key in ("tags", "owners", "domains", "dataProducts"):
        if create.get(key) is not None and not isinstance(create[key], list):
            raise ApiError(400, f"[{key} must be a list]")
    _validate_ml_features(create)
    _validate_hyper_parameters(create)
    _validate_ml_store(create)


def validate_create_service(create: Any) -> None:
    """Check a CreateMlModelServiceRequest; raise ApiError(400) on anything the server rejects."""
    if not isinstance(create, dict):
        raise ApiError(400, "Cannot deserialize CreateMlModelService from a non-object value")
    _reject_unknown(create, CREATE_SERVICE_FIELDS,
                    "org.openmetadata.schema.api.services.CreateMlModelService")
    _validate_entity_name(create.get("name"), "CreateMlModelService")
    service_type = create.get("serviceType")
    if service_type not in ML_SERVICE_TYPES:
        raise ApiError(400, f"[serviceType must be one of {sorted(ML_SERVICE_TYPES)}, got {service_type!r}]")
    if create.get("connection") is not None and not isinstance(create["connection"], dict):
        raise ApiError(400, "[connection must be an object]")


def validate_create_pipeline(create: Any) -> None:
    """Check a CreateIngestionPipeline; raise ApiError(400) on anything the server rejects."""
    if not isinstance(create, dict):
        raise ApiError(400, "Cannot deserialize CreateIngestionPipeline from a non-object value")
    _reject_unknown(create, CREATE_PIPELINE_FIELDS, "org.openmetadata.schema.api.services.ingestionPipelines"
                                                    ".CreateIngestionPipeline")
    _validate_entity_name(create.get("name"), "CreateIngestionPipeline")
    if create.get("pipelineType") not in PIPELINE_TYPES:
        raise ApiError(400, f"[pipelineType must be one of {sorted(PIPELINE_TYPES)}, got {create.get('pipelineType')!r}]")
    for key in ("sourceConfig", "airflowConfig", "service"):
        if not isinstance(create.get(key), dict):
            raise ApiError(400, f"[{key} must not be null]")
    _require_str(create["service"], "id", "service.")
    _require_str(create["service"], "type", "service.")


def validate_pipeline_status(status: Any) -> None:
    """Check a PipelineStatus and its StepSummary list; raise ApiError(400) on anything the server rejects."""
    if not isinstance(status, dict):
        raise ApiError(400, "Cannot deserialize PipelineStatus from a non-object value")
    _reject_unknown(status, PIPELINE_STATUS_FIELDS, "org.openmetadata.schema.entity.services.ingestionPipelines"
                                                    ".PipelineStatus")
    _require_str(status, "runId")
    if status.get("pipelineState") not in PIPELINE_STATES:
        raise ApiError(400, f"[pipelineState must be one of {sorted(PIPELINE_STATES)}, got {status.get('pipelineState')!r}]")
    for key in ("startDate", "timestamp", "endDate"):
        if status.get(key) is not None and not isinstance(status[key], int):
            raise ApiError(400, f"[{key} must be a timestamp in milliseconds]")
    for step in _list_of_objects(status, "status"):
        _reject_unknown(step, STEP_SUMMARY_FIELDS, "org.openmetadata.schema.entity.services.ingestionPipelines"
                                                   ".StepSummary")
        _require_str(step, "name", "status.")
        for failure in _list_of_objects(step, "failures"):
            _require_str(failure, "name", "status.failures.")
            _require_str(failure, "error", "status.failures.")


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------

@dataclass
class _Response:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    reset: bool = False  # send half the body, then reset the connection

    @classmethod
    def json(cls, status: int, payload: Any) -> "_Response":
        return cls(status, "application/json", json.dumps(payload).encode())

    @classmethod
    def error(cls, status: int, message: str) -> "_Response":
        return cls.json(status, {"code": status, "message": message})


class _Handler(BaseHTTPRequestHandler):
    """Reads one request fully (so keep-alive stays in sync) and hands it to the stand-in."""

    protocol_version = "HTTP/1.1"  # keep-alive, like the real server behind requests' pool
    timeout = 30  # idle keep-alive connections end eventually
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls
    server: "_Server"

    def setup(self) -> None:
        # The TLS handshake runs here, in the per-connection thread, so that a slow or
        # non-TLS client cannot block the accept loop.
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(self.timeout)
            self.request.do_handshake()
        super().setup()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        body = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        response = self.server.standin._dispatch(self.command, self.path, headers, body)
        if response.delay:
            time.sleep(response.delay)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status in (204, 304) or response.status < 200:
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.reset:
            self._reset(response.body[:len(response.body) // 2])
            return
        self.wfile.write(response.body)

    def _reset(self, partial: bytes) -> None:
        """Send `partial`, then close with SO_LINGER 0, so the kernel sends a TCP RST instead of a FIN:
        the client sees the connection reset in the middle of the answer."""
        self.wfile.write(partial)
        self.close_connection = True
        self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.request.close()  # really closed (and reset) when finish() closes rfile, its last user

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence per-request stderr logging; tests inspect ``requests`` instead."""


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its stand-in, wraps TLS, and can drop open connections."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, standin: "OpenMetadataStandIn", ssl_context: ssl.SSLContext | None):
        self.standin = standin
        self.ssl_context = ssl_context
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self):
        sock, addr = super().get_request()
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def process_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut keep-alive connections so a stopped stand-in really looks unreachable."""
        with self._connections_lock:
            connections = list(self._connections)
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        """Client disconnects and failed TLS handshakes are expected in tests; stay quiet."""
        if not isinstance(sys.exc_info()[1], (OSError, ssl.SSLError)):
            super().handle_error(request, client_address)


# --------------------------------------------------------------------------------------------
# The stand-in
# --------------------------------------------------------------------------------------------

class OpenMetadataStandIn:
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
        self._started_ms = _now_ms()
        self._server: _Server | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._routes = self._build_routes()

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> "OpenMetadataStandIn":
        """Bind a free loopback port and serve in a daemon thread (idempotent)."""
        if self._server is None:
            self._server = _Server(self, self.ssl_context)
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

    # ---- recorded requests ----------------------------------------------------------------

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

    # ---- injected faults ------------------------------------------------------------------

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
    def _fault_answer(fault: Fault) -> _Response:
        response = _Response.error(fault.status, fault.message)
        if fault.retry_after is not None:
            response.headers["Retry-After"] = str(fault.retry_after)
        return response

    # ---- dispatch -------------------------------------------------------------------------

    def _dispatch(self, method: str, raw_target: str, headers: dict[str, str], raw_body: bytes) -> _Response:
        """Record, then answer: an injected error status, or the server's own answer (maybe late or cut)."""
        path, _, query_string = raw_target.partition("?")
        query = {k: v[0] for k, v in parse_qs(query_string, keep_blank_values=True).items()}
        body, malformed = self._parse_body(raw_body)
        with self._lock:
            fault = self._take_fault(method, path)
            self.requests.append(RecordedRequest(method, path, query, headers, body, fault, time.monotonic()))
        request = _ApiRequest(query, headers, body, malformed, bool(raw_body.strip()), fault)
        if fault is None:
            return self._answer(method, path, request)
        response = self._fault_answer(fault) if fault.status is not None else self._answer(method, path, request)
        return replace(response, delay=fault.delay, reset=fault.reset)

    def _answer(self, method: str, path: str, request: "_ApiRequest") -> _Response:
        """Answer in the order the real stack does: proxy, UI, auth, route, body."""
        forced = self._forced_status(method, path)
        if forced is not None:
            return _Response.error(forced, "forced")
        if self.html_root:
            return _Response(200, "text/html; charset=utf-8", HTML_ROOT_PAGE)
        if not self._is_api_path(path):
            return _Response(404, "text/html; charset=utf-8", HTML_NOT_FOUND)
        try:
            self._check_auth(request.headers)
            handler, args = self._route(method, path[len(self.api_prefix):])
            with self._lock:
                status, payload = handler(request, *args)
            return _Response.json(status, payload)
        except ApiError as err:
            return _Response.error(err.status, err.message)
        except Exception as exc:  # a bug in the stand-in should look like a server 500, not hang
            return _Response.error(500, f"stand-in error: {type(exc).__name__}: {exc}")

    @staticmethod
    def _parse_body(raw: bytes) -> tuple[Any, bool]:
        if not raw.strip():
            return None, False
        try:
            return json.loads(raw.decode("utf-8")), False
        except (UnicodeDecodeError, ValueError):
            return None, True

    def _forced_status(self, method: str, path: str) -> int | None:
        with self._lock:
            overrides = list(self.status_override.items())
        for (m, suffix), status in overrides:
            if m.upper() == method and (path.endswith(suffix) or unquote(path).endswith(suffix)):
                return status
        return None

    def _is_api_path(self, path: str) -> bool:
        return not self.api_prefix or path == self.api_prefix or path.startswith(self.api_prefix + "/")

    def _check_auth(self, headers: dict[str, str]) -> None:
        """401 unless ``Authorization: Bearer <token>`` is valid (only when auth is configured)."""
        if self.token is None and self.token_validator is None:
            return
        scheme, _, presented = headers.get("authorization", "").partition(" ")
        presented = presented.strip()
        if scheme.lower() != "bearer" or not presented:
            raise ApiError(401, "Not Authorized! Token not present")
        valid = self.token_validator(presented) if self.token_validator else presented == self.token
        if not valid:
            raise ApiError(401, "Not Authorized! Invalid token")

    def _build_routes(self) -> list[tuple[str, re.Pattern, Callable]]:
        """(method, pattern on the percent-encoded path below the prefix, handler); first match wins."""
        table = [
            ("GET", r"/v1/system/version", self._get_version),
            ("GET", r"/v1/services/testConnectionDefinitions/name/([^/]+)", self._get_test_connection_definition),
            ("GET", r"/v1/services/mlmodelServices/name/([^/]+)", self._get_service_by_name),
            ("PUT", r"/v1/services/mlmodelServices", self._put_service),
            ("GET", r"/v1/services/ingestionPipelines/name/([^/]+)", self._get_pipeline_by_name),
            ("PUT", r"/v1/services/ingestionPipelines", self._put_pipeline),
            ("PUT", r"/v1/services/ingestionPipelines/([^/]+)/pipelineStatus", self._put_pipeline_status),
            ("GET", r"/v1/services/ingestionPipelines/([^/]+)/pipelineStatus/([^/]+)", self._get_pipeline_status),
            ("PUT", r"/v1/mlmodels", self._put_model),
            ("PUT", r"/v1/mlmodels/bulk", self._put_models_bulk),
            ("GET", r"/v1/mlmodels", self._list_models),
            ("GET", r"/v1/mlmodels/name/([^/]+)", self._get_model_by_name),
            ("GET", r"/v1/mlmodels/([^/]+)", self._get_model_by_id),
            ("DELETE", r"/v1/mlmodels/deleteStale", self._delete_stale),
            ("DELETE", r"/v1/mlmodels/([^/]+)", self._delete_model),
        ]
        return [(m, re.compile(p + r"\Z"), h) for m, p, h in table]

    def _route(self, method: str, api_path: str) -> tuple[Callable, tuple[str, ...]]:
        for route_method, pattern, handler in self._routes:
            match = pattern.match(api_path)
            if route_method == method and match:
                return handler, tuple(unquote(g) for g in match.groups())
        raise ApiError(404, "HTTP 404 Not Found")

    # ---- lookups --------------------------------------------------------------------------

    def _iter_services(self):
        """All services, with id/name/FQN filled in for entities a test put into ``services`` by hand."""
        for key, service in self.services.items():
            service.setdefault("name", key)
            service.setdefault("id", str(uuid.uuid4()))
            service.setdefault("fullyQualifiedName", fqn_part(service["name"]))
            yield service

    def _find_service(self, ref: str) -> dict | None:
        """A service by name or by FQN (``"my.svc"`` or ``my.svc`` both find service my.svc).

        Lenient on purpose: CreateMlModelRequest.service carries the service name.
        """
        return next((s for s in self._iter_services() if ref in (s["name"], s["fullyQualifiedName"])), None)

    def _find_service_by_fqn(self, fqn: str) -> dict | None:
        """Strict FQN lookup, as GET .../name/{fqn} does: a dotted name must arrive quoted."""
        return next((s for s in self._iter_services() if s["fullyQualifiedName"] == fqn), None)

    @staticmethod
    def _service_reference(service: dict) -> dict:
        return {"id": service["id"], "type": "mlmodelService", "name": service["name"],
                "fullyQualifiedName": service["fullyQualifiedName"]}

    def _find_model_by_id(self, model_id: str) -> dict | None:
        return next((m for m in self.models.values() if m.get("id") == model_id), None)

    @staticmethod
    def _model_service_name(model: dict) -> str | None:
        service = model.get("service")
        return service.get("name") if isinstance(service, dict) else service

    @staticmethod
    def _include_filter(query: dict[str, str]) -> Callable[[dict], bool]:
        include = query.get("include", "non-deleted")
        if include == "all":
            return lambda m: True
        if include == "deleted":
            return lambda m: bool(m.get("deleted"))
        if include == "non-deleted":
            return lambda m: not m.get("deleted")
        raise ApiError(400, f"query param include must be one of [non-deleted, deleted, all], got {include}")

    # ---- system ---------------------------------------------------------------------------

    def _get_version(self, request: "_ApiRequest") -> tuple[int, dict]:
        return 200, {"version": self.version, "revision": "abc123", "timestamp": self._started_ms}

    def _get_test_connection_definition(self, request: "_ApiRequest", fqn: str) -> tuple[int, dict]:
        if fqn != TEST_CONNECTION_DEFINITION_FQN:
            raise ApiError(404, f"testConnectionDefinition instance for {fqn} not found")
        return 200, dict(TEST_CONNECTION_DEFINITION, updatedAt=self._started_ms)

    # ---- services -------------------------------------------------------------------------

    def _get_service_by_name(self, request: "_ApiRequest", fqn: str) -> tuple[int, dict]:
        service = self._find_service_by_fqn(fqn)
        if service is None:
            raise ApiError(404, f"mlmodelService instance for {fqn} not found")
        return 200, service

    def _put_service(self, request: "_ApiRequest") -> tuple[int, dict]:
        """Create-or-update by name; unchanged payloads keep version and updatedAt."""
        create = request.json()
        validate_create_service(create)
        name = create["name"]
        existing = self._find_service_by_fqn(fqn_part(name))
        if existing is not None and self._user_fields(existing) == create:
            return 200, existing
        entity = dict(create)
        entity.update(
            id=existing["id"] if existing else str(uuid.uuid4()),
            fullyQualifiedName=fqn_part(name),
            version=_bump(existing.get("version", 0.1)) if existing else 0.1,
            updatedAt=self._next_updated_at(existing),
            updatedBy="ingestion-bot",
            deleted=False,
        )
        entity["href"] = f"{self.url}/v1/services/mlmodelServices/{entity['id']}"
        self.services[name] = entity
        return (200 if existing else 201), entity

    # ---- ingestion pipelines --------------------------------------------------------------

    def _get_pipeline_by_name(self, request: "_ApiRequest", fqn: str) -> tuple[int, dict]:
        if fqn not in self.pipelines:
            raise ApiError(404, f"ingestionPipeline instance for {fqn} not found")
        return 200, self.pipelines[fqn]

    def _put_pipeline(self, request: "_ApiRequest") -> tuple[int, dict]:
        """Create-or-update by service and name; the pipeline's FQN is `<service>.<name>`."""
        create = request.json()
        validate_create_pipeline(create)
        service = next((s for s in self._iter_services() if s["id"] == create["service"]["id"]), None)
        if service is None:
            raise ApiError(404, f"mlmodelService instance for {create['service']['id']} not found")
        fqn = f"{service['fullyQualifiedName']}.{fqn_part(create['name'])}"
        existing = self.pipelines.get(fqn)
        entity = dict(create, id=existing["id"] if existing else str(uuid.uuid4()), fullyQualifiedName=fqn,
                      service=self._service_reference(service), deployed=False, enabled=True,
                      version=_bump(existing["version"]) if existing else 0.1, updatedAt=_now_ms())
        self.pipelines[fqn] = entity
        return (200 if existing else 201), entity

    def _put_pipeline_status(self, request: "_ApiRequest", fqn: str) -> tuple[int, dict]:
        if fqn not in self.pipelines:
            raise ApiError(404, f"ingestionPipeline instance for {fqn} not found")
        status = request.json()
        validate_pipeline_status(status)
        self.pipeline_statuses.setdefault(fqn, {})[status["runId"]] = status
        return 200, status

    def _get_pipeline_status(self, request: "_ApiRequest", fqn: str, run_id: str) -> tuple[int, dict]:
        if fqn not in self.pipelines:
            raise ApiError(404, f"ingestionPipeline instance for {fqn} not found")
        status = self.pipeline_statuses.get(fqn, {}).get(run_id)
        if status is None:
            raise ApiError(404, f"pipelineStatus {run_id} for {fqn} not found")
        return 200, status

    # ---- models: upsert -------------------------------------------------------------------

    @staticmethod
    def _user_fields(entity: dict) -> dict:
        """The part of a stored entity that came from the create request (service excluded)."""
        return {k: v for k, v in entity.items() if k not in SERVER_MANAGED_FIELDS}

    @staticmethod
    def _next_updated_at(existing: dict | None) -> int:
        """Now, but strictly after the previous value so a change is always observable."""
        now = _now_ms()
        previous = existing.get("updatedAt") if existing else None
        return max(now, previous + 1) if isinstance(previous, int) else now

    def _upsert_model(self, create: Any) -> tuple[int, dict]:
        """Validate and store one CreateMlModelRequest; returns (201|200, entity) or raises ApiError.

        Identical content leaves version and updatedAt untouched (that is how a no-op re-run is
        observed); a change, or upserting a soft-deleted model, bumps the version by 0.1.
        """
        validate_create_mlmodel(create)
        service = self._find_service(create["service"])
        if service is None:
            raise ApiError(404, f"mlmodelService instance for {create['service']} not found")
        if create["name"] in self.fail_models:
            raise ApiError(400, f"Invalid request: {create['name']} rejected by test")

        fqn = f"{fqn_part(service['name'])}.{fqn_part(create['name'])}"
        existing = self.models.get(fqn)
        content = {k: v for k, v in create.items() if k != "service"}
        if existing is not None and not existing.get("deleted") and self._user_fields(existing) == content:
            return 200, existing

        entity = dict(content)
        entity.update(
            id=(existing or {}).get("id") or str(uuid.uuid4()),
            fullyQualifiedName=fqn,
            service=self._service_reference(service),
            version=_bump(existing.get("version", 0.1)) if existing else 0.1,
            updatedAt=self._next_updated_at(existing),
            updatedBy="ingestion-bot",
            deleted=False,
        )
        entity["href"] = f"{self.url}/v1/mlmodels/{entity['id']}"
        self.models[fqn] = entity
        return (200 if existing else 201), entity

    def _put_model(self, request: "_ApiRequest") -> tuple[int, dict]:
        return self._upsert_model(request.json())

    def _put_models_bulk(self, request: "_ApiRequest") -> tuple[int, dict]:
        """Bulk upsert: per-item failures go into failedRequest; the HTTP status stays 200."""
        if not self.bulk:
            raise ApiError(404, "HTTP 404 Not Found")
        items = request.json()
        if not isinstance(items, list):
            raise ApiError(400, "Cannot deserialize value of type `java.util.ArrayList` from a non-array value")
        injected = request.fault.partial_bulk_fail if request.fault else frozenset()
        successes, failures = [], []
        for item in items:
            if isinstance(item, dict) and item.get("name") in injected:
                failures.append({"request": item, "message": request.fault.message, "status": 500})
                continue
            try:
                _, entity = self._upsert_model(item)
            except ApiError as err:
                message = "service not found: " + item["service"] if err.status == 404 else err.message
                failures.append({"request": item, "message": message, "status": err.status})
            else:
                successes.append({"request": entity["fullyQualifiedName"], "status": 200})
        return 200, _bulk_result(successes, failures)

    # ---- models: read ---------------------------------------------------------------------

    def _list_models(self, request: "_ApiRequest") -> tuple[int, dict]:
        """Cursor-paged listing sorted by FQN; ``paging.after`` is omitted on the last page."""
        limit = self._parse_limit(request.query.get("limit"))
        keep = self._include_filter(request.query)
        service_ref = request.query.get("service")
        service = self._find_service(service_ref) if service_ref is not None else None
        matching = sorted(
            (m for m in self.models.values()
             if keep(m) and (service_ref is None
                             or (service is not None and self._model_service_name(m) == service["name"]))),
            key=lambda m: m["fullyQualifiedName"])
        start = matching
        if request.query.get("after"):
            after_fqn = _decode_cursor(request.query["after"])
            start = [m for m in matching if m["fullyQualifiedName"] > after_fqn]
        page = start[:limit]
        paging: dict[str, Any] = {"total": len(matching)}
        if page and len(start) > limit:
            paging["after"] = _encode_cursor(page[-1]["fullyQualifiedName"])
        return 200, {"data": page, "paging": paging}

    @staticmethod
    def _parse_limit(raw: str | None) -> int:
        if raw is None:
            return DEFAULT_LIST_LIMIT
        try:
            limit = int(raw)
        except ValueError as exc:
            raise ApiError(400, f"query param limit must be an integer, got {raw}") from exc
        if limit < 0:
            raise ApiError(400, "query param limit must be greater than or equal to 0")
        if limit > MAX_LIST_LIMIT:
            raise ApiError(400, f"query param limit must be less than or equal to {MAX_LIST_LIMIT}")
        return limit

    def _get_model_by_name(self, request: "_ApiRequest", fqn: str) -> tuple[int, dict]:
        model = self.models.get(fqn)
        if model is None or not self._include_filter(request.query)(model):
            raise ApiError(404, f"mlmodel instance for {fqn} not found")
        return 200, model

    def _get_model_by_id(self, request: "_ApiRequest", model_id: str) -> tuple[int, dict]:
        model = self._find_model_by_id(model_id)
        if model is None or not self._include_filter(request.query)(model):
            raise ApiError(404, f"mlmodel instance for {model_id} not found")
        return 200, model

    # ---- models: delete -------------------------------------------------------------------

    def _soft_delete(self, model: dict) -> None:
        model["deleted"] = True
        model["version"] = _bump(model.get("version", 0.1))
        model["updatedAt"] = self._next_updated_at(model)

    def _delete_model(self, request: "_ApiRequest", model_id: str) -> tuple[int, dict]:
        """Soft delete by default; ``hardDelete=true`` removes the model from ``models``."""
        model = self._find_model_by_id(model_id)
        hard = request.query.get("hardDelete", "false").lower() == "true"
        if model is None or (model.get("deleted") and not hard):
            raise ApiError(404, f"mlmodel instance for {model_id} not found")
        if hard:
            del self.models[model["fullyQualifiedName"]]
            return 200, model
        self._soft_delete(model)
        return 200, model

    def _delete_stale(self, request: "_ApiRequest") -> tuple[int, dict]:
        """Soft-delete the service's live models not in seenFqns.

        Like the server, an empty seenFqns or an unknown scope deletes nothing: a client that
        listed nothing (e.g. a failed registry call) must not wipe the catalogue.
        """
        if not self.delete_stale:
            raise ApiError(404, "HTTP 404 Not Found")
        scope_fqn, seen = self._parse_delete_stale(request.json())
        service = self._find_service(scope_fqn)
        deleted: list[dict] = []
        if seen and service is not None:
            for fqn in sorted(self.models):
                model = self.models[fqn]
                if (self._model_service_name(model) == service["name"]
                        and not model.get("deleted") and fqn not in seen):
                    self._soft_delete(model)
                    deleted.append({"request": fqn, "status": 200})
        return 200, _bulk_result(deleted, [])

    @staticmethod
    def _parse_delete_stale(body: Any) -> tuple[str, set[str]]:
        if not isinstance(body, dict):
            raise ApiError(400, "Cannot deserialize DeleteStaleRequest from a non-object value")
        _require_str(body, "scopeFqn")
        if body.get("scopeEntityType", "service") != "service":
            raise ApiError(400, f"Unsupported scopeEntityType {body.get('scopeEntityType')!r}")
        seen = body.get("seenFqns")
        if seen is None:
            seen = []
        if not isinstance(seen, list) or not all(isinstance(s, str) for s in seen):
            raise ApiError(400, "[seenFqns must be a list of strings]")
        return body["scopeFqn"], set(seen)


@dataclass
class _ApiRequest:
    """What a route handler sees; ``json()`` applies the server's body rules."""

    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    malformed: bool
    has_body: bool
    fault: Fault | None = None

    def json(self) -> Any:
        """The parsed body; 415 without a JSON content type, 400 when missing or malformed."""
        content_type = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if self.has_body and content_type != "application/json":
            raise ApiError(415, "HTTP 415 Unsupported Media Type")
        if self.malformed:
            raise ApiError(400, "Unable to process JSON")
        if not self.has_body:
            raise ApiError(400, "[request body must not be null]")
        return self.body
