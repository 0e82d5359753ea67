"""Whether the server at an MLflow URI is MLflow at all: it answers (GET /health), and its registry
search answers MLflow's JSON; else what answers there instead (another web server, a login page, a
proxy, MLflow at the root of a URI with a path), each with the setting to fix."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from ..document.redact import redact_uri
from ..errors import EndpointError
from ..registry.mlflow_failures import MLFLOW_ROOT_HINT, body_kind, response_json
from ..registry.mlflow_http import API, MlflowHttp
from .steps import Outcome, passed

SEARCH_MODELS = API + "/registered-models/search"


def identify_mlflow(http: MlflowHttp, field: str) -> Outcome:
    """Reach the server (GET /health), then make sure it is MLflow: its registry search answers MLflow's JSON."""
    where = redact_uri(http.base)
    health = http.probe("/health")
    probe = http.probe(SEARCH_MODELS, max_results=1)
    data = response_json(probe)
    says_ok = health.status_code == 200 and health.text.strip() == "OK"
    if isinstance(data, dict) and (probe.status_code == 200 or "error_code" in data):
        return passed(f"MLflow{_mlflow_version(http)} answers at {where}")
    if probe.status_code in (401, 403):
        what = "MLflow" if says_ok else "a server"
        return passed(f"{what} answers at {where} and asks for credentials (HTTP {probe.status_code})")
    if probe.status_code >= 500:
        raise EndpointError(f"the server at {where} failed with HTTP {probe.status_code} ({body_kind(probe)})",
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
                        f"HTTP {probe.status_code} with {body_kind(probe)}",
                        hint=f"check the host and port of {field}: {MLFLOW_ROOT_HINT}")


def _mlflow_at_root(http: MlflowHttp) -> str | None:
    """The server's root URL when MLflow answers there: the URI has a path it should not have."""
    parts = urlsplit(http.base)
    if not parts.path.strip("/"):
        return None
    root = f"{parts.scheme}://{parts.netloc}"
    try:
        health = http.probe("/health", base=root)
    except EndpointError:
        return None
    return redact_uri(root) if health.status_code == 200 and health.text.strip() == "OK" else None


def _mlflow_version(http: MlflowHttp) -> str:
    """' 3.17.2' from the server's /version, or '' when it does not say (older servers, auth)."""
    try:
        text = http.probe("/version").text.strip()
    except EndpointError:
        return ""
    return f" {text}" if re.fullmatch(r"\d+\.\d+[\w.+-]*", text) else ""
