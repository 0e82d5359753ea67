"""What the real OpenMetadata server accepts and keeps: the fields of each create request and status
(from openmetadata-spec), the checks its bean validation and Jackson make, its `{"code", "message"}`
errors, and the fields it manages on an entity (id, FQN, version, updatedAt)."""

from __future__ import annotations

import time
from typing import Any

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


class ApiError(Exception):
    """Raised by route handlers; becomes ``{"code": status, "message": message}``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def fqn_part(name: str) -> str:
    """Quote one FQN component the way OpenMetadata does: wrap in double quotes iff it has a dot."""
    return f'"{name}"' if "." in name else name


def now_ms() -> int:
    return int(time.time() * 1000)


def bump_version(version: float) -> float:
    """Minor version bump (0.1 -> 0.2) without float noise such as 0.30000000000000004."""
    return round(version + 0.1, 1)


def user_fields(entity: dict) -> dict:
    """The part of a stored entity that came from the create request (service excluded)."""
    return {k: v for k, v in entity.items() if k not in SERVER_MANAGED_FIELDS}


def next_updated_at(existing: dict | None) -> int:
    """Now, but strictly after the previous value so a change is always observable."""
    now = now_ms()
    previous = existing.get("updatedAt") if existing else None
    return max(now, previous + 1) if isinstance(previous, int) else now


# --------------------------------------------------------------------------------------------
# Request validation (mirrors bean validation + Jackson on the Java side)
# --------------------------------------------------------------------------------------------

def _reject_unknown(obj: dict, allowed: frozenset, java_class: str) -> None:
    """Jackson fails on unknown properties; catching them here catches client typos early."""
    for key in obj:
        if key not in allowed:
            raise ApiError(400, f'Unrecognized field "{key}" (class {java_class}), not marked as ignorable')


def require_str(obj: dict, key: str, where: str = "") -> None:
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
        require_str(feature, "name", f"mlFeatures[{i}].")
        data_type = feature.get("dataType")
        if data_type is not None and data_type not in FEATURE_DATA_TYPES:
            # Typical client bug: sending the Python enum repr "FeatureType.numerical".
            raise ApiError(400, f'Cannot construct instance of `FeatureType`, problem: "{data_type}" '
                                f"(mlFeatures[{i}].dataType must be one of numerical, categorical)")


def _validate_hyper_parameters(create: dict) -> None:
    for i, param in enumerate(_list_of_objects(create, "mlHyperParameters")):
        _reject_unknown(param, HYPER_PARAMETER_FIELDS, "org.openmetadata.schema.type.MlHyperParameter")
        require_str(param, "name", f"mlHyperParameters[{i}].")
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
    require_str(create, "algorithm")
    require_str(create, "service")
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
    require_str(create["service"], "id", "service.")
    require_str(create["service"], "type", "service.")


def validate_pipeline_status(status: Any) -> None:
    """Check a PipelineStatus and its StepSummary list; raise ApiError(400) on anything the server rejects."""
    if not isinstance(status, dict):
        raise ApiError(400, "Cannot deserialize PipelineStatus from a non-object value")
    _reject_unknown(status, PIPELINE_STATUS_FIELDS, "org.openmetadata.schema.entity.services.ingestionPipelines"
                                                    ".PipelineStatus")
    require_str(status, "runId")
    if status.get("pipelineState") not in PIPELINE_STATES:
        raise ApiError(400, f"[pipelineState must be one of {sorted(PIPELINE_STATES)}, got {status.get('pipelineState')!r}]")
    for key in ("startDate", "timestamp", "endDate"):
        if status.get(key) is not None and not isinstance(status[key], int):
            raise ApiError(400, f"[{key} must be a timestamp in milliseconds]")
    for step in _list_of_objects(status, "status"):
        _reject_unknown(step, STEP_SUMMARY_FIELDS, "org.openmetadata.schema.entity.services.ingestionPipelines"
                                                   ".StepSummary")
        require_str(step, "name", "status.")
        for failure in _list_of_objects(step, "failures"):
            require_str(failure, "name", "status.failures.")
            require_str(failure, "error", "status.failures.")
