"""Reading an MLflow registry: over its REST API when it is an HTTP server, else with MLflow's client.

An ingestion only needs four reads: the registered models (paged), a model's versions, runs (many
at a time where the store can), and a version's `MLmodel` file. For an `http(s)://` tracking server they are plain GETs here, so a run
never imports `mlflow` (seconds of start-up and about 130 MB of memory) and each call costs what the
server costs. Any other store (a folder, a database, Databricks, a plugin) goes through MLflow's own
client, imported on first use. Both readers return the same small records.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import threading
import time
from typing import Any, Iterator

import requests
from urllib3.connection import HTTPConnection

from ..document.source import MlflowConnection
from ..document.redact import redact_uri
from ..errors import short_reason
from ..net.bounded_http import AnswerTooBig, AnswerTooSlow, BoundedAdapter, WatchedHTTPPool
from ..net.deadline import within
from .database_drivers import is_database_uri
from .records import Page, ReadError, RegisteredModel, Registry, Run, Version
from .mlflow_credentials import MlflowCredentials
from ..net.retry import MAX_ATTEMPTS, RETRY_STATUSES, retry_wait

API = "/api/2.0/mlflow"
PAGE_SIZE = 1000  # MLflow's maximum for registered-model searches (its default is 100)
RUN_ID = re.compile(r"[0-9a-z_-]+")
"""Run ids MLflow's `run_id IN (...)` filter finds: it drops ids with capitals, and a quote would end the list."""
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 30.0
HEALTH_TIMEOUT = 2.0
MAX_ANSWER_BYTES = 64 * 2**20
"""The largest answer read from MLflow: a page of 1,000 models is a few MB, an MLmodel file a few KB."""


def registry_for(connection: MlflowConnection, *, pool_size: int = 8,
                 stop: threading.Event | None = None) -> Registry:
    """A reader for each side: the registry (models, versions) and tracking (runs, MLmodel files).

    An HTTP server is read over its REST API, a database with SELECTs (`registry.database`), and
    anything else with MLflow's client (also a server when an auth plugin of MLflow's is set: its
    requests must be signed by MLflow's own code). The seed's shape, an HTTP trackingUri with the
    registry in the database behind it, reads each side its own way.
    """
    tracking = connection.trackingUri.rstrip("/")
    registry = connection.effective_registry_uri.rstrip("/")
    readers: dict[str, Registry] = {}

    def reader(uri: str, field: str) -> Registry:
        if uri not in readers:
            readers[uri] = _reader(uri, field, connection, pool_size, stop)
        return readers[uri]

    registry_reader = reader(registry, "registryUri")
    try:
        tracking_reader = reader(tracking, "trackingUri")
    except BaseException:
        registry_reader.close()
        raise
    if tracking_reader is registry_reader:
        return registry_reader
    return SplitRegistry(registry_reader, tracking_reader)


def _reader(uri: str, field: str, connection: MlflowConnection, pool_size: int,
            stop: threading.Event | None) -> Registry:
    plugin_auth = any(os.environ.get(v) for v in ("MLFLOW_TRACKING_AUTH", "MLFLOW_TRACKING_AWS_SIGV4"))
    if uri.startswith(("http://", "https://")) and not plugin_auth:
        return RestRegistry(uri, pool_size=pool_size, read_timeout=_read_timeout(), stop=stop)
    if is_database_uri(uri):
        from .database import DatabaseRegistry  # SQLAlchemy and the driver: loaded only for a database

        return DatabaseRegistry(uri, field=field, pool_size=pool_size, read_timeout=_read_timeout())
    tracking, registry = connection.trackingUri, connection.effective_registry_uri
    if is_database_uri(tracking) or is_database_uri(registry):  # never a database for MLflow's client
        tracking = registry = uri
    return ClientRegistry(tracking, registry)


class SplitRegistry:
    """Models and versions from the registry's reader, runs and MLmodel files from tracking's."""

    def __init__(self, registry: Registry, tracking: Registry):
        self.registry = registry
        self.tracking = tracking

    def round_trip(self) -> float:
        return self.tracking.round_trip()  # the reads per model (runs, MLmodel files) are tracking's

    def models_page(self, page_size: int, token: str | None) -> Page:
        return self.registry.models_page(page_size, token)

    def versions(self, name: str) -> Iterator[Version]:
        return self.registry.versions(name)

    def run(self, run_id: str) -> Run:
        return self.tracking.run(run_id)

    def runs(self, run_ids: list[str]) -> dict[str, Run]:
        return self.tracking.runs(run_ids)

    def mlmodel_text(self, version: Version) -> str | None:
        return self.tracking.mlmodel_text(version)

    def close(self) -> None:
        self.registry.close()
        self.tracking.close()


def _read_timeout() -> float:
    """MLflow's own MLFLOW_HTTP_REQUEST_TIMEOUT when the user set it, else `READ_TIMEOUT`."""
    try:
        return float(os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"])
    except (KeyError, ValueError):
        return READ_TIMEOUT


# ------------------------------------------------------------------------------------------- REST


class RestRegistry:
    """GETs against an MLflow tracking server, with MLflow's own credential and TLS variables."""

    def __init__(self, base: str, *, pool_size: int = 8, read_timeout: float = READ_TIMEOUT,
                 stop: threading.Event | None = None):
        self.base = base.rstrip("/")
        self.stop = stop or threading.Event()
        """Set when the run is cancelled: a read waiting to be sent again gives up at once."""
        self.timeout = (CONNECT_TIMEOUT, read_timeout)
        self.session = _session(self.base, MlflowCredentials.from_env(), pool_size, self.stop)
        self._client: Any = None  # MLflow's client, only for artifacts the server does not serve
        self._client_lock = threading.Lock()
        self._artifacts_unserved = False
        self._experiments: list[str] | None = None
        self._experiments_lock = threading.Lock()

    def close(self) -> None:
        self.session.close()

    def round_trip(self) -> float:
        """Seconds a call that asks the server for next to nothing takes (its /health, the quickest
        of three on a kept-alive connection): mostly the network's round trip. 0 when it does not answer."""
        taken = []
        for _ in range(3):
            started = time.monotonic()
            try:
                self.session.get(self.base + "/health", timeout=(CONNECT_TIMEOUT, HEALTH_TIMEOUT),
                                 verify=self.session.verify)
            except requests.RequestException:
                return 0.0
            taken.append(time.monotonic() - started)
        return min(taken)

    def models_page(self, page_size: int, token: str | None) -> Page:
        params: dict[str, Any] = {"max_results": page_size}
        if token:
            params["page_token"] = token
        what = "list the registered models"
        data = self._json("/registered-models/search", what, params)
        models = [RegisteredModel(_text(m, "name", what), _optional_text(m, "description", what) or None,
                                  tuple(_version(v, what) for v in _objects(m, "latest_versions", what)),
                                  hashlib.sha256(json.dumps(m, sort_keys=True).encode()).hexdigest())
                  for m in _objects(data, "registered_models", what)]
        return Page(models, _optional_text(data, "next_page_token", what) or None)

    def versions(self, name: str) -> Iterator[Version]:
        token = None
        tokens = PageTokens(self.base)
        while True:
            params: dict[str, Any] = {"filter": version_filter(name), "max_results": 10000}
            if token:
                params["page_token"] = token
            data = self._json("/model-versions/search", "list the versions", params)
            yield from (_version(v, "list the versions") for v in _objects(data, "model_versions", "list the versions"))
            token = tokens.next(_optional_text(data, "next_page_token", "list the versions"))
            if not token:
                return

    def run(self, run_id: str) -> Run:
        what = f"read run {run_id}"
        return _run(self._json("/runs/get", what, {"run_id": run_id}).get("run") or {}, what)

    def runs(self, run_ids: list[str]) -> dict[str, Run]:
        """Many runs in one call, `runs/search` with `attributes.run_id IN (...)` over every experiment
        (MLflow searches only the experiments it is named). A run it does not return (an experiment
        created since, one this user may not read, an id the filter cannot hold) is left out, for
        `run` to read on its own with the error that one would give."""
        what = "read the runs"
        wanted = sorted({i for i in run_ids if RUN_ID.fullmatch(i)})
        found: dict[str, Run] = {}
        token = None
        tokens = PageTokens(self.base)
        while wanted:
            body: dict[str, Any] = {"experiment_ids": self._experiment_ids(), "run_view_type": "ALL",
                                    "filter": f"attributes.run_id IN ({', '.join(repr(i) for i in wanted)})",
                                    "max_results": len(wanted)}
            if token:
                body["page_token"] = token
            data = self._json("/runs/search", what, {}, body=body)
            for run in _objects(data, "runs", what):
                info = run.get("info")
                run_id = info.get("run_id") if isinstance(info, dict) else None
                if not isinstance(run_id, str) or not run_id:
                    raise _unexpected(what, "a run without info.run_id")
                found[run_id] = _run(run, what)
            token = tokens.next(_optional_text(data, "next_page_token", what))
            if not token:
                break
        return found

    def _experiment_ids(self) -> list[str]:
        """Every experiment's id, deleted ones included (a run can outlive its experiment), listed once."""
        what = "list the experiments"
        with self._experiments_lock:
            if self._experiments is None:
                ids: list[str] = []
                token = None
                tokens = PageTokens(self.base)
                while True:
                    params: dict[str, Any] = {"max_results": 1000, "view_type": 3}  # ViewType.ALL
                    if token:
                        params["page_token"] = token
                    data = self._json("/experiments/search", what, params)
                    ids += [_text(e, "experiment_id", what) for e in _objects(data, "experiments", what)]
                    token = tokens.next(_optional_text(data, "next_page_token", what))
                    if not token:
                        break
                self._experiments = ids
            return self._experiments

    def mlmodel_text(self, version: Version) -> str | None:
        """The MLmodel file, None when the version has none. One call: the server's `get-artifact`
        endpoint resolves the version's source itself, which saves the logged-model lookup and the
        artifact listing. A server that cannot serve the file this way (an older MLflow, artifacts it
        does not proxy) is not asked again: MLflow's artifact repositories read the store instead."""
        if not self._artifacts_unserved:
            params = {"name": version.name, "version": version.version, "path": "MLmodel"}
            response = self._get("/model-versions/get-artifact", "read the MLmodel file", params)
            if response.status_code == 200:
                return response.text
            if response.status_code == 404 and _error_code(response) == "RESOURCE_DOES_NOT_EXIST":
                return None
            self._artifacts_unserved = True
        return self._mlmodel_through_client(version)

    def _mlmodel_through_client(self, version: Version) -> str:
        with self._client_lock:
            if self._client is None:
                self._client = mlflow_client(self.base, self.base)
        try:  # MLflow's client has its own timeouts and retries: hold it to this reader's
            return within(self.timeout[1], lambda: _client_call(
                lambda: download_mlmodel(self._client, self.base, version)))
        except TimeoutError:
            raise ReadError("MLflow did not answer in time to read the MLmodel file (read timeout)",
                            unreachable=not self._healthy()) from None

    # ---------------------------------------------------------------------------------- calls

    def _json(self, path: str, what: str, params: dict[str, Any], *, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._get(API + path, what, params, body=body)
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code == 200 and isinstance(data, dict):
            return data
        if isinstance(data, dict) and "error_code" in data:
            raise ReadError(f"{data['error_code']}: {data.get('message', '')}")
        raise ReadError(f"MLflow answered HTTP {response.status_code} to {what}")

    def _get(self, path: str, what: str, params: dict[str, Any], *, body: dict[str, Any] | None = None
             ) -> requests.Response:
        """One GET (a POST with `body`: MLflow's searches that take one, still reads), sent up to
        `MAX_ATTEMPTS` times on a transport failure or 429/5xx (reads are safe to repeat): a restart
        or a busy moment of a shared server is absorbed. A cancel (`stop`) during a wait ends it with
        the failure or answer the read last got."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            last = attempt == MAX_ATTEMPTS
            try:
                response = self.session.request("GET" if body is None else "POST", self.base + path, params=params,
                                                json=body, timeout=self.timeout, allow_redirects=False,
                                                verify=self.session.verify)
            except requests.ReadTimeout as exc:  # not retried: the same call is likely to be as slow again
                cause = str(exc) if isinstance(exc, AnswerTooSlow) else "read timeout"
                raise ReadError(f"MLflow did not answer in time to {what} ({cause})",
                                unreachable=not self.stop.is_set() and not self._healthy()) from None
            except AnswerTooBig as exc:  # not retried: it would be as big again
                raise ReadError(f"MLflow's answer to {what} was refused: {exc}") from None
            except requests.RequestException as exc:
                if last:  # one call MLflow keeps dropping fails its model; a dead server, the run
                    raise ReadError(f"MLflow did not answer ({_transport_reason(exc)})",
                                    unreachable=not self._healthy()) from None
                if self.stop.wait(retry_wait(attempt)):
                    raise ReadError(f"MLflow did not answer ({_transport_reason(exc)}); "
                                    "not sent again, the run was cancelled") from None
            else:
                if (response.status_code not in RETRY_STATUSES or last
                        or self.stop.wait(retry_wait(attempt, response.headers.get("Retry-After")))):
                    return response
        raise AssertionError("unreachable")  # the loop returns or raises on its last pass

    def _healthy(self) -> bool:
        """After a call got no answer: does the server still answer at all (any status below 500:
        a 401 is an answer)? A call that failed alone fails only its model; a server that is gone
        or stuck fails the run at once instead of one timeout per model."""
        try:
            answer = self.session.get(self.base + "/health", timeout=(CONNECT_TIMEOUT, HEALTH_TIMEOUT),
                                      verify=self.session.verify)
        except requests.RequestException:
            return False
        return answer.status_code < 500


def version_filter(name: str) -> str:
    """MLflow's filter for one model's versions: its parser takes no backslash escapes, so a name
    with an apostrophe goes in double quotes."""
    return f'name="{name}"' if "'" in name else f"name='{name}'"


def _version(v: dict[str, Any], what: str) -> Version:
    if not isinstance(v.get("version"), (str, int)):
        raise _unexpected(what, "a model version without a version number")
    return Version(_text(v, "name", what), str(v["version"]), _optional_text(v, "run_id", what) or None,
                   _optional_text(v, "source", what) or None)


# An answer of the wrong shape (a proxy, another server, a broken one) is a ReadError naming the call,
# not a KeyError or TypeError deep in the run.

def _objects(data: dict[str, Any], key: str, what: str) -> list[dict[str, Any]]:
    items = data.get(key) or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise _unexpected(what, f"{key} is not a list of objects")
    return items


def _text(data: dict[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise _unexpected(what, f"an entry without a {key}")
    return value


def _optional_text(data: dict[str, Any], key: str, what: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise _unexpected(what, f"{key} is not text")
    return value


def _unexpected(what: str, detail: str) -> "ReadError":
    return ReadError(f"MLflow answered the call to {what} with JSON of an unexpected shape ({detail})")


class PageTokens:
    """The page tokens of one listing: one sent twice means the server's paging loops, which would list
    the same models for ever, so the listing ends there with an error naming the server."""

    def __init__(self, server: str):
        self.server = server
        self.seen: set[str] = set()

    def next(self, token: str | None) -> str | None:
        if token and token in self.seen:
            raise ReadError(f"MLflow at {redact_uri(self.server)} sent the same next_page_token twice "
                            f"(after {len(self.seen)} pages): its paging loops, so the listing stops here")
        if token:
            self.seen.add(token)
        return token


def _run(run: Any, what: str) -> Run:
    data = run.get("data") or {} if isinstance(run, dict) else None
    info = run.get("info") or {} if isinstance(run, dict) else None
    if not isinstance(data, dict) or not isinstance(info, dict):
        raise _unexpected(what, "run is not an object with data and info")
    return Run(
        params={_text(p, "key", what): str(p.get("value", "")) for p in _objects(data, "params", what)},
        tags={_text(t, "key", what): str(t.get("value", "")) for t in _objects(data, "tags", what)},
        artifact_uri=_optional_text(info, "artifact_uri", what),
    )


def _error_code(response: requests.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data.get("error_code") if isinstance(data, dict) else None


def _transport_reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, requests.ReadTimeout):
        return "read timeout"
    text = str(exc)
    for needle, reason in (("Connection refused", "connection refused"), ("reset", "connection reset"),
                           ("RemoteDisconnected", "connection closed without an answer")):
        if needle in text:
            return reason
    return short_reason(exc)


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


# ----------------------------------------------------------------------------------- MLflow client

MLFLOW_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}
"""Applied unless the user set them: MLflow otherwise retries 7 times with backoff and waits 120 s."""


class ClientRegistry:
    """MLflow's own client, for stores only it can read; `mlflow` is imported here, on first use."""

    def __init__(self, tracking_uri: str, registry_uri: str):
        self.tracking_uri = tracking_uri
        self.client = mlflow_client(tracking_uri, registry_uri)

    def close(self) -> None:
        pass

    def round_trip(self) -> float:
        return 0.0  # a store MLflow's client reads: no network of ours to wait on

    def models_page(self, page_size: int, token: str | None) -> Page:
        page = _client_call(lambda: self.client.search_registered_models(max_results=page_size, page_token=token))
        models = [RegisteredModel(m.name, m.description or None, tuple(_client_version(v) for v in m.latest_versions or ()))
                  for m in page]
        return Page(models, page.token or None)

    def versions(self, name: str) -> Iterator[Version]:
        token = None
        tokens = PageTokens(self.connection.trackingUri)
        while True:
            page = _client_call(lambda: self.client.search_model_versions(
                filter_string=version_filter(name), page_token=token))
            yield from (_client_version(v) for v in page)
            token = tokens.next(page.token)
            if not token:
                return

    def run(self, run_id: str) -> Run:
        run = _client_call(lambda: self.client.get_run(run_id))
        return Run(dict(run.data.params), dict(run.data.tags), run.info.artifact_uri)

    def runs(self, run_ids: list[str]) -> dict[str, Run]:
        """None at once: through MLflow's client each run is read on its own (`run`)."""
        return {}

    def mlmodel_text(self, version: Version) -> str | None:
        return _client_call(lambda: download_mlmodel(self.client, self.tracking_uri, version))


def mlflow_client(tracking_uri: str, registry_uri: str) -> Any:
    for key, value in MLFLOW_HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)


def download_mlmodel(client: Any, tracking_uri: str, version: Version) -> str:
    """The MLmodel file through MLflow's artifact repositories: any store MLflow itself can read."""
    import tempfile

    from mlflow.artifacts import download_artifacts

    location = version.source or ""
    if location.startswith("models:/"):
        model_id = location[len("models:/"):].split("/")[0]
        location = client.get_logged_model(model_id).artifact_location
    with tempfile.TemporaryDirectory() as tmp:
        path = download_artifacts(artifact_uri=f"{location.rstrip('/')}/MLmodel", dst_path=tmp, tracking_uri=tracking_uri)
        with open(path, encoding="utf-8") as handle:
            return handle.read()


def _client_version(v: Any) -> Version:
    return Version(v.name, str(v.version), v.run_id or None, v.source or None)


def _client_call(call: Any) -> Any:
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - MLflow raises many types; each becomes a ReadError
        text = short_reason(exc)
        unreachable = any(s in text for s in ("Max retries exceeded", "Connection refused", "ConnectionError"))
        raise ReadError(text, unreachable=unreachable) from None

