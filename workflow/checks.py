"""Live connection checks: can this workflow reach MLflow and OpenMetadata, and if not, why not.

The official `metadata test-connection` runs one step (GetModels) through MlflowClient, whose retries
under a 180 s alarm make a refused port take minutes to report. Here each endpoint is a short list
of steps, probed with plain `requests` (short timeouts, no retries), both endpoints at once, and each
failure names its cause and the setting to fix. MLflow itself is imported only for stores that are
not HTTP servers (a folder, a database, Databricks), which only its client can read.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import queue
import re
import socket
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Protocol
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter

from .auth import Authenticator, NoAuth, authenticator_for
from .config import FileSink, OpenMetadataConnection, OpenMetadataJWTClientConfig, Workflow
from .errors import EndpointError, UserError
from .om_client import ApiError, OpenMetadataClient, network_failure, quote_fqn_part
from .redact import redact_uri, scrub, secret_values
from .sinks import SUPPORTED_SERVER, version_warning

Status = Literal["pass", "fail", "warn", "skipped"]

MLFLOW, OPENMETADATA, FILE_SINK = "MLflow", "OpenMetadata", "File sink"
"""Endpoint names; with a file sink its one step replaces the OpenMetadata steps."""

READ_TIMEOUT_FACTOR = 3
"""A server may take a moment to answer a search once connected, but not minutes."""

LISTED_MODELS = 100
"""GetModels reads the first page of registered models, at MLflow's default page size, as the official step."""


@dataclass(frozen=True)
class CheckStep:
    endpoint: str  # "MLflow" or "OpenMetadata" ("File sink" when the sink is a file)
    name: str  # short, e.g. "Tracking server answers"
    status: Status
    elapsed: float  # seconds
    cause: str  # one line
    remediation: str = ""
    mandatory: bool = True


@dataclass(frozen=True)
class CheckReport:
    steps: tuple[CheckStep, ...]

    @property
    def ok(self) -> bool:
        """Every mandatory step passed or warned: a run can start."""
        return all(s.status in ("pass", "warn") for s in self.steps if s.mandatory)

    @property
    def failures(self) -> tuple[CheckStep, ...]:
        return tuple(s for s in self.steps if s.status == "fail")


def iter_checks(config: Workflow, *, timeout: float = 2.0, cancel: threading.Event | None = None,
                auth: Authenticator | None = None) -> Iterator[CheckStep]:
    """Check both endpoints concurrently, yielding each step as it completes.

    `timeout` is the connect timeout of every probe (reads get `READ_TIMEOUT_FACTOR` times more).
    Setting `cancel` ends the iteration at once; steps in flight finish in the background.
    `auth` lets a run share its authenticator, so the token fetched for the check serves the run.
    """
    cancel = cancel or threading.Event()
    finished: queue.Queue[CheckStep | None] = queue.Queue()
    stop = threading.Event()
    secrets = _secrets(config)
    plans = [_mlflow_plan(config, timeout), _sink_plan(config, timeout, auth)]
    for plan in plans:
        threading.Thread(target=_run_plan, args=(plan, finished.put, lambda: stop.is_set() or cancel.is_set()),
                         name=f"check-{plan.endpoint}", daemon=True).start()
    running = len(plans)
    try:
        while running and not cancel.is_set():
            try:
                step = finished.get(timeout=0.05)
            except queue.Empty:
                continue
            if step is None:
                running -= 1
            else:
                yield replace(step, cause=scrub(step.cause, secrets), remediation=scrub(step.remediation, secrets))
    finally:
        stop.set()


def run_checks(config: Workflow, *, timeout: float = 2.0, on_step: Callable[[CheckStep], None] | None = None,
               auth: Authenticator | None = None) -> CheckReport:
    """Run every check; `on_step` sees each step as it completes, the report lists them by endpoint."""
    steps: list[CheckStep] = []
    for step in iter_checks(config, timeout=timeout, auth=auth):
        steps.append(step)
        if on_step:
            on_step(step)
    return by_endpoint(steps)


def by_endpoint(steps: list[CheckStep]) -> CheckReport:
    """A report with MLflow's steps first, each endpoint's steps in the order they ran."""
    order = {MLFLOW: 0, OPENMETADATA: 1, FILE_SINK: 1}
    return CheckReport(tuple(sorted(steps, key=lambda s: order.get(s.endpoint, 2))))


def _secrets(config: Workflow) -> list[str]:
    """The config's secrets plus MLflow's credentials from the environment."""
    from_env = [os.environ.get(k, "") for k in ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")]
    return secret_values(config) + [v for v in from_env if v]


# ------------------------------------------------------------------------------------ running steps


@dataclass(frozen=True)
class _Outcome:
    status: Status
    cause: str
    remediation: str = ""


def _passed(cause: str) -> _Outcome:
    return _Outcome("pass", cause)


def _warned(cause: str, remediation: str) -> _Outcome:
    return _Outcome("warn", cause, remediation)


@dataclass(frozen=True)
class _Step:
    """One step: `run` returns its outcome, or raises `UserError` to fail (to warn if optional)."""

    name: str
    run: Callable[[], _Outcome]
    mandatory: bool = True


@dataclass(frozen=True)
class _Plan:
    endpoint: str
    steps: list[_Step]


def _run_plan(plan: _Plan, emit: Callable[[CheckStep | None], None], stopped: Callable[[], bool]) -> None:
    """Run an endpoint's steps in order; after a mandatory failure the rest are reported skipped.

    Always ends with `None`, so the consumer knows this endpoint is done.
    """
    failed: str | None = None
    try:
        for step in plan.steps:
            if stopped():
                return
            if failed:
                emit(CheckStep(plan.endpoint, step.name, "skipped", 0.0, f"not run: {failed!r} failed",
                               mandatory=step.mandatory))
                continue
            result = _execute(plan.endpoint, step)
            emit(result)
            if result.status == "fail":
                failed = step.name
    finally:
        emit(None)


def _execute(endpoint: str, step: _Step) -> CheckStep:
    """Time one step and turn what it raised into its failure (a warning for an optional step)."""
    started = time.monotonic()
    try:
        outcome = step.run()
    except UserError as exc:
        outcome = _Outcome("fail" if step.mandatory else "warn", exc.message, exc.hint)
    except Exception as exc:  # noqa: BLE001 - a bug in a check must not hang or hide the others
        outcome = _Outcome("fail" if step.mandatory else "warn", f"unexpected error: {type(exc).__name__}: {exc}",
                           "this is a bug in the check itself; please report it with this message")
    return CheckStep(endpoint, step.name, outcome.status, time.monotonic() - started,
                     _one_line(outcome.cause), _one_line(outcome.remediation), step.mandatory)


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------------- network failures

_NOT_TLS = re.compile(r"WRONG_VERSION_NUMBER|record layer failure|packet length too long|unknown protocol", re.I)
_NOT_HTTP = re.compile(r"RemoteDisconnected|BadStatusLine|Connection aborted|Connection reset", re.I)
_TLS_REASON = re.compile(r"certificate verify failed: ([^()'\"]+)")


def _transport_failure(exc: BaseException, what: str, url: str, *, tls_hint: str) -> EndpointError:
    """`network_failure`, plus the two protocol mix-ups it cannot tell from others (http vs https)."""
    shown = redact_uri(url)
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError) and _NOT_TLS.search(text):
        return EndpointError(f"{what} at {shown} does not speak TLS (https)",
                             hint="use http:// in the URL, or enable TLS on the server")
    if isinstance(exc, requests.exceptions.ConnectionError) and url.startswith("http:") and _NOT_HTTP.search(text):
        return EndpointError(f"{what} at {shown} closed the connection without an HTTP answer",
                             hint="if the server expects TLS, use https:// in the URL; else check it is the right port")
    error = network_failure(exc, what, shown, tls_hint=tls_hint)
    reason = _TLS_REASON.search(text)
    if reason and error.message.startswith("TLS verification failed"):
        return EndpointError(f"{error.message}: {reason.group(1).strip()}", hint=error.hint)
    return error


def _socket_failure(exc: OSError, what: str, host: str, port: int) -> EndpointError:
    """The causes of a failed TCP connect, worded as `network_failure` words HTTP ones."""
    where = f"{host}:{port}"
    if isinstance(exc, socket.gaierror):
        return EndpointError(f"{what} host name {host!r} cannot be resolved (DNS)", hint="check the spelling of the host name")
    if isinstance(exc, ConnectionRefusedError):
        return EndpointError(f"{what} at {where} refused the connection",
                             hint="is the server running and listening on that port?")
    if isinstance(exc, TimeoutError):
        return EndpointError(f"{what} at {where} did not accept a connection in time (timeout)",
                             hint="check the host and port, and any firewall or proxy between here and there")
    return EndpointError(f"cannot connect to {what} at {where}: {exc}")


def _tcp_connect(what: str, host: str, port: int, timeout: float) -> None:
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise _socket_failure(exc, what, host, port) from None


def _check_http_url(uri: str, field: str, example: str) -> None:
    """Reject a URL requests would choke on, with the reason, before any connection is tried."""
    parts = urlsplit(uri)
    problem = None
    if not parts.hostname:
        problem = "it has no host name"
    else:
        try:
            parts.port
        except ValueError as exc:
            problem = f"{exc} (the port must be a number from 1 to 65535)"
    if problem:
        raise EndpointError(f"{field} {redact_uri(uri)!r} is not a valid URL: {problem}", hint=f"for example {example}")


def _body_kind(response: requests.Response) -> str:
    content_type = response.headers.get("Content-Type", "")
    if "html" in content_type or response.text.lstrip().lower().startswith(("<!doctype", "<html")):
        return "an HTML page"
    return "JSON" if "json" in content_type else "text that is not JSON"


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


# ============================================================================================ MLflow

MLFLOW_API = "/api/2.0/mlflow"
SEARCH_MODELS = MLFLOW_API + "/registered-models/search"
DOWNLOAD_URI = MLFLOW_API + "/model-versions/get-download-uri"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"

MLFLOW_TLS_HINT = ("set MLFLOW_TRACKING_SERVER_CERT_PATH to the CA bundle that signed the server's certificate, "
                   "or MLFLOW_TRACKING_INSECURE_TLS=true to skip verification")
MLFLOW_ROOT_HINT = "use the MLflow server's base URL (where its UI opens, usually port 5000), without /api or #/ paths"

DATABASE_DRIVERS: dict[tuple[str, str], tuple[str, str]] = {
    ("mysql", ""): ("MySQLdb", "mysqlclient"),
    ("mysql", "mysqldb"): ("MySQLdb", "mysqlclient"),
    ("mysql", "pymysql"): ("pymysql", "pymysql"),
    ("mysql", "mysqlconnector"): ("mysql.connector", "mysql-connector-python"),
    ("postgresql", ""): ("psycopg2", "psycopg2-binary"),
    ("postgresql", "psycopg2"): ("psycopg2", "psycopg2-binary"),
    ("postgresql", "psycopg"): ("psycopg", "'psycopg[binary]'"),
    ("postgresql", "pg8000"): ("pg8000", "pg8000"),
    ("mssql", ""): ("pyodbc", "pyodbc"),
    ("mssql", "pyodbc"): ("pyodbc", "pyodbc"),
    ("mssql", "pymssql"): ("pymssql", "pymssql"),
    ("sqlite", ""): ("sqlite3", "(part of Python)"),
}
"""SQLAlchemy `dialect+driver` -> (module MLflow's store imports, pip package providing it)."""

DEFAULT_DB_PORTS = {"mysql": 3306, "postgresql": 5432, "mssql": 1433}

StoreKind = Literal["http", "database", "folder", "client"]

CLIENT_SCHEMES = ("databricks", "databricks-uc", "uc")
"""Stores reached through MLflow's client only (it knows their credentials and protocols)."""


def store_kind(uri: str, field: str) -> StoreKind:
    """How an MLflow URI is reached; raises for what is not a URI MLflow could open."""
    scheme = urlsplit(uri).scheme.lower()
    if uri.split(":", 1)[0].lower() in CLIENT_SCHEMES:
        return "client"  # a bare `databricks` has no scheme by urlsplit's reading
    if scheme in ("http", "https"):
        _check_http_url(uri, field, "http://localhost:5000")
        return "http"
    if scheme.split("+")[0] in ("mysql", "postgresql", "mssql", "sqlite"):
        return "database"
    if scheme in ("", "file"):
        return "folder"
    if re.fullmatch(r"[\w.-]+:\d+(/.*)?", uri):
        raise EndpointError(f"{field} {uri!r} is not a valid URL: it has no scheme",
                            hint=f"did you mean http://{uri}?")
    return "client"  # a plugin's scheme: only MLflow's client knows it


@dataclass(frozen=True)
class _Version:
    model: str
    version: str


class _Registry(Protocol):
    """What the listing and artifact steps need from a model registry, however it is reached."""

    def list_models(self) -> list[tuple[str, str | None]]:
        """The first page of registered models: (name, highest version number or None)."""

    def download_uri(self, version: _Version) -> str: ...


def _mlflow_plan(config: Workflow, timeout: float) -> _Plan:
    return _MlflowChecks(config, timeout).plan()


class _MlflowChecks:
    """The MLflow steps: tracking store, registry (when separate), GetModels, one model's artifacts."""

    def __init__(self, config: Workflow, timeout: float):
        connection = config.mlflow
        self.tracking = connection.trackingUri
        self.registry_uri = connection.effective_registry_uri
        self.separate_registry = self.registry_uri.rstrip("/") != self.tracking.rstrip("/")
        self.timeout = timeout
        self.client = _ClientStore(self.tracking, self.registry_uri, timeout)
        self.models: list[tuple[str, str | None]] = []
        self._sessions: dict[str, _MlflowHttp] = {}

    def plan(self) -> _Plan:
        try:
            tracking_http = store_kind(self.tracking, "trackingUri") == "http"
        except EndpointError:
            tracking_http = True  # the first step reports the bad URI
        steps = [_Step("Tracking server answers" if tracking_http else "Tracking store opens", self.tracking_answers)]
        if self.separate_registry:
            steps.append(_Step("Registry answers", self.registry_answers))
        steps.append(_Step("Registered models can be listed (GetModels)", self.list_models))
        steps.append(_Step("Model artifacts can be read", self.read_artifacts, mandatory=False))
        return _Plan(MLFLOW, steps)

    # ---------------------------------------------------------------------------------- steps

    def tracking_answers(self) -> _Outcome:
        kind = store_kind(self.tracking, "trackingUri")
        if kind == "http":
            return _identify_mlflow(self._http(self.tracking), "trackingUri")
        if kind != "client":
            _store_precheck(self.tracking, kind, "trackingUri", self.timeout)
        self.client.call("open the tracking store", lambda client: client.search_experiments(max_results=1))
        return _passed(f"the MLflow tracking store at {redact_uri(self.tracking)} opens")

    def registry_answers(self) -> _Outcome:
        kind = store_kind(self.registry_uri, "registryUri")
        if kind == "http":
            return _identify_mlflow(self._http(self.registry_uri), "registryUri")
        if kind == "client":
            return _passed(f"{redact_uri(self.registry_uri)} is read through MLflow's client; the next step lists it")
        return _store_precheck(self.registry_uri, kind, "registryUri", self.timeout)

    def list_models(self) -> _Outcome:
        self.models = self._registry().list_models()
        where = redact_uri(self.registry_uri)
        if not self.models:
            return _warned(f"the registry at {where} lists no registered models: a run would ingest nothing",
                           "check that registryUri (or trackingUri) points at the registry holding your models")
        names = ", ".join(name for name, _ in self.models[:3]) + (", ..." if len(self.models) > 3 else "")
        count = len(self.models)
        more = "at least " if count >= LISTED_MODELS else ""
        return _passed(f"{more}{count} registered model{'s' if count > 1 else ''} listed ({names})")

    def read_artifacts(self) -> _Outcome:
        versioned = [_Version(name, version) for name, version in self.models if version]
        if not versioned:
            return _Outcome("skipped", "no registered model has a version yet: there are no artifacts to read")
        version = versioned[0]
        label = f"{version.model!r} version {version.version}"
        location = self._registry().download_uri(version)
        if _read_mlmodel(location, self.tracking, self.client, self.timeout):
            return _passed(f"read the MLmodel file of {label}")
        return _warned(f"the artifacts of {label} hold no MLmodel file ({redact_uri(location)}): it will have no features",
                       "log models with mlflow.<flavor>.log_model so their signature (the features) is saved")

    def _registry(self) -> _Registry:
        if store_kind(self.registry_uri, "registryUri") == "http":
            return _HttpRegistry(self._http(self.registry_uri))
        return _ClientRegistry(self.client)

    def _http(self, uri: str) -> _MlflowHttp:
        """One session per server, so the steps after the first reuse its connection."""
        if uri not in self._sessions:
            self._sessions[uri] = _MlflowHttp(uri, self.timeout)
        return self._sessions[uri]


# ------------------------------------------------------------------------------------ MLflow over HTTP


class _MlflowHttp:
    """GETs against an MLflow server with MLflow's own environment settings, short timeouts, no retries."""

    def __init__(self, base: str, timeout: float):
        self.base = base.rstrip("/")
        self.timeout = (timeout, timeout * READ_TIMEOUT_FACTOR)
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(max_retries=0))
        self.session.mount("https://", HTTPAdapter(max_retries=0))
        credentials = MlflowCredentials.from_env()
        self.credentials = credentials
        if credentials.username and credentials.password:
            self.session.auth = (credentials.username, credentials.password)
        if credentials.token:
            self.session.headers["Authorization"] = f"Bearer {credentials.token}"
        self.session.verify = credentials.verify
        if credentials.client_cert:
            self.session.cert = credentials.client_cert

    def get(self, path: str, base: str | None = None, **params: Any) -> requests.Response:
        """The answer, whatever its status; a failure to get one raises `EndpointError` naming the cause."""
        base = (base or self.base).rstrip("/")
        try:
            # verify per call: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override session.verify.
            return self.session.get(base + path, params=params or None, timeout=self.timeout, allow_redirects=False,
                                    verify=self.session.verify)
        except requests.RequestException as exc:
            raise _mlflow_transport_failure(exc, base) from None

    def answer(self, path: str, what: str, base: str | None = None, **params: Any) -> dict[str, Any]:
        """The JSON of a successful MLflow API call, or the error explaining why there is none."""
        response = self.get(path, base, **params)
        data = _json(response)
        if response.status_code == 200 and isinstance(data, dict):
            return data
        raise _mlflow_refusal(response, data, what, self.credentials)


@dataclass(frozen=True)
class MlflowCredentials:
    """MLflow's client settings from the environment, as its own REST client reads them."""

    username: str | None
    password: str | None
    token: str | None
    verify: bool | str
    client_cert: str | None

    @classmethod
    def from_env(cls) -> "MlflowCredentials":
        env = os.environ
        verify: bool | str = True
        if env.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
            verify = False
        elif env.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
            verify = env["MLFLOW_TRACKING_SERVER_CERT_PATH"]
        return cls(env.get("MLFLOW_TRACKING_USERNAME") or None, env.get("MLFLOW_TRACKING_PASSWORD") or None,
                   env.get("MLFLOW_TRACKING_TOKEN") or None, verify, env.get("MLFLOW_TRACKING_CLIENT_CERT_PATH") or None)


def _mlflow_transport_failure(exc: BaseException, url: str) -> EndpointError:
    if "Could not find a suitable TLS CA certificate bundle" in str(exc):
        return EndpointError(f"cannot verify MLflow at {redact_uri(url)}: no CA file at MLFLOW_TRACKING_SERVER_CERT_PATH",
                             hint="set MLFLOW_TRACKING_SERVER_CERT_PATH to the PEM file of the CA that signed the server's certificate")
    return _transport_failure(exc, "MLflow", url, tls_hint=MLFLOW_TLS_HINT)


def _identify_mlflow(http: _MlflowHttp, field: str) -> _Outcome:
    """Reach the server (GET /health), then make sure it is MLflow: its registry search answers MLflow's JSON."""
    where = redact_uri(http.base)
    health = http.get("/health")
    probe = http.get(SEARCH_MODELS, max_results=1)
    data = _json(probe)
    says_ok = health.status_code == 200 and health.text.strip() == "OK"
    if isinstance(data, dict) and (probe.status_code == 200 or "error_code" in data):
        return _passed(f"MLflow{_mlflow_version(http)} answers at {where}")
    if probe.status_code in (401, 403):
        what = "MLflow" if says_ok else "a server"
        return _passed(f"{what} answers at {where} and asks for credentials (HTTP {probe.status_code})")
    if probe.status_code >= 500:
        raise EndpointError(f"the server at {where} failed with HTTP {probe.status_code} ({_body_kind(probe)})",
                            hint="a proxy or MLflow itself has a problem: check its logs and retry")
    if 300 <= probe.status_code < 400:
        raise EndpointError(f"the server at {where} redirects to {probe.headers.get('Location', '?')} "
                            f"(HTTP {probe.status_code}) instead of answering MLflow's API",
                            hint=f"point {field} at the MLflow server itself, not at a login page or proxy")
    if probe.status_code == 404 and says_ok:
        raise EndpointError(f"no MLflow REST API under {where}: the registry search answered HTTP 404", hint=MLFLOW_ROOT_HINT)
    root = _mlflow_at_root(http)
    if root:
        raise EndpointError(f"MLflow answers at {root}, not at {where}", hint=f"set {field}: {root}")
    raise EndpointError(f"a web server answers at {where}, but it is not MLflow: {SEARCH_MODELS} answered "
                        f"HTTP {probe.status_code} with {_body_kind(probe)}",
                        hint=f"check the host and port of {field}: {MLFLOW_ROOT_HINT}")


def _mlflow_at_root(http: _MlflowHttp) -> str | None:
    """The server's root URL when MLflow answers there: the URI has a path it should not have."""
    parts = urlsplit(http.base)
    if not parts.path.strip("/"):
        return None
    root = f"{parts.scheme}://{parts.netloc}"
    try:
        health = http.get("/health", base=root)
    except EndpointError:
        return None
    return redact_uri(root) if health.status_code == 200 and health.text.strip() == "OK" else None


def _mlflow_version(http: _MlflowHttp) -> str:
    """' 3.17.2' from the server's /version, or '' when it does not say (older servers, auth)."""
    try:
        text = http.get("/version").text.strip()
    except EndpointError:
        return ""
    return f" {text}" if re.fullmatch(r"\d+\.\d+[\w.+-]*", text) else ""


def _mlflow_refusal(response: requests.Response, data: Any, what: str, credentials: MlflowCredentials) -> EndpointError:
    """Why MLflow did not answer a call: credentials, permissions, a server error, or not MLflow at all."""
    status = response.status_code
    if status == 401:
        return _mlflow_unauthenticated(credentials)
    if status == 403:
        user = f" user {credentials.username!r}" if credentials.username else ""
        return EndpointError(f"MLflow refused{user} permission to {what} (HTTP 403)",
                             hint="grant the account READ permission on the registered models, or use an account that has it")
    if isinstance(data, dict) and "error_code" in data:
        fix = "check the MLflow server's log: its backend store may be unreachable" if status >= 500 else ""
        return EndpointError(f"MLflow could not {what}: HTTP {status} {data['error_code']}: {data.get('message', '')}", hint=fix)
    return EndpointError(f"MLflow could not {what}: {response.url.split('?')[0]} answered HTTP {status} with "
                         f"{_body_kind(response)}", hint=MLFLOW_ROOT_HINT)


def _mlflow_unauthenticated(credentials: MlflowCredentials) -> EndpointError:
    if credentials.username and credentials.password:
        return EndpointError("MLflow rejected the user and password from MLFLOW_TRACKING_USERNAME / "
                             "MLFLOW_TRACKING_PASSWORD (HTTP 401)",
                             hint="check MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD in the environment of the run")
    if credentials.token:
        return EndpointError("MLflow rejected the token from MLFLOW_TRACKING_TOKEN (HTTP 401)",
                             hint="set MLFLOW_TRACKING_TOKEN to a valid token in the environment of the run")
    missing = "MLFLOW_TRACKING_PASSWORD is not set" if credentials.username else "no credentials are set"
    return EndpointError(f"MLflow requires credentials (HTTP 401) and {missing}",
                         hint="export MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (basic auth), "
                              "or MLFLOW_TRACKING_TOKEN (bearer token), before running")


class _HttpRegistry:
    def __init__(self, http: _MlflowHttp):
        self.http = http

    def list_models(self) -> list[tuple[str, str | None]]:
        data = self.http.answer(SEARCH_MODELS, "list registered models", max_results=LISTED_MODELS)
        return [(m.get("name", "?"), _highest([v.get("version") for v in m.get("latest_versions") or []]))
                for m in data.get("registered_models") or []]

    def download_uri(self, version: _Version) -> str:
        data = self.http.answer(DOWNLOAD_URI, f"locate the artifacts of {version.model!r} version {version.version}",
                                name=version.model, version=version.version)
        return str(data.get("artifact_uri") or "")


def _highest(versions: list[Any]) -> str | None:
    numbers = [int(v) for v in versions if str(v).isdigit()]
    return str(max(numbers)) if numbers else None


# ---------------------------------------------------------------------------------------- artifacts


def _read_mlmodel(location: str, tracking: str, client: "_ClientStore", timeout: float) -> bool:
    """Whether the model folder at `location` has an MLmodel file; raises when it cannot be read at all."""
    parts = urlsplit(location)
    served_by_tracking = urlsplit(tracking).scheme in ("http", "https")
    if parts.scheme == "mlflow-artifacts" and served_by_tracking:
        base = f"{urlsplit(tracking).scheme}://{parts.netloc}" if parts.netloc else tracking
        return _fetch_mlmodel(_MlflowHttp(base, timeout), ARTIFACTS + "/" + parts.path.strip("/") + "/MLmodel")
    if parts.scheme in ("http", "https"):
        return _fetch_mlmodel(_MlflowHttp(location, timeout), "/MLmodel")
    if parts.scheme in ("", "file"):
        folder = Path(parts.path if parts.scheme else location)
        if not folder.is_dir():
            raise EndpointError(f"the artifacts are in a folder of the MLflow server's machine ({folder}), not here",
                                hint="start the server with --serve-artifacts (the default) and --artifacts-destination, "
                                     "so clients read artifacts through it")
        return (folder / "MLmodel").is_file()
    return client.has_mlmodel(location)


def _fetch_mlmodel(http: _MlflowHttp, path: str) -> bool:
    response = http.get(path)
    if response.status_code == 200:
        return True
    if response.status_code == 404:
        return False
    raise _mlflow_refusal(response, _json(response), "read model artifacts", http.credentials)


# -------------------------------------------------------------------------------- non-HTTP stores


def _store_precheck(uri: str, kind: StoreKind, field: str, timeout: float) -> _Outcome:
    """What can be checked of a folder or database store without MLflow: it exists, its driver, its port."""
    if kind == "folder":
        parts = urlsplit(uri)
        folder = Path(parts.path if parts.scheme else uri).expanduser()
        if not folder.is_dir():
            raise EndpointError(f"{field}: there is no MLflow store at {folder} (no such folder)",
                                hint=f"check {field}: MLflow would silently create an empty store there")
        return _passed(f"the MLflow store folder {folder} exists")
    return _database_reachable(uri, field, timeout)


def _database_reachable(uri: str, field: str, timeout: float) -> _Outcome:
    """A database store: its driver is installed and its server accepts connections (or its file exists)."""
    parts = urlsplit(uri)
    dialect, _, driver = parts.scheme.lower().partition("+")
    module, package = DATABASE_DRIVERS.get((dialect, driver), (driver, driver))
    if not _importable(module) or not _importable("sqlalchemy"):
        missing = module if _importable("sqlalchemy") else "sqlalchemy"
        package = package if missing == module else "sqlalchemy"
        raise EndpointError(f"{field} needs the Python package {package!r} (module {missing}) for "
                            f"{parts.scheme}://, and it is not installed",
                            hint=f"pip install {package} in the environment that runs the workflow")
    if dialect == "sqlite":
        return _sqlite_exists(uri, field)
    if not parts.hostname:
        return _passed(f"driver {module} is installed (the database address is in the query string: not probed)")
    port = parts.port or DEFAULT_DB_PORTS.get(dialect, 0)
    _tcp_connect(f"the {dialect} database", parts.hostname, port, timeout)
    return _passed(f"the {dialect} server at {parts.hostname}:{port} accepts connections; driver {module} is installed "
                   "(the login is tried when models are listed)")


def _sqlite_exists(uri: str, field: str) -> _Outcome:
    path = uri.split("///", 1)[1] if "///" in uri else ""
    if not path or path.startswith(":memory:"):
        raise EndpointError(f"{field} is an in-memory SQLite database: it holds no models",
                            hint="point it at the database file of your MLflow store")
    if not Path(path).is_file():
        raise EndpointError(f"{field}: there is no SQLite database at {path}",
                            hint=f"check {field}: MLflow would silently create an empty database there")
    return _passed(f"the SQLite database {path} exists")


def _importable(module: str) -> bool:
    """Whether a module could be imported, found without importing it (a driver can be slow to load)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


class _ClientStore:
    """MLflow's own client, for stores only it can read; mlflow is imported on first use (it costs seconds)."""

    ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    _env_lock = threading.Lock()

    def __init__(self, tracking: str, registry: str, timeout: float):
        self.tracking = tracking
        self.registry = registry
        self.deadline = max(10.0, timeout * 5)
        self._client: Any = None

    def call(self, what: str, action: Callable[[Any], Any]) -> Any:
        """Run `action(client)` within the deadline, with MLflow's HTTP retries off while it runs."""
        from mlflow.tracking import MlflowClient

        def run() -> Any:
            if self._client is None:
                self._client = MlflowClient(tracking_uri=self.tracking, registry_uri=self.registry)
            return action(self._client)

        env = dict(self.ENV, MLFLOW_HTTP_REQUEST_TIMEOUT=str(int(self.deadline)))
        with self._scoped_env(env):
            try:
                return _within(self.deadline, run, f"MLflow's client could not {what}")
            except UserError:
                raise
            except Exception as exc:  # noqa: BLE001 - MLflow raises many types; each becomes a cause
                raise _client_failure(exc, what, self.tracking) from None

    def has_mlmodel(self, location: str) -> bool:
        def listed(client: Any) -> bool:
            from mlflow.artifacts import list_artifacts

            return any(Path(f.path).name == "MLmodel" for f in list_artifacts(artifact_uri=location))

        return self.call("read model artifacts", listed)

    @classmethod
    @contextlib.contextmanager
    def _scoped_env(cls, values: dict[str, str]) -> Iterator[None]:
        """MLflow reads these per request; they are restored after, so a run started later keeps its own."""
        with cls._env_lock:
            saved = {k: os.environ.get(k) for k in values}
            os.environ.update(values)
            try:
                yield
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value


class _ClientRegistry:
    def __init__(self, store: _ClientStore):
        self.store = store

    def list_models(self) -> list[tuple[str, str | None]]:
        page = self.store.call("list registered models",
                               lambda client: client.search_registered_models(max_results=LISTED_MODELS))
        return [(m.name, _highest([v.version for v in m.latest_versions or []])) for m in page]

    def download_uri(self, version: _Version) -> str:
        return str(self.store.call(f"locate the artifacts of {version.model!r} version {version.version}",
                                   lambda client: client.get_model_version_download_uri(version.model, version.version)))


def _within(seconds: float, action: Callable[[], Any], what: str) -> Any:
    """`action()` in a helper thread, given up after `seconds`: a database driver may wait minutes."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = action()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            result["error"] = exc

    worker = threading.Thread(target=run, name="check-mlflow-client", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise EndpointError(f"{what}: no answer within {seconds:.0f} s (timeout)",
                            hint="check that the store's server is reachable from here and not overloaded")
    if "error" in result:
        raise result["error"]
    return result.get("value")


def _client_failure(exc: BaseException, what: str, uri: str) -> EndpointError:
    """An MLflow client exception as a cause: the network failure under it, a missing driver, or its message."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, requests.RequestException):
            return _mlflow_transport_failure(cause, uri)
        if isinstance(cause, ModuleNotFoundError) and cause.name:
            return EndpointError(f"MLflow's client needs the Python module {cause.name!r}, which is not installed",
                                 hint=f"pip install the package providing {cause.name} in the environment of the run")
        cause = cause.__cause__ or cause.__context__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "MLFLOW_ALLOW_FILE_STORE" in text:
        return EndpointError(f"MLflow {_mlflow_release()} refuses folder stores (the filesystem backend is in maintenance mode)",
                             hint="export MLFLOW_ALLOW_FILE_STORE=true, or migrate the folder to a database with "
                                  "`mlflow migrate-filestore` and use sqlite:///mlflow.db")
    return EndpointError(f"MLflow's client could not {what}: {text[:300]}", hint="check trackingUri and registryUri")


def _mlflow_release() -> str:
    from importlib.metadata import version

    return version("mlflow")


# ====================================================================================== OpenMetadata

OM_VERSION = "/system/version"
OM_TEST_DEFINITION = "/services/testConnectionDefinitions/name/Mlflow.testConnectionDefinition"
OM_TLS_HINT = ("set verifySSL: validate with sslConfig.caCertificate (the CA file that signed the server's "
               "certificate), or verifySSL: ignore to skip verification")
BOT_TOKEN_HINT = "copy the ingestion-bot JWT from OpenMetadata: Settings > Bots > ingestion-bot"


def _sink_plan(config: Workflow, timeout: float, auth: Authenticator | None) -> _Plan:
    if isinstance(config.sink, FileSink):
        path = config.sink.config.filename
        return _Plan(FILE_SINK, [_Step("Output file is writable", lambda: _file_writable(Path(path)))])
    return _OpenMetadataChecks(config, timeout, auth).plan()


class _OpenMetadataChecks:
    """The OpenMetadata steps, in the order a run needs them: reach, API, credentials, version, service."""

    def __init__(self, config: Workflow, timeout: float, auth: Authenticator | None = None):
        self.connection = config.openmetadata
        self.auth = auth
        self.service = config.source.serviceName
        self.timeout = timeout
        self.host = redact_uri(self.connection.hostPort)
        self.client = self._client(self.connection)
        self.first: Any = None

    def plan(self) -> _Plan:
        return _Plan(OPENMETADATA, [
            _Step("Server answers", self.server_answers),
            _Step("API found at hostPort", self.api_found),
            _Step("Credentials accepted", self.credentials_accepted),
            _Step("Server version is compatible", self.version_compatible),
            _Step("Service exists or will be created", self.service_known),
        ])

    def _client(self, connection: OpenMetadataConnection) -> OpenMetadataClient:
        """Anonymous until the credentials step: a broken token must not hide that the server is down."""
        return OpenMetadataClient(connection, connect_timeout=self.timeout,
                                  read_timeout=self.timeout * READ_TIMEOUT_FACTOR, auth=NoAuth())

    def _ask(self, path: str, client: OpenMetadataClient | None = None) -> Any:
        """The JSON answer, or the `ApiError` itself: a status is a finding here. No answer at all raises."""
        client = client or self.client
        try:
            return client.probe(path)
        except ApiError as exc:
            return exc
        except requests.exceptions.JSONDecodeError:
            return ApiError(200, "text that is not JSON", client.base + path)
        except (requests.RequestException, OSError) as exc:  # OSError: requests' "no CA bundle at this path"
            raise _transport_failure(exc, "OpenMetadata", client.connection.hostPort, tls_hint=OM_TLS_HINT) from None

    # ---------------------------------------------------------------------------------- steps

    def server_answers(self) -> _Outcome:
        _check_http_url(self.connection.hostPort, "hostPort", "http://localhost:8585/api")
        self.first = self._ask(OM_VERSION)
        status = self.first.status if isinstance(self.first, ApiError) else 200
        return _passed(f"{self.host} answers (HTTP {status})")

    def api_found(self) -> _Outcome:
        answer = self.first
        if not isinstance(answer, ApiError):
            if isinstance(answer, dict) and "version" in answer:
                return _passed(f"the OpenMetadata API answers at {self.host}/v1")
            raise EndpointError(f"{self.host}/v1{OM_VERSION} answered JSON without a version: not OpenMetadata's API",
                                hint=self._api_hint())
        if answer.status >= 500:
            raise self._server_error(answer)
        if 300 <= answer.status < 400:
            raise EndpointError(f"{self.host} redirects (HTTP {answer.status}) instead of answering the API",
                                hint="OpenMetadata clients do not follow redirects: put the final URL (https?) in hostPort")
        if answer.status == 404 or answer.html:
            body = "an HTML page" if answer.html else "HTTP 404"
            raise EndpointError(f"no OpenMetadata API at {self.host}: {self.host}/v1{OM_VERSION} answered {body}",
                                hint=self._api_hint())
        if answer.status in (401, 403):
            return _passed(f"the OpenMetadata API answers at {self.host}/v1 (it asks for credentials)")
        raise EndpointError(f"{self.host}/v1{OM_VERSION} answered HTTP {answer.status}: {answer.message}",
                            hint=self._api_hint())

    def credentials_accepted(self) -> _Outcome:
        self.client.auth = self.auth or authenticator_for(self.connection)  # a malformed or expired JWT fails here
        answer = self._ask(OM_TEST_DEFINITION)
        if isinstance(answer, ApiError) and answer.status in (401, 403):
            raise self._refused(answer)
        if isinstance(answer, ApiError) and not (answer.status == 404 and not answer.html):
            raise self._server_error(answer)
        if self.connection.provider == "no-auth":
            return _passed("the server accepts calls without credentials (authProvider no-auth)")
        return _passed(f"{self._token_source()} is accepted (authProvider {self.connection.provider})")

    def version_compatible(self) -> _Outcome:
        answer = self._ask(OM_VERSION)
        if isinstance(answer, ApiError):
            raise self._server_error(answer)
        version = answer.get("version") if isinstance(answer, dict) else None
        if not version:
            raise EndpointError("OpenMetadata did not report its version", hint=self._api_hint())
        expected = ".".join(map(str, SUPPORTED_SERVER))
        warning = version_warning(str(version))
        if warning:
            return _warned(warning, f"use an OpenMetadata {expected}.x server, or compare the first run's results in the UI")
        return _passed(f"OpenMetadata {version} (this tool speaks the {expected}.x API)")

    def service_known(self) -> _Outcome:
        answer = self._ask(f"/services/mlmodelServices/name/{quote(quote_fqn_part(self.service), safe='')}")
        if isinstance(answer, ApiError):
            if answer.status == 404 and not answer.html:
                return _passed(f"service {self.service!r} does not exist yet: the first run creates it")
            if answer.status in (401, 403):
                raise self._refused(answer)
            raise self._server_error(answer)
        service_type = answer.get("serviceType") if isinstance(answer, dict) else None
        if service_type not in (None, "Mlflow"):
            return _warned(f"service {self.service!r} exists but is a {service_type} service, not Mlflow",
                           "choose another source.serviceName for the MLflow models")
        return _passed(f"service {self.service!r} exists: runs update its models")

    # ------------------------------------------------------------------------------ diagnoses

    def _api_hint(self) -> str:
        """Where the API is: with /api added when that is where it answers."""
        host = self.connection.hostPort.rstrip("/")
        if host.endswith("/api"):
            return "check hostPort: this server answers, but not with the OpenMetadata API (is it OpenMetadata, port 8585?)"
        candidate = host + "/api"
        shown = redact_uri(candidate)
        if self._api_answers_at(candidate):
            return f"add /api to hostPort: {shown} (the API answers there)"
        return f"add /api: hostPort must point at the API, usually ending in /api (for example {shown})"

    def _api_answers_at(self, host_port: str) -> bool:
        try:
            answer = self._ask(OM_VERSION, self._client(self.connection.model_copy(update={"hostPort": host_port})))
        except EndpointError:
            return False
        return not isinstance(answer, ApiError) or (answer.status in (401, 403) and not answer.html)

    def _refused(self, answer: ApiError) -> EndpointError:
        """401/403, with the provider and the field to fix."""
        provider = self.connection.provider
        if provider == "no-auth":
            return EndpointError(f"OpenMetadata requires credentials (HTTP {answer.status}: {answer.message})",
                                 hint=f"set authProvider: openmetadata and securityConfig.jwtToken; {BOT_TOKEN_HINT}")
        source = self._token_source()
        if answer.status == 401 and self._bot_jwt():
            return EndpointError(f"OpenMetadata rejected {source} (authProvider {provider}, HTTP 401: {answer.message})",
                                 hint=f"fix workflowConfig.openMetadataServerConfig.securityConfig.jwtToken: {BOT_TOKEN_HINT} "
                                      "(a token of another server is rejected too)")
        if answer.status == 401:
            return EndpointError(f"OpenMetadata rejected {source} (HTTP 401: {answer.message})",
                                 hint=f"check that the server's authentication is set up for this {provider} client "
                                      "and that the client is registered as a bot in OpenMetadata")
        return EndpointError(f"OpenMetadata accepted {source} but refused access (HTTP 403: {answer.message})",
                             hint="the account behind the token lacks permissions: use the ingestion bot, "
                                  "or give that account the Ingestion Bot role")

    def _bot_jwt(self) -> bool:
        return isinstance(self.connection.securityConfig, OpenMetadataJWTClientConfig)

    def _token_source(self) -> str:
        """Which token the server judged: the bot JWT of the config, or one the identity provider issued."""
        if self._bot_jwt():
            return "the token in securityConfig.jwtToken"
        return f"the token {self.connection.provider} issued"

    def _server_error(self, answer: ApiError) -> EndpointError:
        if answer.status >= 500:
            return EndpointError(f"OpenMetadata at {self.host} failed with HTTP {answer.status}: {answer.message}",
                                 hint="the server has a problem: check its logs (and its database and search engine), then retry")
        return EndpointError(f"OpenMetadata answered HTTP {answer.status}: {answer.message}", hint=self._api_hint())


# ----------------------------------------------------------------------------------------- file sink


def _file_writable(path: Path) -> _Outcome:
    """The run writes a temp file next to `path` and renames it; that needs the folder, not the file."""
    path = path.expanduser()
    if path.is_dir():
        raise EndpointError(f"sink.config.filename {path} is a folder", hint="name a file, for example ./mlmodels.jsonl")
    folder = path.parent.resolve()
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise EndpointError(f"cannot write {path}: {existing} is a file, not a folder",
                            hint="choose a sink.config.filename in a folder you can write to")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise EndpointError(f"cannot write in the folder {existing} (permission denied)",
                            hint="choose a sink.config.filename in a folder you can write to")
    if existing != folder:
        return _passed(f"the folder {folder} will be created in {existing}, which is writable")
    return _passed(f"the folder {folder} is writable")
