"""What a run (or a plan) does before it reads a model: its OpenMetadata client, its config, its sink.

Apart from the run itself because a plan shares it: `metadata ingest --plan` opens the same
client, takes the same stored connection and stops on the same failed checks, then runs into a
sink that writes nothing.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from .checks import CheckReport, by_endpoint, iter_checks
from .document.sink import FileSink as FileSinkConfig
from .document.workflow_file import Workflow
from .errors import EndpointError
from .openmetadata.om_client import OpenMetadataClient
from .openmetadata.sso import authenticator_for
from .openmetadata.stored_connection import with_stored_connection
from .sinks.base import Sink
from .sinks.file import FileSink
from .sinks.metadata_rest import OpenMetadataSink


@dataclass
class ChecksFailed(EndpointError):
    """The `test-connection` checks failed, so the run did not start; `report` holds every step."""

    report: CheckReport | None = None


def openmetadata_client(config: Workflow, cancel: threading.Event) -> OpenMetadataClient:
    """The run's client. Sending to OpenMetadata, its credentials are read now, so a malformed token
    stops the run before any call; a file sink's run uses it only to read a stored connection."""
    auth = authenticator_for(config.openmetadata) if config.sink.type == "metadata-rest" else None
    return OpenMetadataClient(config.openmetadata, auth=auth, stop=cancel)


def prepare_run(config: Workflow, client: OpenMetadataClient, cancel: threading.Event, *,
                check_first: bool = True) -> Workflow:
    """What a run (or a plan) does before any work: the config to run.

    A workflow without serviceConnection gets the one stored with its service, and (unless
    `check_first` is false) the `test-connection` checks run, so a run that cannot work stops in about
    a second with the same messages, instead of after MLflow's retries.
    """
    config = with_stored_connection(config, client)
    if check_first:
        report = by_endpoint(list(iter_checks(config, client=client, cancel=cancel, mandatory_only=True)))
        if not report.ok and not cancel.is_set():
            raise _checks_failed(report)
    return config


def _checks_failed(report: CheckReport) -> ChecksFailed:
    failures = report.failures
    causes = "; ".join(f"{step.endpoint}: {step.cause}" for step in failures)
    return ChecksFailed(f"the endpoint checks failed, so nothing was run: {causes}",
                        hint=next((step.remediation for step in failures if step.remediation), ""), report=report)


def sink_for(config: Workflow, client: OpenMetadataClient) -> Sink:
    """The configured sink; an OpenMetadata sink sends through the run's `client`."""
    if isinstance(config.sink, FileSinkConfig):
        return FileSink(Path(config.sink.config.filename))
    return OpenMetadataSink(config, client)
