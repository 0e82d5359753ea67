"""The server itself and its ML model services: `system/version`, the MLflow test-connection
definition, and the services a run creates and looks up by name."""

from __future__ import annotations

import uuid

from tests.support.om_standin.routing import ApiRequest
from tests.support.om_standin.schema import (
    TEST_CONNECTION_DEFINITION,
    TEST_CONNECTION_DEFINITION_FQN,
    ApiError,
    bump_version,
    fqn_part,
    next_updated_at,
    user_fields,
    validate_create_service,
)


class ServiceRoutes:
    """Routes over `services` (by name), and the lookups the model and pipeline routes share."""

    services: dict[str, dict]
    version: str
    url: str
    _started_ms: int

    # ---- lookups --------------------------------------------------------------------------

    def _iter_services(self):
        """All services, with id/name/FQN filled in for entities a test put into ``services`` by hand."""
        for key, service in self.services.items():
            service.setdefault("name", key)
            service.setdefault("id", str(uuid.uuid4()))
            service.setdefault("fullyQualifiedName", fqn_part(service["name"]))
            yield service

    def _find_service(self, ref: str) -> dict | None:
        """A service by name or by FQN (``"my.svc"`` or ``my.svc`` both find service my.svc).

        Lenient on purpose: CreateMlModelRequest.service carries the service name.
        """
        return next((s for s in self._iter_services() if ref in (s["name"], s["fullyQualifiedName"])), None)

    def _find_service_by_fqn(self, fqn: str) -> dict | None:
        """Strict FQN lookup, as GET .../name/{fqn} does: a dotted name must arrive quoted."""
        return next((s for s in self._iter_services() if s["fullyQualifiedName"] == fqn), None)

    @staticmethod
    def _service_reference(service: dict) -> dict:
        return {"id": service["id"], "type": "mlmodelService", "name": service["name"],
                "fullyQualifiedName": service["fullyQualifiedName"]}

    # ---- system ---------------------------------------------------------------------------

    def _get_version(self, request: ApiRequest) -> tuple[int, dict]:
        return 200, {"version": self.version, "revision": "abc123", "timestamp": self._started_ms}

    def _get_test_connection_definition(self, request: ApiRequest, fqn: str) -> tuple[int, dict]:
        if fqn != TEST_CONNECTION_DEFINITION_FQN:
            raise ApiError(404, f"testConnectionDefinition instance for {fqn} not found")
        return 200, dict(TEST_CONNECTION_DEFINITION, updatedAt=self._started_ms)

    # ---- services -------------------------------------------------------------------------

    def _get_service_by_name(self, request: ApiRequest, fqn: str) -> tuple[int, dict]:
        service = self._find_service_by_fqn(fqn)
        if service is None:
            raise ApiError(404, f"mlmodelService instance for {fqn} not found")
        return 200, service

    def _put_service(self, request: ApiRequest) -> tuple[int, dict]:
        """Create-or-update by name; unchanged payloads keep version and updatedAt."""
        create = request.json()
        validate_create_service(create)
        name = create["name"]
        existing = self._find_service_by_fqn(fqn_part(name))
        if existing is not None and user_fields(existing) == create:
            return 200, existing
        entity = dict(create)
        entity.update(
            id=existing["id"] if existing else str(uuid.uuid4()),
            fullyQualifiedName=fqn_part(name),
            version=bump_version(existing.get("version", 0.1)) if existing else 0.1,
            updatedAt=next_updated_at(existing),
            updatedBy="ingestion-bot",
            deleted=False,
        )
        entity["href"] = f"{self.url}/v1/services/mlmodelServices/{entity['id']}"
        self.services[name] = entity
        return (200 if existing else 201), entity
