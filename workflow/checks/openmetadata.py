"""The OpenMetadata steps, in the order a run needs them: reach, API, credentials, version, service.

The first steps run without credentials, so a broken token cannot hide that the server is down or
that hostPort misses the API; each failure names the setting to fix (hostPort, authProvider, the
bot's JWT) and, for a missing /api, tries the URL with it.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

from ..document.security_config import OpenMetadataJWTClientConfig
from ..document.workflow_file import Workflow
from ..errors import EndpointError
from ..openmetadata.om_client import SUPPORTED_SERVER, ApiError, OpenMetadataClient, quote_fqn_part, version_warning
from ..document.redact import redact_uri
from ..net.failures import transport_failure
from .network import READ_TIMEOUT_FACTOR, check_http_url
from .steps import OPENMETADATA, Outcome, Plan, Step, passed, warned

OM_VERSION = "/system/version"
OM_TEST_DEFINITION = "/services/testConnectionDefinitions/name/Mlflow.testConnectionDefinition"
OM_TLS_HINT = ("set verifySSL: validate with sslConfig.caCertificate (the CA file that signed the server's "
               "certificate), or verifySSL: ignore to skip verification")
BOT_TOKEN_HINT = "copy the ingestion-bot JWT from OpenMetadata: Settings > Bots > ingestion-bot"


def openmetadata_plan(config: Workflow, timeout: float, client: OpenMetadataClient | None) -> Plan:
    """The steps, through the run's `client` when there is one (so its token serves the run), else a client of their own."""
    return _OpenMetadataChecks(config, timeout, client or OpenMetadataClient(config.openmetadata)).plan()


class _OpenMetadataChecks:
    def __init__(self, config: Workflow, timeout: float, client: OpenMetadataClient):
        self.connection = config.openmetadata
        self.service = config.source.serviceName
        self.timeout = (timeout, timeout * READ_TIMEOUT_FACTOR)
        self.host = redact_uri(self.connection.hostPort)
        self.client = client
        self.anonymous = True
        """Until the credentials step: a broken token must not hide that the server is down."""
        self.first: Any = None

    def plan(self) -> Plan:
        return Plan(OPENMETADATA, [
            Step("Server answers", self.server_answers),
            Step("API found at hostPort", self.api_found),
            Step("Credentials accepted", self.credentials_accepted),
            Step("Server version is compatible", self.version_compatible),
            Step("Service exists or will be created", self.service_known),
        ])

    def _ask(self, path: str, host_port: str | None = None) -> Any:
        """The JSON answer, or the `ApiError` itself: a status is a finding here. No answer at all raises.
        `host_port` asks another address than hostPort, anonymously."""
        anonymous = self.anonymous or host_port is not None
        host_port = host_port or self.connection.hostPort
        try:
            return self.client.probe(path, timeout=self.timeout, anonymous=anonymous, host_port=host_port)
        except ApiError as exc:
            return exc
        except requests.exceptions.JSONDecodeError:
            return ApiError(200, "text that is not JSON", host_port.rstrip("/") + "/v1" + path)
        except (requests.RequestException, OSError) as exc:  # OSError: requests' "no CA bundle at this path"
            raise transport_failure(exc, "OpenMetadata", redact_uri(host_port), tls_hint=OM_TLS_HINT) from None

    # ---------------------------------------------------------------------------------- steps

    def server_answers(self) -> Outcome:
        check_http_url(self.connection.hostPort, "hostPort", "http://localhost:8585/api")
        self.first = self._ask(OM_VERSION)
        status = self.first.status if isinstance(self.first, ApiError) else 200
        return passed(f"{self.host} answers (HTTP {status})")

    def api_found(self) -> Outcome:
        answer = self.first
        if not isinstance(answer, ApiError):
            if isinstance(answer, dict) and "version" in answer:
                return passed(f"the OpenMetadata API answers at {self.host}/v1")
            raise EndpointError(f"{self.host}/v1{OM_VERSION} answered JSON without a version: not OpenMetadata's API",
                                hint=self._api_hint())
        if answer.status >= 500:
            raise self._server_error(answer)
        if 300 <= answer.status < 400:
            raise EndpointError(f"{self.host} redirects (HTTP {answer.status}) instead of answering the API",
                                hint="OpenMetadata clients do not follow redirects: put the final URL (https?) in hostPort")
        if answer.status == 404 or answer.html:
            body = "an HTML page" if answer.html else "HTTP 404"
            raise EndpointError(f"no OpenMetadata API at {self.host}: {self.host}/v1{OM_VERSION} answered {body}",
                                hint=self._api_hint())
        if answer.status in (401, 403):
            return passed(f"the OpenMetadata API answers at {self.host}/v1 (it asks for credentials)")
        raise EndpointError(f"{self.host}/v1{OM_VERSION} answered HTTP {answer.status}: {answer.message}",
                            hint=self._api_hint())

    def credentials_accepted(self) -> Outcome:
        self.anonymous = False  # from here on with credentials: a malformed or expired JWT fails this step
        answer = self._ask(OM_TEST_DEFINITION)
        if isinstance(answer, ApiError) and answer.status in (401, 403):
            raise self._refused(answer)
        if isinstance(answer, ApiError) and not (answer.status == 404 and not answer.html):
            raise self._server_error(answer)
        if self.connection.provider == "no-auth":
            return passed("the server accepts calls without credentials (authProvider no-auth)")
        return passed(f"{self._token_source()} is accepted (authProvider {self.connection.provider})")

    def version_compatible(self) -> Outcome:
        answer = self._ask(OM_VERSION)
        if isinstance(answer, ApiError):
            raise self._server_error(answer)
        version = answer.get("version") if isinstance(answer, dict) else None
        if not version:
            raise EndpointError("OpenMetadata did not report its version", hint=self._api_hint())
        expected = ".".join(map(str, SUPPORTED_SERVER))
        warning = version_warning(str(version))
        if warning:
            return warned(warning, f"use an OpenMetadata {expected}.x server, or compare the first run's results in the UI")
        return passed(f"OpenMetadata {version} (this tool speaks the {expected}.x API)")

    def service_known(self) -> Outcome:
        answer = self._ask(f"/services/mlmodelServices/name/{quote(quote_fqn_part(self.service), safe='')}")
        if isinstance(answer, ApiError):
            if answer.status == 404 and not answer.html:
                return passed(f"service {self.service!r} does not exist yet: the first run creates it")
            if answer.status in (401, 403):
                raise self._refused(answer)
            raise self._server_error(answer)
        service_type = answer.get("serviceType") if isinstance(answer, dict) else None
        if service_type not in (None, "Mlflow"):
            return warned(f"service {self.service!r} exists but is a {service_type} service, not Mlflow",
                           "choose another source.serviceName for the MLflow models")
        return passed(f"service {self.service!r} exists: runs update its models")

    # ------------------------------------------------------------------------------ diagnoses

    def _api_hint(self) -> str:
        """Where the API is: with /api added when that is where it answers."""
        host = self.connection.hostPort.rstrip("/")
        if host.endswith("/api"):
            return "check hostPort: this server answers, but not with the OpenMetadata API (is it OpenMetadata, port 8585?)"
        candidate = host + "/api"
        shown = redact_uri(candidate)
        if self._api_answers_at(candidate):
            return f"add /api to hostPort: {shown} (the API answers there)"
        return f"add /api: hostPort must point at the API, usually ending in /api (for example {shown})"

    def _api_answers_at(self, host_port: str) -> bool:
        try:
            answer = self._ask(OM_VERSION, host_port)
        except EndpointError:
            return False
        return not isinstance(answer, ApiError) or (answer.status in (401, 403) and not answer.html)

    def _refused(self, answer: ApiError) -> EndpointError:
        """401/403, with the provider and the field to fix."""
        provider = self.connection.provider
        if provider == "no-auth":
            return EndpointError(f"OpenMetadata requires credentials (HTTP {answer.status}: {answer.message})",
                                 hint=f"set authProvider: openmetadata and securityConfig.jwtToken; {BOT_TOKEN_HINT}")
        source = self._token_source()
        if answer.status == 401 and self._bot_jwt():
            return EndpointError(f"OpenMetadata rejected {source} (authProvider {provider}, HTTP 401: {answer.message})",
                                 hint=f"fix workflowConfig.openMetadataServerConfig.securityConfig.jwtToken: {BOT_TOKEN_HINT} "
                                      "(a token of another server is rejected too)")
        if answer.status == 401:
            return EndpointError(f"OpenMetadata rejected {source} (HTTP 401: {answer.message})",
                                 hint=f"check that the server's authentication is set up for this {provider} client "
                                      "and that the client is registered as a bot in OpenMetadata")
        return EndpointError(f"OpenMetadata accepted {source} but refused access (HTTP 403: {answer.message})",
                             hint="the account behind the token lacks permissions: use the ingestion bot, "
                                  "or give that account the Ingestion Bot role")

    def _bot_jwt(self) -> bool:
        return isinstance(self.connection.securityConfig, OpenMetadataJWTClientConfig)

    def _token_source(self) -> str:
        """Which token the server judged: the bot JWT of the config, or one the identity provider issued."""
        if self._bot_jwt():
            return "the token in securityConfig.jwtToken"
        return f"the token {self.connection.provider} issued"

    def _server_error(self, answer: ApiError) -> EndpointError:
        if answer.status >= 500:
            return EndpointError(f"OpenMetadata at {self.host} failed with HTTP {answer.status}: {answer.message}",
                                 hint="the server has a problem: check its logs (and its database and search engine), then retry")
        return EndpointError(f"OpenMetadata answered HTTP {answer.status}: {answer.message}", hint=self._api_hint())
