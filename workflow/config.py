"""Pydantic models of the workflow YAML, the one definition of every field rule.

The shape follows the official `OpenMetadataWorkflowConfig` (openmetadata-ingestion 2.0.7) so every
MLflow config it accepts loads here too, plus what it wrongly rejects: `authProvider: no-auth` and the
SSO providers' own `securityConfig` blocks from the seed document. Unknown keys are errors
(`extra="forbid"`), which is what lets the loader suggest the key the user meant.
"""
from __future__ import annotations

import re
from enum import Enum
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    field_validator,
    model_validator,
)

from .errors import UserError


class Strict(BaseModel):
    """Base for every config block: unknown keys are errors, models compare by value."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --------------------------------------------------------------------------------------------- source


class FilterPattern(Strict):
    """Regexes matched at the start of a name, case-insensitively; excludes win over includes."""

    includes: list[str] | None = None
    excludes: list[str] | None = None

    @field_validator("includes", "excludes")
    @classmethod
    def _compiles(cls, patterns: list[str] | None) -> list[str] | None:
        for pattern in patterns or []:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        return patterns


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
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty (for example http://localhost:5000)")
        return value.strip() if value else value

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
        if '"' in value:
            raise ValueError('must not contain a double quote (")')
        return value


# ----------------------------------------------------------------------------------------------- sink


class MetadataRestSinkConfig(Strict):
    """The official sink's options; accepted so its configs load, the engine picks its own batching."""

    api_endpoint: str | None = None
    bulk_sink_batch_size: int | None = Field(default=None, ge=1, le=1000)
    enable_async_pipeline: bool | None = None
    async_pipeline_workers: int | None = None
    override_metadata: bool | None = None


class MetadataRestSink(Strict):
    type: Literal["metadata-rest"]
    config: MetadataRestSinkConfig = Field(default_factory=MetadataRestSinkConfig)


class FileSinkConfig(Strict):
    filename: str

    @field_validator("filename")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty (for example ./mlmodels.jsonl)")
        return value


class FileSink(Strict):
    """Offline sink: the create requests as JSON Lines, for users without a server."""

    type: Literal["file"]
    config: FileSinkConfig


Sink = Annotated[Union[MetadataRestSink, FileSink], Field(discriminator="type")]


# --------------------------------------------------------------------------------------- auth configs


class AuthProvider(str, Enum):
    no_auth = "no-auth"
    basic = "basic"
    openmetadata = "openmetadata"
    auth0 = "auth0"
    azure = "azure"
    custom_oidc = "custom-oidc"
    google = "google"
    okta = "okta"
    aws_cognito = "aws-cognito"
    ldap = "ldap"
    saml = "saml"


_PROVIDER_KEY = "__authProvider__"
"""Routing key the connection model adds to a securityConfig dict; each block drops it again."""


class SecurityBlock(Strict):
    @model_validator(mode="before")
    @classmethod
    def _drop_routing_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and _PROVIDER_KEY in data:
            return {k: v for k, v in data.items() if k != _PROVIDER_KEY}
        return data


class OpenMetadataJWTClientConfig(SecurityBlock):
    """A bot JWT, inline or as a path to a file holding it (as the official CLI)."""

    jwtToken: SecretStr


class Auth0SSOClientConfig(SecurityBlock):
    clientId: str
    secretKey: SecretStr
    domain: str


class AzureSSOClientConfig(SecurityBlock):
    clientSecret: SecretStr
    authority: str
    clientId: str
    scopes: list[str]


class CustomOidcSSOClientConfig(SecurityBlock):
    clientId: str
    secretKey: SecretStr
    tokenEndpoint: str


class GoogleSSOClientConfig(SecurityBlock):
    secretKey: SecretStr = Field(description="Service-account key file: a path or its JSON contents.")
    audience: str = "https://www.googleapis.com/oauth2/v4/token"


class OktaSSOClientConfig(SecurityBlock):
    clientId: str
    orgURL: str
    privateKey: SecretStr
    email: str
    scopes: list[str] | None = None


SECURITY_CONFIGS: dict[str, type[SecurityBlock]] = {
    "openmetadata": OpenMetadataJWTClientConfig,
    "auth0": Auth0SSOClientConfig,
    "azure": AzureSSOClientConfig,
    "custom-oidc": CustomOidcSSOClientConfig,
    "google": GoogleSSOClientConfig,
    "okta": OktaSSOClientConfig,
}
"""Which securityConfig block each provider takes; providers not listed use a bot JWT."""


def security_config_class(provider: str) -> type[SecurityBlock]:
    return SECURITY_CONFIGS.get(provider, OpenMetadataJWTClientConfig)


def _security_tag(value: Any) -> str:
    """Pick the securityConfig model: by its keys when one says so, else the provider's own.

    A bare `jwtToken` is a bot JWT whatever the provider, because the official 2.0.7 client accepts
    it under any provider (the provider is informational there).
    """
    if isinstance(value, dict):
        if "jwtToken" in value:
            return "openmetadata"
        return value.get(_PROVIDER_KEY, "openmetadata")
    for tag, cls in SECURITY_CONFIGS.items():
        if isinstance(value, cls):
            return tag
    return "openmetadata"


SecurityConfig = Annotated[
    Union[tuple(Annotated[cls, Tag(tag)] for tag, cls in SECURITY_CONFIGS.items())],  # type: ignore[misc]
    Discriminator(_security_tag),
]


# ----------------------------------------------------------------------------- OpenMetadata connection


class VerifySSL(str, Enum):
    no_ssl = "no-ssl"
    ignore = "ignore"
    validate = "validate"


class SslConfig(Strict):
    caCertificate: str | None = None
    sslCertificate: str | None = None
    sslKey: SecretStr | None = None


class OpenMetadataConnection(Strict):
    hostPort: str
    authProvider: AuthProvider | None = None
    securityConfig: SecurityConfig | None = None
    verifySSL: VerifySSL = VerifySSL.no_ssl
    sslConfig: SslConfig | None = None
    enableVersionValidation: bool = True
    extraHeaders: dict[str, str] | None = None
    storeServiceConnection: bool = True
    # Accepted so official configs load; they change nothing for an MLflow metadata run.
    type: Literal["OpenMetadata"] | None = None
    clusterName: str | None = None
    apiVersion: Literal["v1"] | None = None
    forceEntityOverwriting: bool | None = None
    secretsManagerProvider: str | None = None
    secretsManagerLoader: str | None = None
    supportsMetadataExtraction: bool | None = None
    supportsDataInsightExtraction: bool | None = None
    supportsElasticSearchReindexingExtraction: bool | None = None
    includeTopics: bool | None = None
    includeTables: bool | None = None
    includeDashboards: bool | None = None
    includePipelines: bool | None = None
    includeMlModels: bool | None = None
    includeUsers: bool | None = None
    includeTeams: bool | None = None
    includeGlossaryTerms: bool | None = None
    includeTags: bool | None = None
    includePolicy: bool | None = None
    includeMessagingServices: bool | None = None
    includeDatabaseServices: bool | None = None
    includePipelineServices: bool | None = None
    limitRecords: int | None = None
    elasticsSearch: dict[str, Any] | None = None
    schemaFilterPattern: FilterPattern | None = None
    tableFilterPattern: FilterPattern | None = None
    databaseFilterPattern: FilterPattern | None = None

    @model_validator(mode="before")
    @classmethod
    def _route_security_config(cls, data: Any) -> Any:
        """Tell the securityConfig union which provider it belongs to (see `_security_tag`)."""
        if isinstance(data, dict) and isinstance(data.get("securityConfig"), dict):
            provider = data.get("authProvider") or "openmetadata"
            tag = provider if provider in SECURITY_CONFIGS else "openmetadata"
            data = {**data, "securityConfig": {**data["securityConfig"], _PROVIDER_KEY: tag}}
        return data

    @field_validator("hostPort")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"{value!r} is not an http(s) URL (for example http://localhost:8585/api)"
            )
        return value.rstrip("/")

    @model_validator(mode="after")
    def _provider_needs_config(self) -> "OpenMetadataConnection":
        if self.authProvider is None:
            provider = AuthProvider.openmetadata if self.securityConfig else AuthProvider.no_auth
            object.__setattr__(self, "authProvider", provider)
        if self.authProvider is AuthProvider.no_auth:
            return self
        if self.securityConfig is None:
            needed = security_config_class(self.authProvider.value)
            fields = ", ".join(f.alias or n for n, f in needed.model_fields.items() if f.is_required())
            raise ValueError(
                f"authProvider {self.authProvider.value!r} needs a securityConfig with {fields}"
            )
        if self.verifySSL is VerifySSL.validate and not (self.sslConfig and self.sslConfig.caCertificate):
            raise ValueError("verifySSL 'validate' needs sslConfig.caCertificate (a CA file path)")
        return self

    @property
    def provider(self) -> str:
        return (self.authProvider or AuthProvider.no_auth).value


# ------------------------------------------------------------------------------------ workflow config


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
    ingestionPipelineFQN: str | None = None
    pipelineRunId: str | None = None
    enableStreamableLogs: bool | None = None
    ingestionRunnerName: str | None = None

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
