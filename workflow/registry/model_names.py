"""The registered model names of an MLflow registry, for the TUI's filter preview and the demo's
seeding check: the first page of the listing, read by the same reader a run uses (a server, a
database or MLflow's client), sent once with short timeouts, as a check reads."""
from __future__ import annotations

from contextlib import closing

from pydantic import ValidationError

from ..document.source import MlflowConnection
from ..document.redact import redact_uri, scrub
from ..errors import EndpointError
from .mlflow_credentials import known_secrets
from .read_policy import ReadPolicy
from .records import ReadError

MAX_RESULTS = 1000
"""One page, MLflow's largest: a preview, not a full listing."""
READ_FACTOR = 3
"""A registry may take a moment to answer a search once connected, but not minutes."""


def registered_model_names(registry_uri: str, *, timeout: float = 3.0) -> list[str]:
    """The first `MAX_RESULTS` registered model names, sorted; `EndpointError` says why there are none."""
    try:
        connection = MlflowConnection(trackingUri=registry_uri, registryUri=registry_uri)
    except ValidationError:
        raise EndpointError(f"no preview for {redact_uri(registry_uri)}: it is not an MLflow registry URI") from None
    from .mlflow_api import registry_for  # here: the app imports this module at start-up, requests is not needed then

    policy = ReadPolicy.for_check(timeout, READ_FACTOR)
    try:
        with closing(registry_for(connection, pool_size=1, policy=policy)) as registry:
            page = registry.models_page(MAX_RESULTS, None)
    except ReadError as exc:  # scrubbed as a run's errors are: a server may echo the password it was sent
        error, secrets = exc.explained(), known_secrets(connection)
        raise EndpointError(scrub(error.message, secrets), hint=scrub(error.hint, secrets)) from None
    return sorted(model.name for model in page.models)
