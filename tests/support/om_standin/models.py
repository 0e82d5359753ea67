"""The ML models a run writes: upsert one or in bulk, the cursor-paged listing, reads by name and
id, soft and hard deletes, and `deleteStale` (what the server does when a run marks models deleted)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any, Callable

from tests.support.om_standin.routing import ApiRequest
from tests.support.om_standin.schema import (
    DEFAULT_LIST_LIMIT,
    MAX_LIST_LIMIT,
    ApiError,
    bump_version,
    fqn_part,
    next_updated_at,
    require_str,
    user_fields,
    validate_create_mlmodel,
)


def _bulk_result(successes: list[dict], failures: list[dict]) -> dict:
    """Build a BulkOperationResult; 'failure' only when every processed row failed."""
    processed = len(successes) + len(failures)
    if not failures:
        status = "success"
    elif not successes:
        status = "failure"
    else:
        status = "partialSuccess"
    return {
        "status": status,
        "numberOfRowsProcessed": processed,
        "numberOfRowsPassed": len(successes),
        "numberOfRowsFailed": len(failures),
        "successRequest": successes,
        "failedRequest": failures,
        "dryRun": False,
    }


def _encode_cursor(fqn: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"fqn": fqn}).encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))["fqn"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError(400, f"Invalid cursor: {cursor}") from exc


class ModelRoutes:
    """Routes over `models` (by FQN); `fail_models` names the models a test makes the server refuse."""

    models: dict[str, dict]
    fail_models: set[str]
    bulk: bool
    delete_stale: bool
    url: str

    # ---- lookups --------------------------------------------------------------------------

    def _find_model_by_id(self, model_id: str) -> dict | None:
        return next((m for m in self.models.values() if m.get("id") == model_id), None)

    @staticmethod
    def _model_service_name(model: dict) -> str | None:
        service = model.get("service")
        return service.get("name") if isinstance(service, dict) else service

    @staticmethod
    def _include_filter(query: dict[str, str]) -> Callable[[dict], bool]:
        include = query.get("include", "non-deleted")
        if include == "all":
            return lambda m: True
        if include == "deleted":
            return lambda m: bool(m.get("deleted"))
        if include == "non-deleted":
            return lambda m: not m.get("deleted")
        raise ApiError(400, f"query param include must be one of [non-deleted, deleted, all], got {include}")

    # ---- models: upsert -------------------------------------------------------------------

    def _upsert_model(self, create: Any) -> tuple[int, dict]:
        """Validate and store one CreateMlModelRequest; returns (201|200, entity) or raises ApiError.

        Identical content leaves version and updatedAt untouched (that is how a no-op re-run is
        observed); a change, or upserting a soft-deleted model, bumps the version by 0.1.
        """
        validate_create_mlmodel(create)
        service = self._find_service(create["service"])
        if service is None:
            raise ApiError(404, f"mlmodelService instance for {create['service']} not found")
        if create["name"] in self.fail_models:
            raise ApiError(400, f"Invalid request: {create['name']} rejected by test")

        fqn = f"{fqn_part(service['name'])}.{fqn_part(create['name'])}"
        existing = self.models.get(fqn)
        content = {k: v for k, v in create.items() if k != "service"}
        if existing is not None and not existing.get("deleted") and user_fields(existing) == content:
            return 200, existing

        entity = dict(content)
        entity.update(
            id=(existing or {}).get("id") or str(uuid.uuid4()),
            fullyQualifiedName=fqn,
            service=self._service_reference(service),
            version=bump_version(existing.get("version", 0.1)) if existing else 0.1,
            updatedAt=next_updated_at(existing),
            updatedBy="ingestion-bot",
            deleted=False,
        )
        entity["href"] = f"{self.url}/v1/mlmodels/{entity['id']}"
        self.models[fqn] = entity
        return (200 if existing else 201), entity

    def _put_model(self, request: ApiRequest) -> tuple[int, dict]:
        return self._upsert_model(request.json())

    def _put_models_bulk(self, request: ApiRequest) -> tuple[int, dict]:
        """Bulk upsert: per-item failures go into failedRequest; the HTTP status stays 200."""
        if not self.bulk:
            raise ApiError(404, "HTTP 404 Not Found")
        items = request.json()
        if not isinstance(items, list):
            raise ApiError(400, "Cannot deserialize value of type `java.util.ArrayList` from a non-array value")
        injected = request.fault.partial_bulk_fail if request.fault else frozenset()
        successes, failures = [], []
        for item in items:
            if isinstance(item, dict) and item.get("name") in injected:
                failures.append({"request": item, "message": request.fault.message, "status": 500})
                continue
            try:
                _, entity = self._upsert_model(item)
            except ApiError as err:
                message = "service not found: " + item["service"] if err.status == 404 else err.message
                failures.append({"request": item, "message": message, "status": err.status})
            else:
                successes.append({"request": entity["fullyQualifiedName"], "status": 200})
        return 200, _bulk_result(successes, failures)

    # ---- models: read ---------------------------------------------------------------------

    def _list_models(self, request: ApiRequest) -> tuple[int, dict]:
        """Cursor-paged listing sorted by FQN; ``paging.after`` is omitted on the last page."""
        limit = self._parse_limit(request.query.get("limit"))
        keep = self._include_filter(request.query)
        service_ref = request.query.get("service")
        service = self._find_service(service_ref) if service_ref is not None else None
        matching = sorted(
            (m for m in self.models.values()
             if keep(m) and (service_ref is None
                             or (service is not None and self._model_service_name(m) == service["name"]))),
            key=lambda m: m["fullyQualifiedName"])
        start = matching
        if request.query.get("after"):
            after_fqn = _decode_cursor(request.query["after"])
            start = [m for m in matching if m["fullyQualifiedName"] > after_fqn]
        page = start[:limit]
        paging: dict[str, Any] = {"total": len(matching)}
        if page and len(start) > limit:
            paging["after"] = _encode_cursor(page[-1]["fullyQualifiedName"])
        return 200, {"data": page, "paging": paging}

    @staticmethod
    def _parse_limit(raw: str | None) -> int:
        if raw is None:
            return DEFAULT_LIST_LIMIT
        try:
            limit = int(raw)
        except ValueError as exc:
            raise ApiError(400, f"query param limit must be an integer, got {raw}") from exc
        if limit < 0:
            raise ApiError(400, "query param limit must be greater than or equal to 0")
        if limit > MAX_LIST_LIMIT:
            raise ApiError(400, f"query param limit must be less than or equal to {MAX_LIST_LIMIT}")
        return limit

    def _get_model_by_name(self, request: ApiRequest, fqn: str) -> tuple[int, dict]:
        model = self.models.get(fqn)
        if model is None or not self._include_filter(request.query)(model):
            raise ApiError(404, f"mlmodel instance for {fqn} not found")
        return 200, model

    def _get_model_by_id(self, request: ApiRequest, model_id: str) -> tuple[int, dict]:
        model = self._find_model_by_id(model_id)
        if model is None or not self._include_filter(request.query)(model):
            raise ApiError(404, f"mlmodel instance for {model_id} not found")
        return 200, model

    # ---- models: delete -------------------------------------------------------------------

    def _soft_delete(self, model: dict) -> None:
        model["deleted"] = True
        model["version"] = bump_version(model.get("version", 0.1))
        model["updatedAt"] = next_updated_at(model)

    def _delete_model(self, request: ApiRequest, model_id: str) -> tuple[int, dict]:
        """Soft delete by default; ``hardDelete=true`` removes the model from ``models``."""
        model = self._find_model_by_id(model_id)
        hard = request.query.get("hardDelete", "false").lower() == "true"
        if model is None or (model.get("deleted") and not hard):
            raise ApiError(404, f"mlmodel instance for {model_id} not found")
        if hard:
            del self.models[model["fullyQualifiedName"]]
            return 200, model
        self._soft_delete(model)
        return 200, model

    def _delete_stale(self, request: ApiRequest) -> tuple[int, dict]:
        """Soft-delete the service's live models not in seenFqns.

        Like the server, an empty seenFqns or an unknown scope deletes nothing: a client that
        listed nothing (e.g. a failed registry call) must not wipe the catalogue.
        """
        if not self.delete_stale:
            raise ApiError(404, "HTTP 404 Not Found")
        scope_fqn, seen = self._parse_delete_stale(request.json())
        service = self._find_service(scope_fqn)
        deleted: list[dict] = []
        if seen and service is not None:
            for fqn in sorted(self.models):
                model = self.models[fqn]
                if (self._model_service_name(model) == service["name"]
                        and not model.get("deleted") and fqn not in seen):
                    self._soft_delete(model)
                    deleted.append({"request": fqn, "status": 200})
        return 200, _bulk_result(deleted, [])

    @staticmethod
    def _parse_delete_stale(body: Any) -> tuple[str, set[str]]:
        if not isinstance(body, dict):
            raise ApiError(400, "Cannot deserialize DeleteStaleRequest from a non-object value")
        require_str(body, "scopeFqn")
        if body.get("scopeEntityType", "service") != "service":
            raise ApiError(400, f"Unsupported scopeEntityType {body.get('scopeEntityType')!r}")
        seen = body.get("seenFqns")
        if seen is None:
            seen = []
        if not isinstance(seen, list) or not all(isinstance(s, str) for s in seen):
            raise ApiError(400, "[seenFqns must be a list of strings]")
        return body["scopeFqn"], set(seen)
