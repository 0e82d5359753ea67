"""How the stand-in answers one request, in the order the real stack does: record it, meet an injected
fault, a forced status, the UI's HTML, authentication, then the route table and the handler's JSON."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable
from urllib.parse import parse_qs, unquote

from tests.support.om_standin.faults import Fault
from tests.support.om_standin.http_server import Response
from tests.support.om_standin.request_log import RecordedRequest
from tests.support.om_standin.schema import HTML_NOT_FOUND, HTML_ROOT_PAGE, ApiError


@dataclass
class ApiRequest:
    """What a route handler sees; ``json()`` applies the server's body rules."""

    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    malformed: bool
    has_body: bool
    fault: Fault | None = None

    def json(self) -> Any:
        """The parsed body; 415 without a JSON content type, 400 when missing or malformed."""
        content_type = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if self.has_body and content_type != "application/json":
            raise ApiError(415, "HTTP 415 Unsupported Media Type")
        if self.malformed:
            raise ApiError(400, "Unable to process JSON")
        if not self.has_body:
            raise ApiError(400, "[request body must not be null]")
        return self.body


class Routing:
    """Dispatch for the stand-in: its settings (token, prefix, forced statuses) and its route handlers."""

    token: str | None
    token_validator: Callable[[str], bool] | None
    api_prefix: str
    html_root: bool
    status_override: dict[tuple[str, str], int]
    requests: list[RecordedRequest]
    _lock: threading.RLock
    _routes: list[tuple[str, re.Pattern, Callable]]

    def _dispatch(self, method: str, raw_target: str, headers: dict[str, str], raw_body: bytes) -> Response:
        """Record, then answer: an injected error status, or the server's own answer (maybe late or cut)."""
        path, _, query_string = raw_target.partition("?")
        query = {k: v[0] for k, v in parse_qs(query_string, keep_blank_values=True).items()}
        body, malformed = self._parse_body(raw_body)
        with self._lock:
            fault = self._take_fault(method, path)
            self.requests.append(RecordedRequest(method, path, query, headers, body, fault, time.monotonic()))
        request = ApiRequest(query, headers, body, malformed, bool(raw_body.strip()), fault)
        if fault is None:
            return self._answer(method, path, request)
        response = self._fault_answer(fault) if fault.status is not None else self._answer(method, path, request)
        return replace(response, delay=fault.delay, reset=fault.reset)

    def _answer(self, method: str, path: str, request: ApiRequest) -> Response:
        """Answer in the order the real stack does: proxy, UI, auth, route, body."""
        forced = self._forced_status(method, path)
        if forced is not None:
            return Response.error(forced, "forced")
        if self.html_root:
            return Response(200, "text/html; charset=utf-8", HTML_ROOT_PAGE)
        if not self._is_api_path(path):
            return Response(404, "text/html; charset=utf-8", HTML_NOT_FOUND)
        try:
            self._check_auth(request.headers)
            handler, args = self._route(method, path[len(self.api_prefix):])
            with self._lock:
                status, payload = handler(request, *args)
            return Response.json(status, payload)
        except ApiError as err:
            return Response.error(err.status, err.message)
        except Exception as exc:  # a bug in the stand-in should look like a server 500, not hang
            return Response.error(500, f"stand-in error: {type(exc).__name__}: {exc}")

    @staticmethod
    def _parse_body(raw: bytes) -> tuple[Any, bool]:
        if not raw.strip():
            return None, False
        try:
            return json.loads(raw.decode("utf-8")), False
        except (UnicodeDecodeError, ValueError):
            return None, True

    def _forced_status(self, method: str, path: str) -> int | None:
        with self._lock:
            overrides = list(self.status_override.items())
        for (m, suffix), status in overrides:
            if m.upper() == method and (path.endswith(suffix) or unquote(path).endswith(suffix)):
                return status
        return None

    def _is_api_path(self, path: str) -> bool:
        return not self.api_prefix or path == self.api_prefix or path.startswith(self.api_prefix + "/")

    def _check_auth(self, headers: dict[str, str]) -> None:
        """401 unless ``Authorization: Bearer <token>`` is valid (only when auth is configured)."""
        if self.token is None and self.token_validator is None:
            return
        scheme, _, presented = headers.get("authorization", "").partition(" ")
        presented = presented.strip()
        if scheme.lower() != "bearer" or not presented:
            raise ApiError(401, "Not Authorized! Token not present")
        valid = self.token_validator(presented) if self.token_validator else presented == self.token
        if not valid:
            raise ApiError(401, "Not Authorized! Invalid token")

    def _build_routes(self) -> list[tuple[str, re.Pattern, Callable]]:
        """(method, pattern on the percent-encoded path below the prefix, handler); first match wins."""
        table = [
            ("GET", r"/v1/system/version", self._get_version),
            ("GET", r"/v1/services/testConnectionDefinitions/name/([^/]+)", self._get_test_connection_definition),
            ("GET", r"/v1/services/mlmodelServices/name/([^/]+)", self._get_service_by_name),
            ("PUT", r"/v1/services/mlmodelServices", self._put_service),
            ("GET", r"/v1/services/ingestionPipelines/name/([^/]+)", self._get_pipeline_by_name),
            ("PUT", r"/v1/services/ingestionPipelines", self._put_pipeline),
            ("PUT", r"/v1/services/ingestionPipelines/([^/]+)/pipelineStatus", self._put_pipeline_status),
            ("GET", r"/v1/services/ingestionPipelines/([^/]+)/pipelineStatus/([^/]+)", self._get_pipeline_status),
            ("PUT", r"/v1/mlmodels", self._put_model),
            ("PUT", r"/v1/mlmodels/bulk", self._put_models_bulk),
            ("GET", r"/v1/mlmodels", self._list_models),
            ("GET", r"/v1/mlmodels/name/([^/]+)", self._get_model_by_name),
            ("GET", r"/v1/mlmodels/([^/]+)", self._get_model_by_id),
            ("DELETE", r"/v1/mlmodels/deleteStale", self._delete_stale),
            ("DELETE", r"/v1/mlmodels/([^/]+)", self._delete_model),
        ]
        return [(m, re.compile(p + r"\Z"), h) for m, p, h in table]

    def _route(self, method: str, api_path: str) -> tuple[Callable, tuple[str, ...]]:
        for route_method, pattern, handler in self._routes:
            match = pattern.match(api_path)
            if route_method == method and match:
                return handler, tuple(unquote(g) for g in match.groups())
        raise ApiError(404, "HTTP 404 Not Found")
