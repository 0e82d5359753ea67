"""Turn MLflow registered models into OpenMetadata `CreateMlModelRequest`s.

Field mapping follows the official connector (openmetadata-ingestion 2.0.7) so both tools produce the
same entities: the highest-numbered version, its run's params as hyper-parameters, the run's
artifact root as the store, features from the signature. What differs is deliberate: listing is paged
without a cap, every model that cannot be read is reported (never silently dropped), `build` is safe
to call from many threads at once, and once MLflow stops answering the source says so
(`unreachable`) instead of letting every remaining model wait out its own retries.

The reads themselves are the reader `mlflow_api.registry_for` picks: REST, a database, or MLflow's client.
"""
from __future__ import annotations

import ast
import json
import threading
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from ..document.source import MlflowConnection
from ..errors import short_reason
from .records import ReadError, RegisteredModel, Registry, Run, Version, highest
from ..document.redact import without_credentials
from ..document.safe_yaml import TooManyValues, load_bounded
from .listing import PageTokens
from .mlflow_api import PAGE_SIZE, registry_for


UNREAD_SIGNATURE = "cannot read the model signature from its MLmodel file"


class ModelError(Exception):
    """A model that cannot be ingested; the message says why."""


@dataclass
class BuiltModel:
    """A create request ready for the sink, plus the warnings found while building it."""

    name: str
    request: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    @property
    def fully_read(self) -> bool:
        """False when a read failed and the model went without what it would have given."""
        return not any(w.startswith(UNREAD_SIGNATURE) for w in self.warnings)


class MlflowSource:
    def __init__(self, connection: MlflowConnection, service_name: str, *, page_size: int = PAGE_SIZE,
                 pool_size: int = 8, stop: threading.Event | None = None):
        self.connection = connection
        self.service_name = service_name
        self.page_size = page_size
        self.registry: Registry = registry_for(connection, pool_size=pool_size, stop=stop)
        self.unreachable: str | None = None
        """Why MLflow stopped answering, once it has; the runner then stops handing out work."""

    def close(self) -> None:
        self.registry.close()

    def round_trip(self) -> float:
        return self.registry.round_trip()

    # ------------------------------------------------------------------------------------ listing

    def iter_models(self) -> Iterator[RegisteredModel]:
        """Every registered model, page after page, streamed so memory does not grow with the registry."""
        token = None
        tokens = PageTokens(self.connection.trackingUri)
        while True:
            page = self._read(lambda: self.registry.models_page(self.page_size, token))
            token = tokens.next(page.token)  # before its models: a page sent again is not counted again
            yield from page.models
            if not token:
                return

    def _read(self, call: Any) -> Any:
        try:
            return call()
        except ReadError as exc:
            if exc.unreachable and self.unreachable is None:
                self.unreachable = str(exc)
            raise

    # ----------------------------------------------------------------------------------- building

    def prefetch(self, models: list[RegisteredModel]) -> dict[str, Run]:
        """The runs of these models' highest versions, read many at a time where the listing names
        them (a model listed without its versions is left to `build`). Best effort: a run missing
        here, or a batch that failed, is read on its own by `build`, which reports what went wrong."""
        run_ids = [v.run_id for v in (highest(m.latest_versions) for m in models) if v and v.run_id]
        if self.unreachable or not run_ids:
            return {}
        try:
            return self._read(lambda: self.registry.runs(run_ids))
        except ReadError:
            return {}

    def build(self, model: RegisteredModel, runs: Mapping[str, Run] | None = None) -> BuiltModel:
        """The create request for one model; raises `ModelError` when the model cannot be read.
        `runs` are runs read beforehand (`prefetch`); any other run is read here.

        A model with no version yet, or a version with no run, still arrives in the catalog (with what
        the registry knows) and carries a warning, so no registered model silently goes missing.
        """
        if self.unreachable:
            raise ModelError(f"not read: {self.unreachable}")
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
            request.update(self._from_run(version, (runs or {}).get(version.run_id), warnings))
        request["service"] = self.service_name
        request["sourceUrl"] = f"{without_credentials(self.connection.trackingUri).rstrip('/')}/#/models/{model.name}"
        return BuiltModel(model.name, request, warnings)

    def _from_run(self, version: Version, run: Run | None, warnings: list[str]) -> dict[str, Any]:
        try:
            if run is None:
                run = self._read(lambda: self.registry.run(version.run_id))
        except ReadError as exc:
            raise ModelError(f"cannot read run {version.run_id} of version {version.version}: {exc}") from None
        fields: dict[str, Any] = {}
        features = self.features(version, run, warnings)
        if features:
            fields["mlFeatures"] = features
        if run.params:
            fields["mlHyperParameters"] = [{"name": k, "value": v} for k, v in run.params.items()]
        storage = run.artifact_uri or version.source
        if storage:
            fields["mlStore"] = {"storage": storage}
        return fields

    def latest_version(self, model: RegisteredModel) -> Version | None:
        """The highest version number, as the official connector picks it (stage and date ignored).

        Each stage's latest version comes with the listing, and the highest version is the latest of
        its own stage, so the registry is asked for the versions only when the listing has none.
        """
        candidates = list(model.latest_versions)
        if not candidates:
            try:
                candidates = list(self._read(lambda: list(self.registry.versions(model.name))))
            except ReadError as exc:
                raise ModelError(f"cannot list the versions: {exc}") from None
        return highest(candidates)

    # ----------------------------------------------------------------------------------- features

    def features(self, version: Version, run: Run, warnings: list[str]) -> list[dict[str, str]] | None:
        """Features from the signature: the MLflow 2 run tag first, else the version's MLmodel file."""
        inputs = _inputs_from_history_tag(run.tags.get("mlflow.log-model.history"), version.run_id)
        if inputs is None:
            try:
                inputs = self._inputs_from_mlmodel(version, run)
            except TooManyValues as exc:
                raise ModelError(f"the MLmodel file of version {version.version} is refused: {exc}") from None
            except ReadError as exc:
                if exc.unreachable:
                    raise ModelError(f"cannot read the MLmodel file of version {version.version}: {exc}") from None
                warnings.append(f"{UNREAD_SIGNATURE}: {exc}")
                return None
            except Exception as exc:  # noqa: BLE001 - a warning: the model is still ingested
                warnings.append(f"{UNREAD_SIGNATURE}: {short_reason(exc)}")
                return None
            if inputs is None:
                warnings.append("no signature was logged with this model, so it has no features")
                return None
        return _features(inputs) or None

    def _inputs_from_mlmodel(self, version: Version, run: Run) -> list[Any] | None:
        text = self._read(lambda: self.registry.mlmodel_text(version, run))
        mlmodel = load_bounded(text) if text is not None else None
        signature = (mlmodel if isinstance(mlmodel, dict) else {}).get("signature") or {}
        if not signature.get("inputs"):
            return None
        return _parse_loose(signature["inputs"])


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
    if not isinstance(inputs, list):
        return []
    return [
        {"name": col["name"], "dataType": "categorical" if col.get("type") == "string" else "numerical"}
        for col in inputs
        if isinstance(col, dict) and col.get("name") and isinstance(col["name"], str)
    ]
