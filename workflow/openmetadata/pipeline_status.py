"""The run in OpenMetadata's run history, when the workflow names an ingestion pipeline.

With `ingestionPipelineFQN` set, the official CLI reports each run to that pipeline, so a run scheduled
outside OpenMetadata (cron, the user's Airflow) shows in the service's Ingestion tab like one
OpenMetadata ran itself. This does the same: the pipeline is created when the service has none of that
name, the run is `running` once it starts, and at its end `success`, `partialSuccess` (failures within
successThreshold) or `failed`, with its counts and first failures. A status call that fails never fails
the run: it becomes a warning, since the models themselves were ingested or not regardless.
"""
from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import quote

from ..document.workflow_file import Workflow
from ..errors import UserError, short_reason
from ..events import RunSummary
from .om_client import ApiError, OpenMetadataClient
from ..document.redact import scrub

PIPELINES = "/services/ingestionPipelines"
READ_TIMEOUT = 10.0
"""Seconds to wait for a status call's answer: a small body, and a stuck server must not hold a run's end."""
FAILURES_SHOWN = 10
"""As the official CLI: the run history shows the first failures, not thousands."""


def pipeline_status_for(config: Workflow, client: OpenMetadataClient, secrets: list[str]) -> PipelineStatus | None:
    """The reporter for a run that names a pipeline and sends to OpenMetadata, else None. The run's
    client stops retrying on cancel, so a cancelled run ends at once: its result still gets one attempt.
    `secrets` (all the run knows) are scrubbed from the failures it sends."""
    if not config.ingestionPipelineFQN or config.sink.type != "metadata-rest":
        return None
    return PipelineStatus(config, client, secrets)


class PipelineStatus:
    """Reports one run to the pipeline `config.ingestionPipelineFQN` through `client` (the run's, which
    its owner closes), each call with `READ_TIMEOUT`."""

    def __init__(self, config: Workflow, client: OpenMetadataClient, secrets: list[str]):
        self.config = config
        self.client = client
        self.secrets = secrets
        self.timeout = (client.timeout[0], READ_TIMEOUT)
        self.run_id = config.pipelineRunId or str(uuid.uuid4())
        self.fqn: str | None = None
        """The pipeline's FQN once the run is marked running there; None if it could not be, and then no
        result is sent either (one warning, not two, when the server keeps refusing statuses)."""
        self.started_ms = 0
        self.recorded = ""
        """Where the run's result was recorded, for the summary; empty until it is."""

    def start(self) -> str | None:
        """Find or create the pipeline and mark the run `running`; a warning when that fails, or when
        the pipeline had to be created under another name than the one asked for."""
        self.started_ms = _now_ms()
        try:
            fqn = self._pipeline()["fullyQualifiedName"]
            self._put_status(fqn, {"pipelineState": "running", "config": {}})
        except (ApiError, OSError, UserError, KeyError, TypeError) as exc:
            return self._warning("could not be marked running", exc)
        self.fqn = fqn
        if fqn != self.config.ingestionPipelineFQN:
            return (f"ingestionPipelineFQN {self.config.ingestionPipelineFQN} is not a pipeline of service "
                    f"{self.config.source.serviceName}: the run is recorded in {fqn}, created for it; "
                    f"set ingestionPipelineFQN: {fqn}")
        return None

    def finish(self, summary: RunSummary) -> str | None:
        """Record how the run ended; a warning when that fails. Nothing to do if `start` failed."""
        if self.fqn is None:
            return None
        try:
            step = step_summary(summary, self.secrets)
            state = pipeline_state(summary)
            self._put_status(self.fqn, {"pipelineState": state, "endDate": _now_ms(), "status": [step]})
            self.recorded = f"run {self.run_id} of ingestion pipeline {self.fqn}, as {state}"
        except (ApiError, OSError, UserError) as exc:
            return self._warning("could not be given its result", exc)
        return None

    def _pipeline(self) -> dict[str, Any]:
        """The pipeline named by the FQN, created under the workflow's service when it does not exist."""
        wanted = self.config.ingestionPipelineFQN or ""
        try:
            return self.client.get(f"{PIPELINES}/name/{quote(wanted, safe='')}", timeout=self.timeout)
        except ApiError as exc:
            if exc.status != 404 or exc.html:
                raise
        service = self.client.get_service(self.config.source.serviceName, timeout=self.timeout)
        if service is None:
            raise ApiError(404, f"service {self.config.source.serviceName!r} not found", self.client.base)
        return self.client.put(PIPELINES, {
            "name": last_fqn_part(wanted),
            "pipelineType": "metadata",
            "sourceConfig": self.config.source.sourceConfig.model_dump(mode="json", exclude_none=True),
            "airflowConfig": {},
            "service": {"id": service["id"], "type": "mlmodelService"},
            "enableStreamableLogs": False,
        }, timeout=self.timeout)

    def _put_status(self, fqn: str, fields: dict[str, Any]) -> None:
        body = {"runId": self.run_id, "startDate": self.started_ms, "timestamp": self.started_ms, **fields}
        self.client.put(f"{PIPELINES}/{quote(fqn, safe='')}/pipelineStatus", body, timeout=self.timeout)

    def _warning(self, what: str, exc: BaseException) -> str:
        return (f"the run {self.run_id} of ingestion pipeline {self.config.ingestionPipelineFQN} {what} in "
                f"OpenMetadata ({short_reason(exc)}); the models are not affected")


def pipeline_state(summary: RunSummary) -> str:
    """OpenMetadata's word for how the run ended, as the official CLI picks it: below successThreshold
    is `failed` whether or not raiseOnError lets the exit code be 0."""
    if summary.cancelled or summary.incomplete or summary.below_threshold:
        return "failed"
    return "partialSuccess" if summary.failures else "success"


def step_summary(summary: RunSummary, secrets: list[str]) -> dict[str, Any]:
    """The run's counts as one OpenMetadata StepSummary, named after the source as the official's is.
    Failure reasons are scrubbed of the config's `secrets`: everyone who can see the service reads them."""
    return {
        "name": "Mlflow",
        "records": summary.processed,
        "updated_records": summary.updated,
        "warnings": len(summary.warnings),
        "errors": len(summary.failures),
        "filtered": len(summary.filtered),
        "failures": [{"name": f.name, "error": scrub(f.reason, secrets)} for f in summary.failures[:FAILURES_SHOWN]],
    }


def last_fqn_part(fqn: str) -> str:
    """`svc.pipeline` → `pipeline`; `svc."my.pipeline"` → `my.pipeline` (a quoted part may hold dots)."""
    if fqn.endswith('"'):
        start = fqn.rfind('"', 0, len(fqn) - 1)
        if start >= 0:
            return fqn[start + 1:-1]
    return fqn.rsplit(".", 1)[-1]


def _now_ms() -> int:
    return int(time.time() * 1000)
