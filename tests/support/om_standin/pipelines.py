"""The ingestion pipelines and their run statuses, as the stand-in serves them for a run that names
its `ingestionPipelineFQN`."""

from __future__ import annotations

import uuid

from tests.support.om_standin.routing import ApiRequest
from tests.support.om_standin.schema import (
    ApiError,
    bump_version,
    fqn_part,
    now_ms,
    validate_create_pipeline,
    validate_pipeline_status,
)


class PipelineRoutes:
    """Routes over `pipelines` (by FQN) and `pipeline_statuses` (by FQN, then run id)."""

    pipelines: dict[str, dict]
    pipeline_statuses: dict[str, dict[str, dict]]

    def _get_pipeline_by_name(self, request: ApiRequest, fqn: str) -> tuple[int, dict]:
        if fqn not in self.pipelines:
            raise ApiError(404, f"ingestionPipeline instance for {fqn} not found")
        return 200, self.pipelines[fqn]

    def _put_pipeline(self, request: ApiRequest) -> tuple[int, dict]:
        """Create-or-update by service and name; the pipeline's FQN is `<service>.<name>`."""
        create = request.json()
        validate_create_pipeline(create)
        service = next((s for s in self._iter_services() if s["id"] == create["service"]["id"]), None)
        if service is None:
            raise ApiError(404, f"mlmodelService instance for {create['service']['id']} not found")
        fqn = f"{service['fullyQualifiedName']}.{fqn_part(create['name'])}"
        existing = self.pipelines.get(fqn)
        entity = dict(create, id=existing["id"] if existing else str(uuid.uuid4()), fullyQualifiedName=fqn,
                      service=self._service_reference(service), deployed=False, enabled=True,
                      version=bump_version(existing["version"]) if existing else 0.1, updatedAt=now_ms())
        self.pipelines[fqn] = entity
        return (200 if existing else 201), entity

    def _put_pipeline_status(self, request: ApiRequest, fqn: str) -> tuple[int, dict]:
        if fqn not in self.pipelines:
            raise ApiError(404, f"ingestionPipeline instance for {fqn} not found")
        status = request.json()
        validate_pipeline_status(status)
        self.pipeline_statuses.setdefault(fqn, {})[status["runId"]] = status
        return 200, status

    def _get_pipeline_status(self, request: ApiRequest, fqn: str, run_id: str) -> tuple[int, dict]:
        if fqn not in self.pipelines:
            raise ApiError(404, f"ingestionPipeline instance for {fqn} not found")
        status = self.pipeline_statuses.get(fqn, {}).get(run_id)
        if status is None:
            raise ApiError(404, f"pipelineStatus {run_id} for {fqn} not found")
        return 200, status
