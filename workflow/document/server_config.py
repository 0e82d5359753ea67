"""The `workflowConfig.openMetadataServerConfig` block: where OpenMetadata is (`hostPort`), how to reach it
(TLS, extra headers) and which provider signs in (`authProvider`, with its `securityConfig` from
security_config.py). The shape follows the official `OpenMetadataConnection`, so its keys that change
nothing for an MLflow run are accepted too.
"""
from __future__ import annotations

from enum import Enum
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import SecretStr, field_validator, model_validator

from ..errors import InvalidValue
from .filters import FilterPattern
from .redact import redact_uri
from .rules import HOST_PORT, Strict, url_space_problem
from .security_config import PROVIDER_KEY, SECURITY_CONFIGS, AuthProvider, SecurityConfig, security_config_class


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
            data = {**data, "securityConfig": {**data["securityConfig"], PROVIDER_KEY: tag}}
        return data

    @field_validator("hostPort")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip()
        example = "for example http://localhost:8585/api"
        try:
            parts = urlsplit(value)
        except ValueError as exc:
            raise InvalidValue(f"{redact_uri(value)!r} is not an http(s) URL: {exc}", hint=example) from None
        if parts.scheme not in ("http", "https") or not parts.netloc:
            if HOST_PORT.fullmatch(value):
                raise InvalidValue(f"{redact_uri(value)!r} is not an http(s) URL: it has no scheme",
                                   hint=f"did you mean {'http://' + redact_uri(value)!r}?")
            raise InvalidValue(f"{redact_uri(value)!r} is not an http(s) URL", hint=example)
        problem = url_space_problem(value)
        if problem:
            raise problem
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
