"""The metadata-rest sink: built models into the OpenMetadata server.

It takes batches of `BuiltModel`s from several threads and answers with one `SinkResult` per model.
It compares each model's hash with what the server already holds, so a re-run over an unchanged
registry sends nothing and says so.

Nothing is lost quietly: the client retries what the server may answer better next time (see
`retry.RETRY_STATUSES`), a model the bulk answer rejects is sent once more on its own, and every
model that still did not get in is a `SinkResult` with the HTTP status and the server's message, or
the timeout or reset that cut the call. Every write is a create-or-update by FQN, so a retry of a
write that did land updates the model instead of adding another.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ..document.workflow_file import Workflow
from ..document.redact import uri_password, variable_name, with_password
from ..errors import EndpointError, UserError
from ..events import Outcome
from ..openmetadata.om_client import ApiError, OpenMetadataClient, describe_failure, model_fqn, quote_fqn_part, \
    unexpected_answer, version_warning
from ..openmetadata.tls import tls_warnings
from ..registry.mlflow_source import BuiltModel
from .base import SinkResult, source_hash


class TooManyDeletions(EndpointError):
    """A run would mark more models deleted than `--max-deletions` allows, so it marks none."""


LISTED_PER_PAGE = 250
"""Entities per page when the service's models are listed: each comes whole (features and all), so a
page of 1,000 held about 10 MB at once; the calls this adds overlap MLflow's listing."""
COMPARED_FIELDS = ("description", "mlFeatures", "mlHyperParameters", "mlStore", "sourceUrl")
"""The fields of a model that come from MLflow and that a user reads: what a plan says changed."""


@dataclass(slots=True)
class Existing:
    id: str
    name: str
    source_hash: str | None
    deleted: bool
    fields: dict[str, Any] = field(default_factory=dict)
    """Its `COMPARED_FIELDS` as OpenMetadata holds them, for a plan to show old and new values."""


class OpenMetadataSink:
    name = "OpenMetadata"

    def __init__(self, config: Workflow, client: OpenMetadataClient, *, keep_fields: bool = False):
        self.config = config
        self.keep_fields = keep_fields
        """Keep each existing model's `COMPARED_FIELDS`, which a plan shows and a run does not need: at
        10,000 models the catalogue's description, features and parameters are tens of MB."""
        self.service = config.source.serviceName
        self.client = client
        self.batch_size = config.sink.config.bulk_sink_batch_size or 100  # type: ignore[union-attr]
        self.override = str(config.source_options.overrideMetadata).lower()
        self.use_bulk = True
        self.existing: dict[str, Existing] = {}
        self.service_exists = False
        self.max_deletions: int | None = None
        """Set by a run with `--max-deletions`: checked before its first write, and here again, in case
        the registry lost more models in between."""

    def open(self, *, create_service: bool = True) -> list[str]:
        """Check the server, ensure the service exists, and learn what it already holds.

        Without `create_service` (a plan) nothing is written: a missing service holds no models."""
        warnings = tls_warnings(self.config.openmetadata)
        try:
            version = self.client.server_version()
            warning = version_warning(version) if self.config.openmetadata.enableVersionValidation else None
            if warning:
                warnings.append(warning)
            self.service_exists = self.client.get_service(self.service) is not None
            if not self.service_exists and create_service:
                request, stored_as = self._service_request()
                self.client.put("/services/mlmodelServices", request)
                warnings += [f"the connection stored with service {self.service!r} keeps ${{{name}}} in place of "
                             f"the password in {key}: a workflow without serviceConnection needs {name} set"
                             for key, name in stored_as]
            self.existing = self._existing_models() if self.service_exists or create_service else {}
        except (ApiError, OSError, ValueError) as exc:
            raise describe_failure(exc, self.config.openmetadata) from None
        return warnings

    def _service_request(self) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """The service to create, and (field, variable) for each password kept out of it.

        OpenMetadata shows a stored connection to everyone who can see the service, so a password
        inside a URI is stored as a `${VAR}` reference (the name `metadata dag` gives it too); a run
        that reads this connection expands it from its environment."""
        body: dict[str, Any] = {"name": self.service, "serviceType": "Mlflow"}
        stored_as: list[tuple[str, str]] = []
        if self.config.openmetadata.storeServiceConnection:
            mlflow = self.config.mlflow
            uris = {"trackingUri": mlflow.trackingUri, "registryUri": mlflow.effective_registry_uri}
            for key, uri in uris.items():
                if uri_password(uri):
                    name = variable_name(("source", key), in_uri=True)
                    uris[key] = with_password(uri, f"${{{name}}}")
                    stored_as.append((key, name))
            body["connection"] = {"config": {"type": "Mlflow", **uris, "supportsMetadataExtraction": True}}
        return body, stored_as

    def _existing_models(self) -> dict[str, Existing]:
        """The service's models, page after page; an answer that is not a page of models, or a cursor
        the server already sent (a listing that would never end), is an error naming the call."""
        found: dict[str, Existing] = {}
        cursors: set[str] = set()
        after = None
        while True:
            params: dict[str, Any] = {"service": self.service, "limit": LISTED_PER_PAGE, "include": "all"}
            if after:
                params["after"] = after
            page = self.client.get("/mlmodels", **params) or {}
            data = page.get("data", []) if isinstance(page, dict) else None
            if not isinstance(data, list):
                raise unexpected_answer(self.client, "GET /mlmodels", "no list of models in its data")
            for entity in data:
                if not _listed_model(entity):
                    raise unexpected_answer(self.client, "GET /mlmodels", "a model without a name or an id")
                fqn = entity.get("fullyQualifiedName") or model_fqn(self.service, entity["name"])
                found[str(fqn)] = Existing(entity["id"], entity["name"], entity.get("sourceHash"),
                                           bool(entity.get("deleted")),
                                           {key: entity.get(key) for key in COMPARED_FIELDS} if self.keep_fields else {})
            paging = page.get("paging")
            after = paging.get("after") if isinstance(paging, dict) else None
            if not after:
                return found
            if str(after) in cursors:
                raise unexpected_answer(self.client, "GET /mlmodels", f"the same paging.after cursor twice "
                                        f"({len(found)} models listed): its paging loops")
            cursors.add(str(after))

    def write(self, batch: list[BuiltModel]) -> list[SinkResult]:
        results: list[SinkResult] = []
        to_send: list[dict[str, Any]] = []
        for built in batch:
            request, outcome = self.prepare(built)
            if outcome == "unchanged":
                results.append(SinkResult(built.name, "unchanged"))
            else:
                to_send.append(request)
        if to_send:
            results += self._send(to_send)
        return results

    def prepare(self, built: BuiltModel) -> tuple[dict[str, Any], Outcome]:
        """The request as it is sent (with its sourceHash), and what sending it does: an unchanged
        model (same hash, not deleted) is not sent at all."""
        request = dict(built.request)
        request["sourceHash"] = source_hash(request)
        if self.holds(built.name, request["sourceHash"]):
            return request, "unchanged"
        return request, self._outcome(built.name)

    def holds(self, name: str, sent_hash: str) -> bool:
        """Whether the server held this model when the run began, not deleted, with this sourceHash."""
        known = self.existing.get(model_fqn(self.service, name))
        return bool(known and not known.deleted and known.source_hash == sent_hash)

    def _outcome(self, name: str) -> Outcome:
        return "updated" if model_fqn(self.service, name) in self.existing else "created"

    def _send(self, requests: list[dict[str, Any]]) -> list[SinkResult]:
        if self.use_bulk:
            try:
                return self._send_bulk(requests)
            except ApiError as exc:
                if exc.status not in (404, 405) or exc.html:
                    return self._all_failed(requests, exc)
                self.use_bulk = False  # an older server: one PUT per model
            except (UserError, OSError, ValueError) as exc:  # UserError: e.g. the token endpoint failed on a refresh
                return self._all_failed(requests, exc)
        return [self._send_one(r) for r in requests]

    def _send_bulk(self, requests: list[dict[str, Any]]) -> list[SinkResult]:
        """One bulk PUT; each model in its `failedRequest` is sent again on its own, once: the bulk
        endpoint can fail a model for reasons a single PUT does not meet (a lock or a timeout inside
        the server), and a rejection that stands is then reported with the single PUT's own answer."""
        answer = self.client.put("/mlmodels/bulk", requests, **{"async": "false", "overrideMetadata": self.override}) or {}
        rejected = self._rejected_names(answer)
        return [self._send_one(r) if r["name"] in rejected else SinkResult(r["name"], self._outcome(r["name"]))
                for r in requests]

    def _rejected_names(self, answer: Any) -> set[str]:
        names = set()
        failed = answer.get("failedRequest") if isinstance(answer, dict) else None
        for item in failed if isinstance(failed, list) else []:
            request = item.get("request") if isinstance(item, dict) else None
            names.add(request.get("name") if isinstance(request, dict) else _name_from_fqn(str(request), self.service))
        return names

    def _send_one(self, request: dict[str, Any]) -> SinkResult:
        try:
            self.client.put("/mlmodels", request)
        except (UserError, ApiError, OSError, ValueError) as exc:
            return SinkResult(request["name"], error=self._failure(exc))
        return SinkResult(request["name"], self._outcome(request["name"]))

    def _all_failed(self, requests: list[dict[str, Any]], exc: BaseException) -> list[SinkResult]:
        reason = self._failure(exc)
        return [SinkResult(r["name"], error=reason) for r in requests]

    def _failure(self, exc: BaseException) -> str:
        """Why a write did not get in, for each of its models: the HTTP status and the server's message,
        or what cut the call short."""
        if isinstance(exc, UserError):
            return exc.message
        if isinstance(exc, ApiError) and not exc.html and 400 <= exc.status < 500 and exc.status not in (401, 403, 429):
            return f"rejected by OpenMetadata (HTTP {exc.status}): {exc.message}"
        return describe_failure(exc, self.config.openmetadata).message

    def mark_deleted(self, seen: set[str]) -> list[str]:
        """Soft-delete the service's models that the registry no longer lists; nothing if none are stale."""
        stale = self.stale(seen)
        if not stale:
            return []
        if self.max_deletions is not None and len(stale) > self.max_deletions:
            names = ", ".join(sorted(e.name for e in stale)[:20])
            raise TooManyDeletions(f"{len(stale)} model(s) are gone from the listing, more than the "
                                   f"{self.max_deletions} --max-deletions allows, so none was marked deleted: {names}",
                                   hint="the registry lost models during the run; check it, then run again")
        try:
            return self._delete_stale({model_fqn(self.service, name) for name in seen}, stale)
        except (ApiError, OSError, ValueError) as exc:
            raise describe_failure(exc, self.config.openmetadata) from None

    def stale(self, seen: set[str]) -> list[Existing]:
        """The live models of the service that `seen` (the names listed and let through the filter)
        lacks: what marking deleted removes. None when nothing was seen, as the server does too."""
        if not seen:
            return []
        seen_fqns = {model_fqn(self.service, name) for name in seen}
        return [e for fqn, e in self.existing.items() if not e.deleted and fqn not in seen_fqns]

    def _delete_stale(self, seen_fqns: set[str], stale: list[Existing]) -> list[str]:
        body = {"scopeFqn": quote_fqn_part(self.service), "scopeEntityType": "service",
                "seenFqns": sorted(seen_fqns), "recursive": True}
        try:
            answer = self.client.delete("/mlmodels/deleteStale", body) or {}
            return sorted(_name_from_fqn(str(i.get("request")), self.service) for i in answer.get("successRequest") or [])
        except ApiError as exc:
            if exc.status != 404 or exc.html:
                raise
        for entity in stale:  # an older server without deleteStale
            self._delete_one(entity)
        return sorted(e.name for e in stale)

    def _delete_one(self, entity: Existing) -> None:
        """Soft-delete one model; a 404 means it is deleted already, e.g. by a retried call whose first
        answer was lost."""
        try:
            self.client.delete(f"/mlmodels/{quote(entity.id)}", recursive="true", hardDelete="false")
        except ApiError as exc:
            if exc.status != 404 or exc.html:
                raise

    def close(self, complete: bool) -> list[str]:
        """Nothing to close: the client is the run's, and the run closes it once its status is recorded."""
        return []


def _listed_model(entity: Any) -> bool:
    """Whether an entry of a listing page is a model: an object with a string name and id."""
    return isinstance(entity, dict) and isinstance(entity.get("name"), str) and isinstance(entity.get("id"), str)


def _name_from_fqn(fqn: str, service: str) -> str:
    prefix = quote_fqn_part(service) + "."
    name = fqn[len(prefix):] if fqn.startswith(prefix) else fqn
    return name[1:-1] if len(name) > 1 and name.startswith('"') and name.endswith('"') else name
