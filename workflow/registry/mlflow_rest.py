"""An MLflow tracking server read over its REST API: the four reads a run needs (the registered
models, a model's versions, runs many at a time, a version's `MLmodel` file) as plain calls, so a
run over HTTP never imports `mlflow` (seconds of start-up and about 130 MB of memory) and each call
costs what the server costs. An answer of the wrong shape (a proxy, another server, a broken one)
is a `ReadError` naming the call, not a KeyError deep in the run.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
from typing import Any, Iterator
from urllib.parse import quote

import requests

from .listing import PageTokens, version_filter
from .mlflow_client import ClientRegistry
from .mlflow_failures import mlflow_refusal
from .mlflow_http import API, ARTIFACTS, MlflowHttp
from .read_policy import ReadPolicy
from .records import Page, ReadError, RegisteredModel, Run, Version

RUN_ID = re.compile(r"[0-9a-z_-]+")
"""Run ids MLflow's `run_id IN (...)` filter finds: it drops ids with capitals, and a quote would end the list."""
LOGGED_MODEL_ID = re.compile(r"m-[0-9a-f]{32}")
"""The id MLflow 3 gives a logged model, as a version's `models:/` source names it."""
PROXIED = "mlflow-artifacts:/"
ENDED = ("FINISHED", "FAILED", "KILLED")
"""The statuses of a run that has ended (the others: RUNNING, SCHEDULED)."""


class RestRegistry:
    """A `Registry` for an MLflow server, on one `MlflowHttp` session; a run's policy unless given."""

    def __init__(self, base: str, policy: ReadPolicy | None = None, *, pool_size: int = 8,
                 stop: threading.Event | None = None):
        self.http = MlflowHttp(base, policy or ReadPolicy.for_run(), pool_size=pool_size, stop=stop)
        self.base = self.http.base
        self._client: ClientRegistry | None = None  # MLflow's client, only for artifacts the server does not serve
        self._client_lock = threading.Lock()
        self._artifacts_unserved = False
        self._proxy_gives: bool | None = None
        """Whether the artifact proxy gives MLmodel files (None: not asked yet)."""
        self._proxy_lock = threading.Lock()
        self._experiments: list[str] | None = None
        self._experiments_lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def round_trip(self) -> float:
        return self.http.round_trip()

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

    def mlmodel_text(self, version: Version, run: Run | None = None) -> str | None:
        """The MLmodel file, None when the version has none. One call: from the server's artifact
        proxy when where the files are follows from the version and its `run` (`proxied_location`),
        which costs the server 30 to 40 % less than `get-artifact`; else from `get-artifact`, which
        resolves the version's source itself. A server that cannot serve the file either way (an
        older MLflow, artifacts it does not proxy) is not asked again: MLflow's artifact
        repositories read the store instead."""
        location = proxied_location(version, run)
        text = self._from_proxy(location) if location else None
        if text is not None:
            return text
        if not self._artifacts_unserved:
            params = {"name": version.name, "version": version.version, "path": "MLmodel"}
            response = self.http.request("/model-versions/get-artifact", "read the MLmodel file", params)
            if response.status_code == 200:
                return _yaml_text(response)
            if response.status_code == 404 and _error_code(response) == "RESOURCE_DOES_NOT_EXIST":
                return None
            self._artifacts_unserved = True
        with self._client_lock:
            if self._client is None:
                self._client = ClientRegistry(self.base, self.base, self.http.policy, stop=self.http.stop,
                                              answers=self.http.healthy)
        return self._client.mlmodel_text(version)

    def _from_proxy(self, location: str) -> str | None:
        """The MLmodel file in `location` from the artifact proxy; None when the proxy does not give
        it, and from then on it is not asked (it serves no artifacts, the user may read the model but
        not its experiment, the files are elsewhere): `get-artifact` is. The first read goes alone,
        so such a server costs one call more, not one per reader."""
        if self._proxy_gives is None:
            with self._proxy_lock:
                if self._proxy_gives is None:
                    text = self._proxy_get(location)
                    self._proxy_gives = text is not None
                    return text
        if not self._proxy_gives:
            return None
        text = self._proxy_get(location)
        if text is None:
            self._proxy_gives = False
        return text

    def _proxy_get(self, location: str) -> str | None:
        response = self.http.request(f"{ARTIFACTS}/{quote(location)}/MLmodel", "read the MLmodel file", {})
        return _yaml_text(response) if response.status_code == 200 else None

    def _json(self, path: str, what: str, params: dict[str, Any], *, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.http.request(API + path, what, params, body=body)
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code == 200 and isinstance(data, dict):
            return data
        refusal = mlflow_refusal(response, data, what, self.http.credentials)
        if isinstance(data, dict) and "error_code" in data:
            raise ReadError(f"{data['error_code']}: {data.get('message', '')}", explanation=refusal)
        raise ReadError(f"MLflow answered HTTP {response.status_code} to {what}", explanation=refusal)


def proxied_location(version: Version, run: Run | None) -> str | None:
    """The path under the server's artifact proxy of the version's files, when it follows from what
    is known: its source, when that is under the proxy (`mlflow-artifacts:/...`, MLflow 2); for a
    logged model (`models:/m-...`, MLflow 3), the folder MLflow gives it beside its run's files, in
    the same experiment: `<experiment>/models/<model id>/artifacts` next to `<experiment>/<run
    id>/artifacts`. The model id is in the path, so a wrong guess cannot read another model's file."""
    source = version.source or ""
    if _proxied(source):
        return source.removeprefix(PROXIED).strip("/")
    model_id = source.removeprefix("models:/")
    run_folder = f"/{version.run_id}/artifacts"
    if (LOGGED_MODEL_ID.fullmatch(model_id) and run and run.artifact_uri and _proxied(run.artifact_uri)
            and run.artifact_uri.rstrip("/").endswith(run_folder)):
        experiment = run.artifact_uri.rstrip("/").removesuffix(run_folder).removeprefix(PROXIED).strip("/")
        return f"{experiment}/models/{model_id}/artifacts"
    return None


def _yaml_text(response: requests.Response) -> str:
    """A YAML file's text: UTF-8, as YAML is, whatever the server says. MLflow serves it as text/plain
    with no charset, which `response.text` would read as Latin-1, turning a non-ASCII name into
    control characters YAML refuses. A file that is not UTF-8 raises, and its model gets a warning."""
    return response.content.decode("utf-8")


def _proxied(uri: str) -> bool:
    """Under this server's artifact proxy (`mlflow-artifacts://host/...` names another server's)."""
    return uri.startswith(PROXIED) and not uri.startswith(PROXIED + "/")


def _version(v: dict[str, Any], what: str) -> Version:
    if not isinstance(v.get("version"), (str, int)):
        raise _unexpected(what, "a model version without a version number")
    return Version(_text(v, "name", what), str(v["version"]), _optional_text(v, "run_id", what) or None,
                   _optional_text(v, "source", what) or None)


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


def _unexpected(what: str, detail: str) -> ReadError:
    return ReadError(f"MLflow answered the call to {what} with JSON of an unexpected shape ({detail})")


def _run(run: Any, what: str) -> Run:
    data = run.get("data") or {} if isinstance(run, dict) else None
    info = run.get("info") or {} if isinstance(run, dict) else None
    if not isinstance(data, dict) or not isinstance(info, dict):
        raise _unexpected(what, "run is not an object with data and info")
    return Run(
        params={_text(p, "key", what): str(p.get("value", "")) for p in _objects(data, "params", what)},
        tags={_text(t, "key", what): str(t.get("value", "")) for t in _objects(data, "tags", what)},
        artifact_uri=_optional_text(info, "artifact_uri", what),
        ended=info.get("status") in ENDED,
    )


def _error_code(response: requests.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data.get("error_code") if isinstance(data, dict) else None
