"""The registered model names of an MLflow registry, over plain REST with MLflow's own environment
settings (credentials, TLS). The TUI's filter preview and the demo's seeding check need only names,
and importing mlflow costs seconds."""
from __future__ import annotations

from ..errors import EndpointError
from ..document.redact import redact_uri

MAX_RESULTS = 1000
"""One page, MLflow's largest: a preview, not a full listing."""


def registered_model_names(registry_uri: str, *, timeout: float = 3.0) -> list[str]:
    """The first `MAX_RESULTS` registered model names, sorted; `EndpointError` says why there are none."""
    if not registry_uri.startswith(("http://", "https://")):
        raise EndpointError(f"no preview for {redact_uri(registry_uri)}: only an http(s) registry server can be listed")
    from ..checks.mlflow_http import SEARCH_MODELS, MlflowHttp  # here: the TUI imports this module at start-up

    data = MlflowHttp(registry_uri, timeout).answer(SEARCH_MODELS, "list registered models", max_results=MAX_RESULTS)
    return sorted(m["name"] for m in data.get("registered_models") or [])
