"""The `source:` block: which MLflow to read (tracking and registry URIs), under which service name, and
the source's options (the model filter, marking deleted models). Only what cannot work anywhere is
refused here; a server that is down is left to `metadata test-connection`.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from ..errors import InvalidValue
from .filters import FilterPattern
from .rules import Strict, entity_name_problem, mlflow_uri_problem


class MlflowConnection(Strict):
    type: Literal["Mlflow"] = "Mlflow"
    trackingUri: str
    registryUri: str | None = Field(
        default=None, description="Defaults to trackingUri, as in MLflow itself."
    )
    # Accepted for compatibility with the official schema; the source reads sourceConfig's pattern.
    mlModelFilterPattern: FilterPattern | None = None
    supportsMetadataExtraction: bool | None = None

    @field_validator("trackingUri", "registryUri")
    @classmethod
    def _uri(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.strip():
            raise ValueError("must not be empty (for example http://localhost:5000)")
        problem = mlflow_uri_problem(value.strip())
        if problem:
            raise problem
        return value.strip()

    @property
    def effective_registry_uri(self) -> str:
        return self.registryUri or self.trackingUri


class ServiceConnection(Strict):
    config: MlflowConnection


class MlModelMetadataConfig(Strict):
    type: Literal["MlModelMetadata"] = "MlModelMetadata"
    markDeletedMlModels: bool = True
    mlModelFilterPattern: FilterPattern | None = None
    overrideMetadata: bool = False
    overrideLineage: bool = False
    lineageInformation: dict[str, Any] | None = None


class SourceConfig(Strict):
    config: MlModelMetadataConfig = Field(default_factory=MlModelMetadataConfig)


class Source(Strict):
    type: Literal["mlflow"] = "mlflow"
    serviceName: str
    serviceConnection: ServiceConnection | None = Field(
        default=None, description="When absent, the connection stored with the service in OpenMetadata is used."
    )
    sourceConfig: SourceConfig = Field(default_factory=SourceConfig)

    @field_validator("type", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("serviceName")
    @classmethod
    def _service_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty (for example local_mlflow)")
        problem = entity_name_problem(value)
        if problem:
            raise problem
        if "/" in value:  # OpenMetadata finds a service by its name in the URL path, where / splits it
            raise InvalidValue("must not contain '/': OpenMetadata looks a service up by its name in a URL path, "
                               "where / would split it", hint=f"for example {value.replace('/', '_')!r}")
        return value
