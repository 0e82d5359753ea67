"""Read registered models from MLflow and turn each into an OpenMetadata `CreateMlModelRequest`.

Field mapping follows the official connector (openmetadata-ingestion 2.0.7) so both tools produce the
same entities: the highest-numbered version, its run's params as hyper-parameters, the run's
artifact root as the store, features from the signature. What differs is deliberate: listing is paged
without a cap, every model that cannot be read is reported (never silently dropped), and `build` is
safe to call from many threads at once.

`mlflow` is imported here only, and only when a source is created, because it costs seconds.
"""
from __future__ import annotations

import ast
import json
import os
import tempfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

import yaml

from .config import MlflowConnection
from .errors import short_reason
from .redact import without_credentials

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion, RegisteredModel

PAGE_SIZE = 1000  # MLflow's maximum for registered-model searches (its default is 100)

# Applied unless the user set them: MLflow otherwise retries 7 times with backoff and waits 120 s.
MLFLOW_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


class ModelError(Exception):
    """A model that cannot be ingested; the message says why."""


@dataclass
class BuiltModel:
    """A create request ready for the sink, plus the warnings found while building it."""

    name: str
    request: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


class MlflowSource:
    def __init__(self, connection: MlflowConnection, service_name: str, *, page_size: int = PAGE_SIZE):
        for key, value in MLFLOW_HTTP_DEFAULTS.items():
            os.environ.setdefault(key, value)
        from mlflow.tracking import MlflowClient

        self.connection = connection
        self.service_name = service_name
        self.page_size = page_size
        self.client = MlflowClient(
            tracking_uri=connection.trackingUri, registry_uri=connection.effective_registry_uri
        )

    # ------------------------------------------------------------------------------------ listing

    def iter_models(self) -> Iterator["RegisteredModel"]:
        """Every registered model, page after page, streamed so memory does not grow with the registry."""
        token = None
        while True:
            page = self.client.search_registered_models(max_results=self.page_size, page_token=token)
            yield from page
            token = page.token
            if not token:
                return

    # ----------------------------------------------------------------------------------- building

    def build(self, model: "RegisteredModel") -> BuiltModel:
        """The create request for one model; raises `ModelError` when the model cannot be read.

        A model with no version yet, or a version with no run, still arrives in the catalog (with what
        the registry knows) and carries a warning, so no registered model silently goes missing.
        """
        request: dict[str, Any] = {"name": model.name}
        if model.description:
            request["description"] = model.description
        request["algorithm"] = "mlmodel"
        warnings: list[str] = []
        version = self.latest_version(model)
        if version is None:
            warnings.append("the model has no version yet: ingested without features, hyper-parameters or store")
        elif not version.run_id:
            warnings.append(f"version {version.version} has no run: ingested without hyper-parameters or features")
            if version.source:
                request["mlStore"] = {"storage": version.source}
        else:
            request.update(self._from_run(model.name, version, warnings))
        request["service"] = self.service_name
        request["sourceUrl"] = f"{without_credentials(self.connection.trackingUri).rstrip('/')}/#/models/{model.name}"
        return BuiltModel(model.name, request, warnings)

    def _from_run(self, name: str, version: "ModelVersion", warnings: list[str]) -> dict[str, Any]:
        try:
            run = self.client.get_run(version.run_id)
        except Exception as exc:  # noqa: BLE001 - any MLflow failure is this model's failure
            raise ModelError(f"cannot read run {version.run_id} of version {version.version}: {short_reason(exc)}") from None
        fields: dict[str, Any] = {}
        features = self.features(name, version, run, warnings)
        if features:
            fields["mlFeatures"] = features
        if run.data.params:
            fields["mlHyperParameters"] = [{"name": k, "value": str(v)} for k, v in run.data.params.items()]
        storage = run.info.artifact_uri or version.source
        if storage:
            fields["mlStore"] = {"storage": storage}
        return fields

    def latest_version(self, model: "RegisteredModel") -> "ModelVersion | None":
        """The highest version number, as the official connector picks it (stage and date ignored)."""
        candidates = list(model.latest_versions or [])
        if not candidates:
            try:
                candidates = list(self._all_versions(model.name))
            except Exception as exc:  # noqa: BLE001
                raise ModelError(f"cannot list the versions: {short_reason(exc)}") from None
        numbered = [v for v in candidates if str(v.version).isdigit()]
        return max(numbered, key=lambda v: int(v.version)) if numbered else None

    def _all_versions(self, name: str) -> Iterator["ModelVersion"]:
        escaped = name.replace("'", "\\'")
        token = None
        while True:
            page = self.client.search_model_versions(filter_string=f"name='{escaped}'", page_token=token)
            yield from page
            token = page.token
            if not token:
                return

    # ----------------------------------------------------------------------------------- features

    def features(self, name: str, version: "ModelVersion", run: Any, warnings: list[str]) -> list[dict[str, str]] | None:
        """Features from the signature: the MLflow 2 run tag first, else the version's MLmodel file."""
        inputs = _inputs_from_history_tag(run.data.tags.get("mlflow.log-model.history"), version.run_id)
        if inputs is None:
            try:
                inputs = self._inputs_from_mlmodel(version)
            except Exception as exc:  # noqa: BLE001 - a warning: the model is still ingested
                warnings.append(f"cannot read the model signature from its MLmodel file: {short_reason(exc)}")
                return None
            if inputs is None:
                warnings.append("no signature was logged with this model, so it has no features")
                return None
        return _features(inputs) or None

    def _inputs_from_mlmodel(self, version: "ModelVersion") -> list[Any] | None:
        text = self._mlmodel_from_registry_server(version)
        mlmodel = yaml.safe_load(text) if text is not None else self._download_mlmodel(version)
        signature = (mlmodel or {}).get("signature") or {}
        if not signature.get("inputs"):
            return None
        return _parse_loose(signature["inputs"])

    def _mlmodel_from_registry_server(self, version: "ModelVersion") -> str | None:
        """The MLmodel file in one call, from an HTTP tracking server that is also the registry.

        The server's `get-artifact` endpoint resolves the version's source itself, which saves the
        logged-model lookup and the artifact listing that the generic path costs. Anything else
        (another kind of server, an older MLflow) returns None and the generic path is used.
        """
        uri = self.connection.trackingUri
        if not uri.startswith(("http://", "https://")) or self.connection.effective_registry_uri != uri:
            return None
        from mlflow.utils.rest_utils import http_request

        try:
            response = http_request(
                self.client._tracking_client.store.get_host_creds(),
                "/model-versions/get-artifact",
                "GET",
                params={"name": version.name, "version": version.version, "path": "MLmodel"},
                max_retries=0,
                raise_on_status=False,
            )
        except Exception:  # noqa: BLE001 - the generic path reports the real problem
            return None
        return response.text if response.status_code == 200 else None

    def _download_mlmodel(self, version: "ModelVersion") -> dict[str, Any]:
        location = version.source or ""
        if location.startswith("models:/"):
            model_id = location[len("models:/"):].split("/")[0]
            location = self.client.get_logged_model(model_id).artifact_location
        from mlflow.artifacts import download_artifacts

        with tempfile.TemporaryDirectory() as tmp:
            path = download_artifacts(
                artifact_uri=f"{location.rstrip('/')}/MLmodel",
                dst_path=tmp,
                tracking_uri=self.connection.trackingUri,
            )
            with open(path, encoding="utf-8") as handle:
                return yaml.safe_load(handle) or {}


def _inputs_from_history_tag(tag: str | None, run_id: str) -> list[Any] | None:
    """Signature inputs from MLflow 2's `mlflow.log-model.history` run tag, if it has them."""
    if not tag:
        return None
    try:
        history = _parse_loose(tag)
        entry = next(e for e in history if e.get("run_id") == run_id)
        return _parse_loose(entry["signature"]["inputs"])
    except Exception:  # noqa: BLE001 - absent or unreadable: fall back to the MLmodel file
        return None


def _parse_loose(text: Any) -> Any:
    """JSON, or a Python literal as older MLflow clients wrote it."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return ast.literal_eval(text)


def _features(inputs: list[Any]) -> list[dict[str, str]]:
    """Named columns only (tensor inputs have no names); `string` is categorical, the rest numerical."""
    return [
        {"name": col["name"], "dataType": "categorical" if col.get("type") == "string" else "numerical"}
        for col in inputs
        if isinstance(col, dict) and col.get("name")
    ]
