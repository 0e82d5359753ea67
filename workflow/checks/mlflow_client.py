"""MLflow's own client, for stores only it can read (a folder, a database, Databricks, a plugin's
scheme). mlflow is imported on first use, not with this module: it costs seconds."""
from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import requests

from ..net.deadline import within
from ..errors import EndpointError, UserError
from .mlflow_http import mlflow_transport_failure


class ClientStore:
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


def _within(seconds: float, action: Callable[[], Any], what: str) -> Any:
    """`action()` under a deadline: a database driver may wait minutes."""
    try:
        return within(seconds, action)
    except TimeoutError:
        raise EndpointError(f"{what}: no answer within {seconds:.0f} s (timeout)",
                            hint="check that the store's server is reachable from here and not overloaded") from None


def _client_failure(exc: BaseException, what: str, uri: str) -> EndpointError:
    """An MLflow client exception as a cause: the network failure under it, a missing driver, or its message."""
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
