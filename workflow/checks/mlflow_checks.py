"""The MLflow steps: tracking store, registry (when separate), GetModels, one model's artifacts.

Before anything is read, an MLflow server is probed over plain HTTP (`mlflow_identity`: is it
MLflow at all), a database store is opened read-only (`registry.database`: MLflow's client would
create or migrate its tables), and a folder store is checked as far as can be done without MLflow
(`mlflow_stores`), then opened with MLflow's own client, as are the stores only that client can
read. The listing is then read by the run's own reader (`registry_for`), held to a check's
`ReadPolicy`: each read sent once, with short timeouts; so is the MLmodel file, but from an MLflow
server, whose `get-artifact` endpoint is left to the run (`mlflow_artifacts`).
"""
from __future__ import annotations

from contextlib import closing
from typing import TYPE_CHECKING, Any, Callable

from ..document.workflow_file import Workflow
from ..document.redact import redact_uri
from ..errors import EndpointError
from ..registry.mlflow_api import registry_for
from ..registry.mlflow_client import ClientRegistry
from ..registry.mlflow_http import MlflowHttp
from ..registry.read_policy import ReadPolicy
from ..registry.records import ReadError, RegisteredModel, Registry, Version, highest
from .mlflow_artifacts import download_uri, served_mlmodel
from .mlflow_identity import identify_mlflow
from .mlflow_stores import store_kind, store_precheck
from .network import READ_TIMEOUT_FACTOR
from .steps import MLFLOW, Outcome, Plan, Step, passed, warned

if TYPE_CHECKING:
    from ..registry.database import DatabaseRegistry

LISTED_MODELS = 100
"""GetModels reads the first page of registered models, at MLflow's default page size, as the official step."""


def mlflow_plan(config: Workflow, timeout: float) -> Plan:
    return _MlflowChecks(config, timeout).plan()


class _MlflowChecks:
    def __init__(self, config: Workflow, timeout: float):
        self.connection = config.mlflow
        self.tracking = self.connection.trackingUri
        self.registry_uri = self.connection.effective_registry_uri
        self.separate_registry = self.registry_uri.rstrip("/") != self.tracking.rstrip("/")
        self.timeout = timeout
        self.policy = ReadPolicy.for_check(timeout, READ_TIMEOUT_FACTOR)
        self.models: list[RegisteredModel] = []
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
        store = ClientRegistry(self.tracking, self.tracking, self.policy)
        _explained(lambda: store.call("open the tracking store", lambda client: client.search_experiments(max_results=1)))
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
        self.models = self._read(lambda registry: registry.models_page(LISTED_MODELS, None).models)
        where = redact_uri(self.registry_uri)
        if not self.models:
            return warned(f"the registry at {where} lists no registered models: a run would ingest nothing",
                          "check that registryUri (or trackingUri) points at the registry holding your models")
        names = ", ".join(m.name for m in self.models[:3]) + (", ..." if len(self.models) > 3 else "")
        count = len(self.models)
        more = "at least " if count >= LISTED_MODELS else ""
        return passed(f"{more}{count} registered model{'s' if count > 1 else ''} listed ({names})")

    def read_artifacts(self) -> Outcome:
        """The MLmodel file of the first listed model that has a version: from an MLflow server
        through its artifact proxy (`mlflow_artifacts`), from any other store as a run reads it."""
        versioned = [(model.name, version) for model in self.models if (version := highest(model.latest_versions))]
        if not versioned:
            return Outcome("skipped", "no registered model has a version yet: there are no artifacts to read")
        name, version = versioned[0]
        label = f"{name!r} version {version.version}"
        location, found = version.source or "", None
        if store_kind(self.tracking, "trackingUri") == "http":
            location = self._artifact_location(version)
            found = served_mlmodel(self._http(self.tracking), location)
        if found is None:
            found = self._read(lambda registry: registry.mlmodel_text(version)) is not None
        if found:
            return passed(f"read the MLmodel file of {label}")
        return warned(f"the artifacts of {label} hold no MLmodel file ({redact_uri(location)}): it will have no features",
                      "log models with mlflow.<flavor>.log_model so their signature (the features) is saved")

    # ---------------------------------------------------------------------------------- helpers

    def _read(self, read: Callable[[Registry], Any]) -> Any:
        """One read by the run's reader, opened for this step and closed after it."""
        def open_and_read() -> Any:
            with closing(registry_for(self.connection, pool_size=1, policy=self.policy)) as registry:
                return read(registry)

        return _explained(open_and_read)

    def _artifact_location(self, version: Version) -> str:
        """Where the registry says the version's files are."""
        kind = store_kind(self.registry_uri, "registryUri")
        if kind == "http":
            return download_uri(self._http(self.registry_uri), version)
        if kind == "database":
            with closing(self._database(self.registry_uri, "registryUri")) as database:
                return database.artifact_location(version)
        return version.source or ""

    @staticmethod
    def _database(uri: str, field: str) -> DatabaseRegistry:
        """A read-only reader, opened (the schema's revision read) for one step and closed after it."""
        from ..registry.database import DatabaseRegistry  # SQLAlchemy: loaded only for a database

        return DatabaseRegistry(uri, field=field, pool_size=1)

    def _http(self, uri: str) -> MlflowHttp:
        """One session per server, so the steps after the first reuse its connection."""
        if uri not in self._sessions:
            self._sessions[uri] = MlflowHttp(uri, self.policy, pool_size=1)
        return self._sessions[uri]


def _explained(read: Callable[[], Any]) -> Any:
    """`read()`, its `ReadError` turned into the failure a check reports (the cause and the fix)."""
    try:
        return read()
    except ReadError as exc:
        raise exc.explained() from None
