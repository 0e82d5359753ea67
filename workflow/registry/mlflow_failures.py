"""Why MLflow did not answer, worded for a person: a connection that failed (refused, DNS, TLS, ...)
or a call it refused (credentials, permissions, a server error, not MLflow at all), each with the
setting to fix. The checks show these; a run's reads carry them beside their one-line reason."""
from __future__ import annotations

from typing import Any

import requests

from ..document.redact import redact_uri
from ..errors import EndpointError, short_reason
from ..net.failures import transport_failure
from .mlflow_credentials import MlflowCredentials

MLFLOW_TLS_HINT = ("set MLFLOW_TRACKING_SERVER_CERT_PATH to the CA bundle that signed the server's certificate, "
                   "or MLFLOW_TRACKING_INSECURE_TLS=true to skip verification")
MLFLOW_ROOT_HINT = "use the MLflow server's base URL (where its UI opens, usually port 5000), without /api or #/ paths"


def mlflow_transport_failure(exc: BaseException, url: str) -> EndpointError:
    if "Could not find a suitable TLS CA certificate bundle" in str(exc):
        return EndpointError(f"cannot verify MLflow at {redact_uri(url)}: no CA file at MLFLOW_TRACKING_SERVER_CERT_PATH",
                             hint="set MLFLOW_TRACKING_SERVER_CERT_PATH to the PEM file of the CA that signed the server's certificate")
    return transport_failure(exc, "MLflow", redact_uri(url), tls_hint=MLFLOW_TLS_HINT)


def transport_reason(exc: requests.RequestException) -> str:
    """A failed connection in a few words, for a run's line about one model."""
    if isinstance(exc, requests.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, requests.ReadTimeout):
        return "read timeout"
    text = str(exc)
    for needle, reason in (("Connection refused", "connection refused"), ("reset", "connection reset"),
                           ("RemoteDisconnected", "connection closed without an answer")):
        if needle in text:
            return reason
    return short_reason(exc)


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
                         f"{body_kind(response)}", hint=MLFLOW_ROOT_HINT)


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


def response_json(response: requests.Response) -> Any:
    """The answer's JSON, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def body_kind(response: requests.Response) -> str:
    content_type = response.headers.get("Content-Type", "")
    if "html" in content_type or response.text.lstrip().lower().startswith(("<!doctype", "<html")):
        return "an HTML page"
    return "JSON" if "json" in content_type else "text that is not JSON"
