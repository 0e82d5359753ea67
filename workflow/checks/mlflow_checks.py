"""The MLflow steps: tracking store, registry (when separate), GetModels, one model's artifacts.

An MLflow server is probed over plain HTTP (`mlflow_http`); a database store is read with SELECTs
in read-only transactions (`registry.database`: MLflow's client would create or migrate its tables);
a folder store is checked as far as can be done without MLflow (`mlflow_stores`), then opened with
MLflow's own client (`mlflow_client`), as are the stores only that client can read.
"""
from __future__ import annotations

from contextlib import closing
from typing import TYPE_CHECKING

from ..document.workflow_file import Workflow
from ..document.redact import redact_uri
from ..errors import EndpointError
from .mlflow_artifacts import read_mlmodel
from .mlflow_client import ClientStore
from .mlflow_http import MlflowHttp, identify_mlflow
from .mlflow_registry import LISTED_MODELS, ClientRegistry, DatabaseCheckRegistry, HttpRegistry, Registry, Version
from .mlflow_stores import store_kind, store_precheck
from .steps import MLFLOW, Outcome, Plan, Step, passed, warned

if TYPE_CHECKING:
    from ..registry.database import DatabaseRegistry


def mlflow_plan(config: Workflow, timeout: float) -> Plan:
    return _MlflowChecks(config, timeout).plan()


class _MlflowChecks:
    def __init__(self, config: Workflow, timeout: float):
        connection = config.mlflow
        self.tracking = connection.trackingUri
        self.registry_uri = connection.effective_registry_uri
        self.separate_registry = self.registry_uri.rstrip("/") != self.tracking.rstrip("/")
        self.timeout = timeout
        self.client = ClientStore(self.tracking, self.registry_uri, timeout)
        self.models: list[tuple[str, str | None]] = []
        self._sessions: dict[str, MlflowHttp] = {}

    def plan(self) -> Plan:
        try:
            tracking_http = store_kind(self.tracking, "trackingUri") == "http"
        except EndpointError:
            tracking_http = True  # the first step reports the bad URI
        steps = [Step("Tracking server answers" if tracking_http else "Tracking store opens", self.tracking_answers)]
        if self.separate_registry:
            steps.append(Step("Registry answers", self.registry_answers))
        steps.append(Step("Registered models can be listed (GetModels)", self.list_models))
        steps.append(Step("Model artifacts can be read", self.read_artifacts, mandatory=False))
        return Plan(MLFLOW, steps)

    # ---------------------------------------------------------------------------------- steps

    def tracking_answers(self) -> Outcome:
        kind = store_kind(self.tracking, "trackingUri")
        if kind == "http":
            return identify_mlflow(self._http(self.tracking), "trackingUri")
        if kind != "client":
            store_precheck(self.tracking, kind, "trackingUri", self.timeout)
        if kind == "database":
            with closing(self._database(self.tracking, "trackingUri")) as database:
                schema = database.schema
            return passed(f"the MLflow database at {redact_uri(self.tracking)} opens read-only "
                          f"(schema {schema.revision})")
        self.client.call("open the tracking store", lambda client: client.search_experiments(max_results=1))
        return passed(f"the MLflow tracking store at {redact_uri(self.tracking)} opens")

    def registry_answers(self) -> Outcome:
        kind = store_kind(self.registry_uri, "registryUri")
        if kind == "http":
            return identify_mlflow(self._http(self.registry_uri), "registryUri")
        if kind == "client":
            return passed(f"{redact_uri(self.registry_uri)} is read through MLflow's client; the next step lists it")
        outcome = store_precheck(self.registry_uri, kind, "registryUri", self.timeout)
        if kind == "database":  # a login, or no MLflow registry there, fails here
            self._database(self.registry_uri, "registryUri").close()
        return outcome

    def list_models(self) -> Outcome:
        self.models = self._registry().list_models()
        where = redact_uri(self.registry_uri)
        if not self.models:
            return warned(f"the registry at {where} lists no registered models: a run would ingest nothing",
                          "check that registryUri (or trackingUri) points at the registry holding your models")
        names = ", ".join(name for name, _ in self.models[:3]) + (", ..." if len(self.models) > 3 else "")
        count = len(self.models)
        more = "at least " if count >= LISTED_MODELS else ""
        return passed(f"{more}{count} registered model{'s' if count > 1 else ''} listed ({names})")

    def read_artifacts(self) -> Outcome:
        versioned = [Version(name, version) for name, version in self.models if version]
        if not versioned:
            return Outcome("skipped", "no registered model has a version yet: there are no artifacts to read")
        version = versioned[0]
        label = f"{version.model!r} version {version.version}"
        location = self._registry().download_uri(version)
        if read_mlmodel(location, self.tracking, self.client, self.timeout):
            return passed(f"read the MLmodel file of {label}")
        return warned(f"the artifacts of {label} hold no MLmodel file ({redact_uri(location)}): it will have no features",
                      "log models with mlflow.<flavor>.log_model so their signature (the features) is saved")

    # ---------------------------------------------------------------------------------- helpers

    def _registry(self) -> Registry:
        kind = store_kind(self.registry_uri, "registryUri")
        if kind == "http":
            return HttpRegistry(self._http(self.registry_uri))
        if kind == "database":
            return DatabaseCheckRegistry(lambda: self._database(self.registry_uri, "registryUri"))
        return ClientRegistry(self.client)

    @staticmethod
    def _database(uri: str, field: str) -> DatabaseRegistry:
        """A read-only reader, opened (the schema's revision read) for one step and closed after it."""
        from ..registry.database import DatabaseRegistry  # SQLAlchemy: loaded only for a database

        return DatabaseRegistry(uri, field=field, pool_size=1)

    def _http(self, uri: str) -> MlflowHttp:
        """One session per server, so the steps after the first reuse its connection."""
        if uri not in self._sessions:
            self._sessions[uri] = MlflowHttp(uri, self.timeout)
        return self._sessions[uri]
