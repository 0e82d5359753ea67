"""A small HTTP client for the OpenMetadata REST API, with errors a user can act on.

Compared with the official client: short connect timeouts, no 30/60/90 s sleeps on 504, one token
refresh on 401, and every failure mapped to a message that says which setting to fix.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

from .auth import Authenticator, authenticator_for
from .config import OpenMetadataConnection, OpenMetadataJWTClientConfig, VerifySSL
from .errors import EndpointError
from .redact import redact_uri

USER_AGENT = "mlflow-om-workflow"
RETRY_STATUSES = {502, 503, 504}


@dataclass
class ApiError(Exception):
    """A non-2xx answer: the HTTP status, the body's `code` and `message` when it had them."""

    status: int
    message: str
    url: str
    html: bool = False

    def __str__(self) -> str:
        return f"HTTP {self.status} from {self.url}: {self.message}"


def quote_fqn_part(name: str) -> str:
    """OpenMetadata FQN quoting: a name holding a dot is wrapped in double quotes."""
    return f'"{name}"' if "." in name else name


def model_fqn(service: str, model: str) -> str:
    return f"{quote_fqn_part(service)}.{quote_fqn_part(model)}"


class OpenMetadataClient:
    def __init__(
        self,
        connection: OpenMetadataConnection,
        *,
        connect_timeout: float = 2.0,
        read_timeout: float = 60.0,
        pool_size: int = 8,
        auth: Authenticator | None = None,
    ):
        self.connection = connection
        self.base = connection.hostPort.rstrip("/") + "/v1"
        self.timeout = (connect_timeout, read_timeout)
        self.auth = auth or authenticator_for(connection)
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.verify = verify_setting(connection)
        self._refresh_lock = threading.Lock()

    def close(self) -> None:
        self.session.close()

    # ------------------------------------------------------------------------------------- calls

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def put(self, path: str, body: Any, **params: Any) -> Any:
        return self.request("PUT", path, body=body, params=params or None)

    def delete(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.request("DELETE", path, body=body, params=params or None)

    def request(self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        """One call with up to 2 quick retries on 502/503/504 and one token refresh on 401."""
        url = self.base + path
        refreshed = False
        for attempt in range(3):
            response = self.session.request(
                method,
                url,
                params=params,
                data=None if body is None else json.dumps(body),
                headers=self._headers(),
                timeout=self.timeout,
                allow_redirects=False,
                # Per call: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override session.verify.
                verify=self.session.verify,
            )
            if response.status_code == 401 and not refreshed:
                refreshed = True
                with self._refresh_lock:
                    self.auth.invalidate()
                continue
            if response.status_code in RETRY_STATUSES and attempt < 2:
                time.sleep(0.5 * (attempt + 1))
                continue
            return self._parse(response)
        return self._parse(response)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": USER_AGENT}
        headers.update(self.auth.header())
        for name, template in (self.connection.extraHeaders or {}).items():
            try:
                headers[name] = template % headers
            except (KeyError, ValueError, TypeError):
                headers[name] = template
        return headers

    @staticmethod
    def _parse(response: requests.Response) -> Any:
        content_type = response.headers.get("Content-Type", "")
        is_html = "html" in content_type or response.text.lstrip().lower().startswith(("<!doctype", "<html"))
        if not response.ok:
            message = response.reason or "error"
            if not is_html:
                try:
                    message = response.json().get("message", message)
                except (ValueError, AttributeError):
                    message = response.text[:200] or message
            raise ApiError(response.status_code, str(message), response.url.split("?")[0], html=is_html)
        if not response.content:
            return None
        if is_html:
            raise ApiError(response.status_code, "answered with an HTML page, not JSON", response.url.split("?")[0], html=True)
        return response.json()

    # -------------------------------------------------------------------------------- endpoints

    def server_version(self) -> str:
        data = self.get("/system/version")
        if not isinstance(data, dict) or "version" not in data:
            raise ApiError(200, "no version in the answer", self.base + "/system/version")
        return str(data["version"])

    def get_service(self, name: str) -> dict[str, Any] | None:
        try:
            return self.get(f"/services/mlmodelServices/name/{quote(quote_fqn_part(name), safe='')}")
        except ApiError as exc:
            if exc.status == 404 and not exc.html:
                return None
            raise

    def probe(self, path: str) -> Any:
        """One GET answered as is, for connection checks: the first status is the finding, so no
        retry on 5xx and no token refresh on 401. Raises `ApiError` like `get`."""
        response = self.session.get(self.base + path, headers=self._headers(), timeout=self.timeout,
                                    allow_redirects=False, verify=self.session.verify)
        return self._parse(response)


def verify_setting(connection: OpenMetadataConnection) -> bool | str:
    """`verifySSL` as requests wants it: True (verify), False (ignore) or a CA bundle path."""
    if connection.verifySSL is VerifySSL.ignore:
        return False
    if connection.verifySSL is VerifySSL.validate and connection.sslConfig and connection.sslConfig.caCertificate:
        return connection.sslConfig.caCertificate
    return True


def tls_warnings(connection: OpenMetadataConnection) -> list[str]:
    """What a run should report before it starts: `ignore` turns off verification for every call."""
    if connection.verifySSL is VerifySSL.ignore:
        return ["verifySSL is 'ignore': the certificates of OpenMetadata and of the token endpoint are not verified; "
                "set verifySSL: validate with sslConfig.caCertificate"]
    return []


def describe_failure(exc: BaseException, connection: OpenMetadataConnection) -> EndpointError:
    """An exception from talking to OpenMetadata, as a message naming the setting to fix."""
    host = redact_uri(connection.hostPort)
    if isinstance(exc, ApiError):
        if exc.status == 404 or exc.html:
            hint = "hostPort must point at the API, usually ending in /api (for example http://localhost:8585/api)"
            if host.rstrip("/").endswith("/api"):
                hint = "check hostPort: the server answered but has no OpenMetadata API at this path"
            return EndpointError(f"No OpenMetadata API at {host} ({redact_uri(exc.url)} answered HTTP {exc.status})",
                                 hint=hint)
        if exc.status in (401, 403):
            provider = connection.provider
            if provider == "no-auth":
                hint = ("the server needs a token: set authProvider: openmetadata and securityConfig.jwtToken to the "
                        "ingestion-bot JWT (OpenMetadata: Settings > Bots > ingestion-bot)")
            elif connection.securityConfig is not None and not isinstance(connection.securityConfig,
                                                                          OpenMetadataJWTClientConfig):
                hint = (f"{provider} issued a token, fetched again after the first 401, that OpenMetadata does not "
                        f"accept: check that the server's authentication is set up for this {provider} client "
                        "and that the client is registered as a bot")
            else:
                hint = f"check the credentials of authProvider {provider!r} in securityConfig"
            word = "rejected the credentials" if exc.status == 401 else "refused access"
            return EndpointError(f"OpenMetadata {word} (HTTP {exc.status}): {exc.message}", hint=hint)
        if exc.status >= 500:
            return EndpointError(f"OpenMetadata failed with HTTP {exc.status}: {exc.message}",
                                 hint="the server has a problem; check its logs and retry")
        return EndpointError(f"OpenMetadata answered HTTP {exc.status}: {exc.message}")
    return network_failure(exc, "OpenMetadata", host, tls_hint="set verifySSL: validate with sslConfig.caCertificate, "
                                                               "or verifySSL: ignore to skip verification")


def network_failure(exc: BaseException, what: str, url: str, *, tls_hint: str) -> EndpointError:
    """Tell apart the ways a connection fails, each with its own remediation."""
    text = str(exc)
    if "Could not find a suitable TLS CA certificate bundle" in text:
        return EndpointError(f"cannot verify {what} at {url}: no CA file at the path in sslConfig.caCertificate",
                             hint="give the path of the PEM file of the CA that signed the server certificate")
    if isinstance(exc, requests.exceptions.SSLError) or "CERTIFICATE_VERIFY_FAILED" in text:
        return EndpointError(f"TLS verification failed for {what} at {url}", hint=tls_hint)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return EndpointError(f"{what} at {url} did not accept a connection in time (timeout)",
                             hint="check the host and port, and any firewall or proxy between here and there")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return EndpointError(f"{what} at {url} accepted the connection but did not answer (timeout)",
                             hint="check that the process on that port is the right server and is not stuck")
    if isinstance(exc, requests.exceptions.ConnectionError):
        if any(s in text for s in ("Name or service not known", "nodename nor servname", "getaddrinfo failed",
                                   "Temporary failure in name resolution", "No address associated")):
            return EndpointError(f"{what} host name in {url} cannot be resolved (DNS)",
                                 hint="check the spelling of the host name")
        if "Connection refused" in text or "Errno 111" in text:
            return EndpointError(f"{what} at {url} refused the connection",
                                 hint="is the server running and listening on that port?")
        return EndpointError(f"cannot connect to {what} at {url}: {text[:200]}")
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)):
        return EndpointError(f"{what} URL {url} is not valid: {text[:200]}")
    return EndpointError(f"{what} at {url} failed: {type(exc).__name__}: {text[:200]}")
