"""A workflow without `source.serviceConnection` runs with the connection stored with its service in
OpenMetadata, as the official CLI allows: a platform team keeps the MLflow URIs on the server and
hands out workflow files that only name the service."""
from __future__ import annotations

import os
import re

from pydantic import ValidationError

from ..document.source import MlflowConnection, ServiceConnection
from ..document.workflow_file import Workflow
from ..document.redact import uri_password, with_password
from ..errors import EndpointError, UserError
from .om_client import ApiError, OpenMetadataClient, describe_failure


def with_stored_connection(config: Workflow, client: OpenMetadataClient | None = None, *,
                           timeout: float = 2.0) -> Workflow:
    """The config itself when it has a serviceConnection, else a copy with the server's one, read
    through `client` (the run's) or a client of its own.

    `timeout` is the connect timeout; the answer may take three times longer, as in the checks.
    """
    if config.source.serviceConnection is not None:
        return config
    name = config.source.serviceName
    own = client is None
    client = client or OpenMetadataClient(config.openmetadata)
    try:
        service = client.get_service(name, timeout=(timeout, timeout * 3))
    except (ApiError, OSError, ValueError) as exc:
        error = describe_failure(exc, config.openmetadata)
        raise EndpointError(f"cannot read the stored connection of service {name!r}: {error.message}",
                            hint=error.hint) from None
    finally:
        if own:
            client.close()
    if service is None:
        raise EndpointError(
            f"source.serviceConnection is missing and OpenMetadata has no service {name!r} to read it from",
            hint="add source.serviceConnection.config with trackingUri (and registryUri), or fix serviceName",
        )
    stored = (service.get("connection") or {}).get("config")
    if not stored:
        raise EndpointError(f"service {name!r} in OpenMetadata has no stored connection",
                            hint="add source.serviceConnection.config with trackingUri to the workflow")
    try:
        connection = MlflowConnection.model_validate(
            {k: _expanded(name, k, v) for k, v in stored.items() if k in MlflowConnection.model_fields})
    except ValidationError as exc:
        raise UserError(f"the connection stored with service {name!r} is not an MLflow connection: "
                        f"{exc.errors()[0]['msg']}") from None
    source = config.source.model_copy(update={"serviceConnection": ServiceConnection(config=connection)})
    return config.model_copy(update={"source": source})


def _expanded(service: str, field: str, value: object) -> object:
    """A stored URI whose password is a `${VAR}` reference (as this tool stores it), filled in from
    the environment; an unset variable is named, with what to set. Other values are kept as stored."""
    password = uri_password(value) if isinstance(value, str) else None
    reference = re.fullmatch(r"\$\{(\w+)\}", password or "")
    if not reference:
        return value
    name = reference.group(1)
    if name not in os.environ:
        raise UserError(f"the {field} stored with service {service!r} refers to ${{{name}}}, which is not set",
                        hint=f"export {name} (the password of that URI) in the environment of the run")
    return with_password(str(value), os.environ[name])
