"""Pydantic models of the workflow YAML, the one definition of every field rule.

The shape follows the official `OpenMetadataWorkflowConfig` (openmetadata-ingestion 2.0.7) so every
MLflow config it accepts loads here too, plus what it wrongly rejects: `authProvider: no-auth` and the
SSO providers' own `securityConfig` blocks from the seed document. Unknown keys are errors
(`extra="forbid"`), which is what lets the loader suggest the key the user meant.
"""
from __future__ import annotations

import difflib
import re
from enum import Enum
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..errors import InvalidValue, UserError
from .redact import redact_uri


class Strict(BaseModel):
    """Base for every config block: unknown keys are errors, models compare by value."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# ---------------------------------------------------------------------------------- shared value rules


ENTITY_NAME_MAX = 256
_NAME_REFUSED = re.compile(r'::|[>"\x00-\x1f]')
"""OpenMetadata 2.0's `entityName` (type/basic.json): 1 to 256 characters matching
`^((?!::)[^>"\x00-\x1f])*$`. The service name is sent as is (the ingestion library only rewrites
table and column names), so the server would refuse the run's first request with a 400."""

_CONTROL_NAMES = {"\t": "a tab", "\n": "a line break", "\r": "a carriage return"}


def entity_name_problem(value: str) -> InvalidValue | None:
    """Why OpenMetadata would refuse `value` as an entity name, with a name it would take; None if fine."""
    refused = list(dict.fromkeys(m.group(0) for m in _NAME_REFUSED.finditer(value)))
    if refused:
        names = [
            "'::'" if part == "::" else "'>'" if part == ">" else 'a double quote (")' if part == '"'
            else _CONTROL_NAMES.get(part, f"the control character U+{ord(part):04X}")
            for part in refused
        ]
        fixed = _NAME_REFUSED.sub("_", value).strip() or "local_mlflow"
        return InvalidValue(f"must not contain {', '.join(names)}: OpenMetadata refuses ::, >, double quotes and "
                            "control characters in names", hint=f"for example {fixed!r}")
    if value != value.strip():
        return InvalidValue("must not start or end with a space: it would name a different service from "
                            f"{value.strip()!r}, though both look the same", hint=f"write {value.strip()!r}")
    if len(value) > ENTITY_NAME_MAX:
        return InvalidValue(f"is {len(value)} characters long: OpenMetadata allows at most {ENTITY_NAME_MAX}",
                            hint="choose a shorter name")
    return None


_HOST_PORT = re.compile(r"[A-Za-z0-9_.-]+:\d+(/\S*)?")
"""`host:port[/path]` without a scheme: MLflow reads `localhost` as a URI scheme it has no store for (or
`127.0.0.1:5000` as a local folder), and OpenMetadata's client needs http(s)://."""

MLFLOW_SCHEMES = ("http", "https", "file", "databricks", "databricks-uc", "uc",
                  "sqlite", "mysql", "postgresql", "mssql")
"""The URI schemes MLflow 2 and 3 open without a plugin (a database scheme may add `+driver`); no
scheme at all is a local folder. A plugin can register any other scheme, so others are not refused,
except a near-miss of one of these."""


def mlflow_uri_problem(uri: str) -> InvalidValue | None:
    """Why MLflow cannot open `uri` on any machine, with the likely fix; None when it may work.

    Only what cannot work is refused: a folder path, an unknown (plugin) scheme, or a server that is
    down are left to `metadata test-connection`, which runs where the workflow runs.
    """
    example = "for example http://localhost:5000"
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        return InvalidValue(f"{redact_uri(uri)!r} is not a valid URI: {exc}", hint=example)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname:
            return InvalidValue(f"{redact_uri(uri)!r} has no host name", hint=example)
        return url_space_problem(uri)
    return _non_http_problem(uri, scheme, example)


def url_space_problem(url: str) -> InvalidValue | None:
    """A URL with a space or other blank in it: no server name or path can hold one as typed."""
    if any(c.isspace() for c in url):
        return InvalidValue(f"{redact_uri(url)!r} contains a space, which a URL cannot hold",
                            hint="remove it, or write it as %20 where a path really has one")
    return None


def _non_http_problem(uri: str, scheme: str, example: str) -> InvalidValue | None:
    base = scheme.split("+")[0]
    if base in MLFLOW_SCHEMES or len(scheme) == 1:  # one letter: a Windows drive, which MLflow reads as a path
        return None
    if _HOST_PORT.fullmatch(uri):
        return InvalidValue(f"{uri!r} has no scheme: MLflow cannot open it", hint=f"did you mean {'http://' + uri!r}?")
    if not scheme:
        if any(c.isspace() for c in uri) and not re.search(r"[/\\]", uri) and not uri.startswith(("~", ".")):
            return InvalidValue(f"{uri!r} is neither a URI nor a folder path",
                                hint="write the MLflow server's URL (http://host:5000), a database URI "
                                     "(sqlite:///mlflow.db) or a folder path (./mlruns)")
        return None
    guess = difflib.get_close_matches(base, MLFLOW_SCHEMES, n=1, cutoff=0.75)
    if guess:
        fixed = redact_uri(guess[0] + uri[len(scheme):])
        return InvalidValue(f"MLflow has no store for the URI scheme {scheme!r}", hint=f"did you mean {fixed!r}?")
    return None


# --------------------------------------------------------------------------------------------- source


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise InvalidValue(f"invalid regular expression {pattern!r}: {exc}",
                           hint="patterns are Python regular expressions matched at the start of the model name: "
                                r"put a backslash before [ ] ( ) { } * + ? . to match the character itself") from None
    return pattern


Pattern = Annotated[str, AfterValidator(_compiles)]
"""A regex that must compile; checked one by one so an error points at the list item's line."""


class FilterPattern(Strict):
    """Regexes matched at the start of a name, case-insensitively; excludes win over includes."""

    includes: list[Pattern] | None = None
    excludes: list[Pattern] | None = None


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


_HOST_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*")


def _identity_provider_url(value: str) -> str:
    """An identity provider's address: an http(s) URL, or one without its scheme (https:// is added)."""
    value = value.strip()
    if "://" in value and urlsplit(value).scheme not in ("http", "https"):
        raise InvalidValue(f"{value!r} is not an http(s) URL", hint="for example https://idp.example.com/oauth2/token")
    problem = url_space_problem(value)
    if problem:
        raise problem
    return value


def _domain(value: str) -> str:
    """Auth0's domain: a host name, which cannot hold a space. (A placeholder such as the docs'
    `<domain>` loads, so their example does; `host_name_problem` flags it while typing.)"""
    if any(c.isspace() for c in value.strip()):
        raise InvalidValue(f"{value.strip()!r} is not a domain name: it contains a space",
                           hint="your Auth0 tenant's domain, for example example.eu.auth0.com")
    return value.strip()


def host_name_problem(value: str) -> str | None:
    """Why an identity provider's address does not start with a host name, or None."""
    host = urlsplit(value if "://" in value else f"https://{value}").hostname or ""
    if _HOST_NAME.fullmatch(host) and ("." in host or host == "localhost"):
        return None
    return f"{value!r} does not start with a host name (for example example.eu.auth0.com)"


IdentityProviderUrl = Annotated[str, AfterValidator(_identity_provider_url)]


class Auth0SSOClientConfig(SecurityBlock):
    clientId: str
    secretKey: SecretStr
    domain: Annotated[str, AfterValidator(_domain)]


class AzureSSOClientConfig(SecurityBlock):
    clientSecret: SecretStr
    authority: IdentityProviderUrl
    clientId: str
    scopes: list[str]


class CustomOidcSSOClientConfig(SecurityBlock):
    clientId: str
    secretKey: SecretStr
    tokenEndpoint: IdentityProviderUrl


class GoogleSSOClientConfig(SecurityBlock):
    secretKey: SecretStr = Field(description="Service-account key file: a path or its JSON contents.")
    audience: str = "https://www.googleapis.com/oauth2/v4/token"


class OktaSSOClientConfig(SecurityBlock):
    clientId: str
    orgURL: IdentityProviderUrl
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


def security_tag(block: Any) -> str | None:
    """The `SECURITY_CONFIGS` tag of a securityConfig block (a model or its class), None for anything else."""
    cls = block if isinstance(block, type) else type(block)
    return next((tag for tag, member in SECURITY_CONFIGS.items() if member is cls), None)


def _security_tag(value: Any) -> str:
    """Pick the securityConfig model: by its keys when one says so, else the provider's own.

    A bare `jwtToken` is a bot JWT whatever the provider, because the official 2.0.7 client accepts
    it under any provider (the provider is informational there).
    """
    if isinstance(value, dict):
        if "jwtToken" in value:
            return "openmetadata"
        return value.get(_PROVIDER_KEY, "openmetadata")
    return security_tag(value) or "openmetadata"


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
        example = "for example http://localhost:8585/api"
        try:
            parts = urlsplit(value)
        except ValueError as exc:
            raise InvalidValue(f"{redact_uri(value)!r} is not an http(s) URL: {exc}", hint=example) from None
        if parts.scheme not in ("http", "https") or not parts.netloc:
            if _HOST_PORT.fullmatch(value):
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


# ------------------------------------------------------------------------------------ workflow config


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
