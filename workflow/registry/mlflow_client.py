"""MLflow's own client, for the stores only it can read (a folder, Databricks, a plugin's scheme or
auth) and for artifacts a server does not serve. `mlflow` is imported on first use, never with this
module: it costs seconds and about 130 MB.

One policy for every call, a run's or a check's (its `ReadPolicy`):
- MLflow's own HTTP retries are off (MLFLOW_HTTP_REQUEST_MAX_RETRIES=0 unless the user set it): its
  default of 7 retries with backoff makes a refused port take minutes. A call is sent again here, as
  the REST reader sends its reads: up to `policy.attempts` times when the store could not be reached,
  waiting `retry_wait` in between, and not at all once the run is cancelled. A run's policy retries
  twice; a check's sends once, so a refused port fails the check in about a second.
- Each call runs under `policy.deadline`, since a driver or a plugin may wait minutes: a run's read
  timeout, at least 10 s for a check. MLflow's own MLFLOW_HTTP_REQUEST_TIMEOUT defaults to the REST
  reader's 30 s.
"""
from __future__ import annotations

import os
import tempfile
import threading
from typing import Any, Callable, Iterator, TypeVar

import requests

from ..errors import EndpointError, short_reason
from ..net.deadline import within
from ..net.retry import retry_wait
from .listing import PageTokens, version_filter
from .mlflow_failures import mlflow_transport_failure
from .read_policy import ReadPolicy
from .records import Page, ReadError, RegisteredModel, Run, Version

T = TypeVar("T")

MLFLOW_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}
"""Set for the process before MLflow is first used, unless the user set them (MLflow reads them per request)."""

UNREACHABLE = ("Max retries exceeded", "Connection refused", "ConnectionError")
"""What MLflow's errors say when the store's server could not be reached at all."""


class ClientRegistry:
    """A `Registry` read through MLflow's client; `call` runs any other action under the same policy."""

    def __init__(self, tracking_uri: str, registry_uri: str, policy: ReadPolicy, *,
                 stop: threading.Event | None = None, answers: Callable[[], bool] | None = None):
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri
        self.policy = policy
        self.stop = stop or threading.Event()
        self.answers = answers or (lambda: False)
        """After a call ran out of time: does the store still answer (a server's /health)? If not, the
        run stops rather than wait out the deadline for every model."""
        self._client: Any = None
        self._lock = threading.Lock()

    def close(self) -> None:
        pass

    def round_trip(self) -> float:
        return 0.0  # a store MLflow's client reads: no network of ours to wait on

    def call(self, what: str, action: Callable[[Any], T]) -> T:
        """`action(client)` under the policy; a failure is a `ReadError` explained for a check."""
        for key, value in MLFLOW_DEFAULTS.items():
            os.environ.setdefault(key, value)
        from mlflow.tracking import MlflowClient  # before the deadline: the import alone takes seconds on a busy machine

        for attempt in range(1, self.policy.attempts + 1):
            try:
                return within(self.policy.deadline, lambda: action(self._open(MlflowClient)))
            except TimeoutError:
                message = f"MLflow's client could not {what}: no answer within {self.policy.deadline:.0f} s (timeout)"
                raise ReadError(message, unreachable=not self.answers(), explanation=EndpointError(
                    message, hint="check that the store's server is reachable from here and not overloaded")) from None
            except Exception as exc:  # noqa: BLE001 - MLflow raises many types; each becomes a ReadError
                failure = _failure(exc, what, self.tracking_uri)
                if not failure.unreachable or attempt == self.policy.attempts or self.stop.wait(retry_wait(attempt)):
                    raise failure from None
        raise AssertionError("unreachable")  # the loop returns or raises on its last pass

    def models_page(self, page_size: int, token: str | None) -> Page:
        page = self.call("list the registered models",
                         lambda client: client.search_registered_models(max_results=page_size, page_token=token))
        models = [RegisteredModel(m.name, m.description or None, tuple(_version(v) for v in m.latest_versions or ()))
                  for m in page]
        return Page(models, page.token or None)

    def versions(self, name: str) -> Iterator[Version]:
        token = None
        tokens = PageTokens(self.registry_uri)
        while True:
            page = self.call("list the versions", lambda client: client.search_model_versions(
                filter_string=version_filter(name), page_token=token))
            yield from (_version(v) for v in page)
            token = tokens.next(page.token)
            if not token:
                return

    def run(self, run_id: str) -> Run:
        run = self.call(f"read run {run_id}", lambda client: client.get_run(run_id))
        return Run(dict(run.data.params), dict(run.data.tags), run.info.artifact_uri)

    def runs(self, run_ids: list[str]) -> dict[str, Run]:
        """None at once: through MLflow's client each run is read on its own (`run`)."""
        return {}

    def mlmodel_text(self, version: Version, run: Run | None = None) -> str | None:
        return self.call("read the MLmodel file", lambda client: download_mlmodel(client, self.tracking_uri, version))

    def _open(self, client_class: Any) -> Any:
        with self._lock:
            if self._client is None:
                self._client = client_class(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri)
            return self._client


def download_mlmodel(client: Any, tracking_uri: str, version: Version) -> str:
    """The MLmodel file through MLflow's artifact repositories: any store MLflow itself can read."""
    from mlflow.artifacts import download_artifacts

    location = version.source or ""
    if location.startswith("models:/"):
        model_id = location[len("models:/"):].split("/")[0]
        location = client.get_logged_model(model_id).artifact_location
    with tempfile.TemporaryDirectory() as tmp:
        path = download_artifacts(artifact_uri=f"{location.rstrip('/')}/MLmodel", dst_path=tmp, tracking_uri=tracking_uri)
        with open(path, encoding="utf-8") as handle:
            return handle.read()


def _version(v: Any) -> Version:
    return Version(v.name, str(v.version), v.run_id or None, v.source or None)


def _failure(exc: BaseException, what: str, uri: str) -> ReadError:
    text = short_reason(exc)
    return ReadError(text, unreachable=any(s in text for s in UNREACHABLE), explanation=_explained(exc, what, uri))


def _explained(exc: BaseException, what: str, uri: str) -> EndpointError:
    """An MLflow client exception for a person: the network failure under it, a missing driver, or its message."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, requests.RequestException):
            return mlflow_transport_failure(cause, uri)
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
