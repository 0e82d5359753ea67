"""MLflow over HTTP: GETs with MLflow's own environment settings (credentials, TLS), short timeouts
and no retries; whether a server is MLflow at all; and why it refused a call."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import requests

from ..errors import EndpointError
from ..net.bounded_http import BoundedAdapter
from ..registry.mlflow_http import MAX_ANSWER_BYTES
from ..registry.mlflow_credentials import MlflowCredentials
from ..document.redact import redact_uri
from ..net.failures import transport_failure
from .network import READ_TIMEOUT_FACTOR
from .steps import Outcome, passed

MLFLOW_API = "/api/2.0/mlflow"
SEARCH_MODELS = MLFLOW_API + "/registered-models/search"
DOWNLOAD_URI = MLFLOW_API + "/model-versions/get-download-uri"

MLFLOW_TLS_HINT = ("set MLFLOW_TRACKING_SERVER_CERT_PATH to the CA bundle that signed the server's certificate, "
                   "or MLFLOW_TRACKING_INSECURE_TLS=true to skip verification")
MLFLOW_ROOT_HINT = "use the MLflow server's base URL (where its UI opens, usually port 5000), without /api or #/ paths"


class MlflowHttp:
    """GETs against an MLflow server with MLflow's own environment settings, short timeouts, no retries."""

    def __init__(self, base: str, timeout: float):
        self.base = base.rstrip("/")
        self.timeout = (timeout, timeout * READ_TIMEOUT_FACTOR)
        self.session = requests.Session()
        adapter = BoundedAdapter(max_bytes=MAX_ANSWER_BYTES, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        credentials = MlflowCredentials.from_env()
        self.credentials = credentials
        if credentials.username and credentials.password:
            self.session.auth = (credentials.username, credentials.password)
        if credentials.token:
            self.session.headers["Authorization"] = f"Bearer {credentials.token}"
        self.session.verify = credentials.verify
        if credentials.client_cert:
            self.session.cert = credentials.client_cert

    def get(self, path: str, base: str | None = None, **params: Any) -> requests.Response:
        """The answer, whatever its status; a failure to get one raises `EndpointError` naming the cause."""
        base = (base or self.base).rstrip("/")
        try:
            # verify per call: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override session.verify.
            return self.session.get(base + path, params=params or None, timeout=self.timeout, allow_redirects=False,
                                    verify=self.session.verify)
        except requests.RequestException as exc:
            raise mlflow_transport_failure(exc, base) from None

    def answer(self, path: str, what: str, **params: Any) -> dict[str, Any]:
        """The JSON of a successful MLflow API call, or the error explaining why there is none."""
        response = self.get(path, **params)
        data = response_json(response)
        if response.status_code == 200 and isinstance(data, dict):
            return data
        raise mlflow_refusal(response, data, what, self.credentials)


def mlflow_transport_failure(exc: BaseException, url: str) -> EndpointError:
    if "Could not find a suitable TLS CA certificate bundle" in str(exc):
        return EndpointError(f"cannot verify MLflow at {redact_uri(url)}: no CA file at MLFLOW_TRACKING_SERVER_CERT_PATH",
                             hint="set MLFLOW_TRACKING_SERVER_CERT_PATH to the PEM file of the CA that signed the server's certificate")
    return transport_failure(exc, "MLflow", redact_uri(url), tls_hint=MLFLOW_TLS_HINT)


# ------------------------------------------------------------------------------ is it MLflow?


def identify_mlflow(http: MlflowHttp, field: str) -> Outcome:
    """Reach the server (GET /health), then make sure it is MLflow: its registry search answers MLflow's JSON."""
    where = redact_uri(http.base)
    health = http.get("/health")
    probe = http.get(SEARCH_MODELS, max_results=1)
    data = response_json(probe)
    says_ok = health.status_code == 200 and health.text.strip() == "OK"
    if isinstance(data, dict) and (probe.status_code == 200 or "error_code" in data):
        return passed(f"MLflow{_mlflow_version(http)} answers at {where}")
    if probe.status_code in (401, 403):
        what = "MLflow" if says_ok else "a server"
        return passed(f"{what} answers at {where} and asks for credentials (HTTP {probe.status_code})")
    if probe.status_code >= 500:
        raise EndpointError(f"the server at {where} failed with HTTP {probe.status_code} ({_body_kind(probe)})",
                            hint="a proxy or MLflow itself has a problem: check its logs and retry")
    if 300 <= probe.status_code < 400:
        raise EndpointError(f"the server at {where} redirects to {probe.headers.get('Location', '?')} "
                            f"(HTTP {probe.status_code}) instead of answering MLflow's API",
                            hint=f"point {field} at the MLflow server itself, not at a login page or proxy")
    if probe.status_code == 404 and says_ok:
        raise EndpointError(f"no MLflow REST API under {where}: the registry search answered HTTP 404", hint=MLFLOW_ROOT_HINT)
    root = _mlflow_at_root(http)
    if root:
        raise EndpointError(f"MLflow answers at {root}, not at {where}", hint=f"set {field}: {root}")
    raise EndpointError(f"a web server answers at {where}, but it is not MLflow: {SEARCH_MODELS} answered "
                        f"HTTP {probe.status_code} with {_body_kind(probe)}",
                        hint=f"check the host and port of {field}: {MLFLOW_ROOT_HINT}")


def _mlflow_at_root(http: MlflowHttp) -> str | None:
    """The server's root URL when MLflow answers there: the URI has a path it should not have."""
    parts = urlsplit(http.base)
    if not parts.path.strip("/"):
        return None
    root = f"{parts.scheme}://{parts.netloc}"
    try:
        health = http.get("/health", base=root)
    except EndpointError:
        return None
    return redact_uri(root) if health.status_code == 200 and health.text.strip() == "OK" else None


def _mlflow_version(http: MlflowHttp) -> str:
    """' 3.17.2' from the server's /version, or '' when it does not say (older servers, auth)."""
    try:
        text = http.get("/version").text.strip()
    except EndpointError:
        return ""
    return f" {text}" if re.fullmatch(r"\d+\.\d+[\w.+-]*", text) else ""


# ------------------------------------------------------------------------------ refusals


def mlflow_refusal(response: requests.Response, data: Any, what: str, credentials: MlflowCredentials) -> EndpointError:
    """Why MLflow did not answer a call: credentials, permissions, a server error, or not MLflow at all."""
    status = response.status_code
    if status == 401:
        return _mlflow_unauthenticated(credentials)
    if status == 403:
        user = f" user {credentials.username!r}" if credentials.username else ""
        return EndpointError(f"MLflow refused{user} permission to {what} (HTTP 403)",
                             hint="grant the account READ permission on the registered models, or use an account that has it")
    if isinstance(data, dict) and "error_code" in data:
        fix = "check the MLflow server's log: its backend store may be unreachable" if status >= 500 else ""
        return EndpointError(f"MLflow could not {what}: HTTP {status} {data['error_code']}: {data.get('message', '')}", hint=fix)
    return EndpointError(f"MLflow could not {what}: {redact_uri(response.url.split('?')[0])} answered HTTP {status} with "
                         f"{_body_kind(response)}", hint=MLFLOW_ROOT_HINT)


def _mlflow_unauthenticated(credentials: MlflowCredentials) -> EndpointError:
    if credentials.username and credentials.password:
        return EndpointError("MLflow rejected the user and password from MLFLOW_TRACKING_USERNAME / "
                             "MLFLOW_TRACKING_PASSWORD (HTTP 401)",
                             hint="check MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD in the environment of the run")
    if credentials.token:
        return EndpointError("MLflow rejected the token from MLFLOW_TRACKING_TOKEN (HTTP 401)",
                             hint="set MLFLOW_TRACKING_TOKEN to a valid token in the environment of the run")
    missing = "MLFLOW_TRACKING_PASSWORD is not set" if credentials.username else "no credentials are set"
    return EndpointError(f"MLflow requires credentials (HTTP 401) and {missing}",
                         hint="export MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (basic auth), "
                              "or MLFLOW_TRACKING_TOKEN (bearer token), before running")


# ------------------------------------------------------------------------------ answers


def response_json(response: requests.Response) -> Any:
    """The answer's JSON, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def _body_kind(response: requests.Response) -> str:
    content_type = response.headers.get("Content-Type", "")
    if "html" in content_type or response.text.lstrip().lower().startswith(("<!doctype", "<html")):
        return "an HTML page"
    return "JSON" if "json" in content_type else "text that is not JSON"
