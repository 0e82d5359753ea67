"""The whole workflow file (`Workflow`) and its `workflowConfig` block, built from the blocks of
source.py, sink.py and server_config.py: pydantic models, the one definition of every field rule.

The shape follows the official `OpenMetadataWorkflowConfig` (openmetadata-ingestion 2.0.7) so every
MLflow config it accepts loads here too, plus what it wrongly rejects: `authProvider: no-auth` and the
SSO providers' own `securityConfig` blocks from the seed document. Unknown keys are errors
(`extra="forbid"`), which is what lets the loader suggest the key the user meant.
"""
from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ..errors import InvalidValue, UserError
from .rules import Strict
from .server_config import OpenMetadataConnection
from .sink import Sink
from .source import MlModelMetadataConfig, MlflowConnection, Source


def fqn_part(name: str) -> str:
    """A name as one part of a fully qualified name: quoted when it holds a dot, as OpenMetadata does."""
    return f'"{name}"' if "." in name else name


class LoggerLevel(str, Enum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


class WorkflowConfig(Strict):
    loggerLevel: LoggerLevel = LoggerLevel.INFO
    successThreshold: int = Field(default=90, ge=0, le=100)
    raiseOnError: bool = True
    openMetadataServerConfig: OpenMetadataConnection
    config: dict[str, Any] | None = None


class Processor(Strict):
    type: str
    config: dict[str, Any] | None = None


class Workflow(Strict):
    """The whole workflow file."""

    source: Source
    sink: Sink
    workflowConfig: WorkflowConfig
    # Accepted for compatibility; a metadata workflow ignores them, as the official one does.
    processor: Processor | None = None
    stage: Processor | None = None
    bulkSink: Processor | None = None
    enableStreamableLogs: bool | None = None
    ingestionRunnerName: str | None = None
    # The run is reported to this pipeline of OpenMetadata's, as this run id (pipeline_status.py).
    ingestionPipelineFQN: str | None = None
    pipelineRunId: str | None = None

    @field_validator("ingestionPipelineFQN")
    @classmethod
    def _pipeline_of_this_service(cls, value: str | None, info: ValidationInfo) -> str | None:
        """`<service>.<pipeline>`: OpenMetadata keeps a pipeline under its service, so another service's
        pipeline cannot record this workflow's runs (a run would create one under the right name)."""
        source = info.data.get("source")
        if value is None or source is None:
            return value
        prefix = fqn_part(source.serviceName) + "."
        if not value.startswith(prefix) or len(value) == len(prefix):
            pipeline = value.rsplit(".", 1)[-1] or "nightly_mlflow"
            raise InvalidValue(f"{value!r} is not a pipeline of this workflow's service {source.serviceName!r}: "
                               "a pipeline belongs to one service", hint=f"write {prefix}{pipeline}")
        return value

    @model_validator(mode="after")
    def _connection_for_file_sink(self) -> "Workflow":
        if self.source.serviceConnection is None and self.sink.type == "file":
            raise ValueError("source.serviceConnection is required with the file sink (there is no server to read "
                             "a stored connection from)")
        return self

    @property
    def mlflow(self) -> MlflowConnection:
        """The MLflow connection; `stored_connection.with_stored_connection` fills it in when absent."""
        if self.source.serviceConnection is None:
            raise UserError(
                "source.serviceConnection is missing and was not read from OpenMetadata",
                hint="add source.serviceConnection.config with trackingUri",
            )
        return self.source.serviceConnection.config

    @property
    def openmetadata(self) -> OpenMetadataConnection:
        return self.workflowConfig.openMetadataServerConfig

    @property
    def source_options(self) -> MlModelMetadataConfig:
        return self.source.sourceConfig.config
