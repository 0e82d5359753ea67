"""Where built models go: the OpenMetadata server, or a JSON Lines file for users without one.

Both sinks take batches of `BuiltModel`s from several threads and answer with one `SinkResult` per
model. The OpenMetadata sink compares each model's hash with what the server already holds, so a
re-run over an unchanged registry sends nothing and says so.

Nothing is lost quietly: the client retries what the server may answer better next time (see
`retry.RETRY_STATUSES`), a model the bulk answer rejects is sent once more on its own, and every
model that still did not get in is a `SinkResult` with the HTTP status and the server's message, or
the timeout or reset that cut the call. Every write is a create-or-update by FQN, so a retry of a
write that did land updates the model instead of adding another.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from ..openmetadata.auth import Authenticator
from ..document.config import FileSink as FileSinkConfig
from ..document.config import Workflow
from ..errors import EndpointError, UserError
from ..events import Outcome
from ..registry.mlflow_source import BuiltModel
from ..openmetadata.om_client import ApiError, OpenMetadataClient, describe_failure, model_fqn, quote_fqn_part
from ..openmetadata.tls import tls_warnings
from ..document.redact import redact_uri

SUPPORTED_SERVER = (2, 0)
"""The OpenMetadata API version this tool speaks; another major.minor is a warning, not a refusal."""


@dataclass(frozen=True)
class SinkResult:
    name: str
    outcome: Outcome | None = None
    error: str | None = None


class Sink(Protocol):
    name: str
    batch_size: int

    def open(self) -> list[str]: ...

    def write(self, batch: list[BuiltModel]) -> list[SinkResult]: ...

    def mark_deleted(self, seen: set[str]) -> list[str]: ...

    def close(self, complete: bool) -> list[str]: ...


def sink_for(config: Workflow, auth: Authenticator | None = None, *, stop: threading.Event | None = None) -> Sink:
    """The configured sink; `stop` (the run's cancel) cuts short its retry waits."""
    if isinstance(config.sink, FileSinkConfig):
        return FileSink(Path(config.sink.config.filename))
    return OpenMetadataSink(config, OpenMetadataClient(config.openmetadata, auth=auth, stop=stop))


def source_hash(request: dict[str, Any]) -> str:
    body = {k: v for k, v in request.items() if k != "sourceHash"}
    return hashlib.md5(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


# ------------------------------------------------------------------------------------ OpenMetadata


@dataclass
class Existing:
    id: str
    name: str
    source_hash: str | None
    deleted: bool


class OpenMetadataSink:
    name = "OpenMetadata"

    def __init__(self, config: Workflow, client: OpenMetadataClient):
        self.config = config
        self.service = config.source.serviceName
        self.client = client
        self.batch_size = config.sink.config.bulk_sink_batch_size or 100  # type: ignore[union-attr]
        self.override = str(config.source_options.overrideMetadata).lower()
        self.use_bulk = True
        self.existing: dict[str, Existing] = {}

    def open(self) -> list[str]:
        """Check the server, ensure the service exists, and learn what it already holds."""
        warnings = tls_warnings(self.config.openmetadata)
        try:
            version = self.client.server_version()
            warning = version_warning(version) if self.config.openmetadata.enableVersionValidation else None
            if warning:
                warnings.append(warning)
            if self.client.get_service(self.service) is None:
                self.client.put("/services/mlmodelServices", self._service_request())
            self.existing = self._existing_models()
        except (ApiError, OSError, ValueError) as exc:
            raise describe_failure(exc, self.config.openmetadata) from None
        return warnings

    def _service_request(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.service, "serviceType": "Mlflow"}
        if self.config.openmetadata.storeServiceConnection:
            mlflow = self.config.mlflow
            body["connection"] = {"config": {
                "type": "Mlflow",
                "trackingUri": mlflow.trackingUri,
                "registryUri": mlflow.effective_registry_uri,
                "supportsMetadataExtraction": True,
            }}
        return body

    def _existing_models(self) -> dict[str, Existing]:
        found: dict[str, Existing] = {}
        after = None
        while True:
            params: dict[str, Any] = {"service": self.service, "limit": 1000, "include": "all"}
            if after:
                params["after"] = after
            page = self.client.get("/mlmodels", **params) or {}
            for entity in page.get("data", []):
                fqn = entity.get("fullyQualifiedName") or model_fqn(self.service, entity["name"])
                found[fqn] = Existing(entity["id"], entity["name"], entity.get("sourceHash"), bool(entity.get("deleted")))
            after = (page.get("paging") or {}).get("after")
            if not after:
                return found

    def write(self, batch: list[BuiltModel]) -> list[SinkResult]:
        results: list[SinkResult] = []
        to_send: list[dict[str, Any]] = []
        for built in batch:
            request = dict(built.request)
            request["sourceHash"] = source_hash(request)
            known = self.existing.get(model_fqn(self.service, built.name))
            if known and not known.deleted and known.source_hash == request["sourceHash"]:
                results.append(SinkResult(built.name, "unchanged"))
            else:
                to_send.append(request)
        if to_send:
            results += self._send(to_send)
        return results

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

    def _rejected_names(self, answer: dict[str, Any]) -> set[str]:
        names = set()
        for item in answer.get("failedRequest") or []:
            request = item.get("request")
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
        seen_fqns = {model_fqn(self.service, name) for name in seen}
        stale = [e for fqn, e in self.existing.items() if not e.deleted and fqn not in seen_fqns]
        if not stale or not seen_fqns:
            return []
        try:
            return self._delete_stale(seen_fqns, stale)
        except (ApiError, OSError, ValueError) as exc:
            raise describe_failure(exc, self.config.openmetadata) from None

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
        self.client.close()
        return []


def version_warning(version: str) -> str | None:
    try:
        major, minor = (int(p) for p in version.split(".")[:2])
    except ValueError:
        return f"OpenMetadata reports an unreadable version {version!r}; continuing"
    if (major, minor) != SUPPORTED_SERVER:
        expected = ".".join(map(str, SUPPORTED_SERVER))
        return f"OpenMetadata server is {version}, this tool speaks the {expected}.x API; continuing, but check the results"
    return None


def _name_from_fqn(fqn: str, service: str) -> str:
    prefix = quote_fqn_part(service) + "."
    name = fqn[len(prefix):] if fqn.startswith(prefix) else fqn
    return name[1:-1] if len(name) > 1 and name.startswith('"') and name.endswith('"') else name


# -------------------------------------------------------------------------------------------- file


OPEN_TEMP_FILES: set[str] = set()
"""The file sinks' temp files not yet renamed or removed, for a process that must end at once."""


def discard_temp_files() -> None:
    """Remove the temp files of file sinks still open: a run quit at once leaves its output as it was."""
    for path in list(OPEN_TEMP_FILES):
        with suppress(OSError):
            os.unlink(path)


class FileSink:
    """JSON Lines of the create requests, written to a temp file and renamed into place at the end.

    The file is replaced only by a run that completed and wrote every model: after a cancel, a
    failed listing or a failed write (a full disk), the last good output stays as it was.
    """

    name = "File sink"
    batch_size = 100

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._handle: Any = None
        self._temp: str | None = None
        self._write_error: str | None = None

    def open(self) -> list[str]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, self._temp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        except OSError as exc:
            raise EndpointError(f"cannot write to {self.path}: {exc.strerror}",
                                hint="choose a sink.config.filename in a folder you can write to") from None
        self._handle = os.fdopen(fd, "w", encoding="utf-8")
        OPEN_TEMP_FILES.add(self._temp)
        return []

    def write(self, batch: list[BuiltModel]) -> list[SinkResult]:
        with self._lock:
            try:
                for built in batch:
                    request = dict(built.request)
                    request["sourceHash"] = source_hash(request)
                    self._handle.write(json.dumps(request, ensure_ascii=False) + "\n")
            except OSError as exc:
                self._write_error = exc.strerror or str(exc)
                raise
        return [SinkResult(b.name, "written") for b in batch]

    def mark_deleted(self, seen: set[str]) -> list[str]:
        return []

    def close(self, complete: bool) -> list[str]:
        """Put the new file in place, or drop it and say why the old one was kept (an error when the
        models could not be written, a warning when the run did not complete)."""
        if self._handle is None:
            return []
        handle, self._handle = self._handle, None
        problem = None if complete else "the run did not complete"
        try:
            handle.flush()
            os.fsync(handle.fileno())
        except OSError as exc:
            self._write_error = exc.strerror or str(exc)
        finally:
            try:
                handle.close()
            except OSError as exc:
                self._write_error = self._write_error or exc.strerror or str(exc)
        OPEN_TEMP_FILES.discard(self._temp)
        if problem or self._write_error:
            os.unlink(self._temp)
        if self._write_error:
            raise EndpointError(f"writing {self.path} failed ({self._write_error}), so the file was left as it was",
                                hint="free some space or choose another sink.config.filename, then run again")
        if problem:
            return [f"{problem}, so {self.path} was left as it was"]
        os.chmod(self._temp, 0o644)
        os.replace(self._temp, self.path)
        return []


def describe_sink(config: Workflow) -> str:
    if isinstance(config.sink, FileSinkConfig):
        return f"file {config.sink.config.filename}"
    return redact_uri(config.openmetadata.hostPort)
