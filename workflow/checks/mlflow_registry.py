"""The model registry, as the listing and artifact steps see it: read over HTTP from an MLflow
server, from its database (read-only), or through MLflow's client for the stores only it can read."""
from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol

from .mlflow_client import ClientStore
from .mlflow_http import DOWNLOAD_URI, SEARCH_MODELS, MlflowHttp

if TYPE_CHECKING:
    from ..registry.database import DatabaseRegistry

LISTED_MODELS = 100
"""GetModels reads the first page of registered models, at MLflow's default page size, as the official step."""


@dataclass(frozen=True)
class Version:
    model: str
    version: str


class Registry(Protocol):
    """What the listing and artifact steps need from a model registry, however it is reached."""

    def list_models(self) -> list[tuple[str, str | None]]:
        """The first page of registered models: (name, highest version number or None)."""

    def download_uri(self, version: Version) -> str: ...


class HttpRegistry:
    def __init__(self, http: MlflowHttp):
        self.http = http

    def list_models(self) -> list[tuple[str, str | None]]:
        data = self.http.answer(SEARCH_MODELS, "list registered models", max_results=LISTED_MODELS)
        return [(m.get("name", "?"), _highest([v.get("version") for v in m.get("latest_versions") or []]))
                for m in data.get("registered_models") or []]

    def download_uri(self, version: Version) -> str:
        data = self.http.answer(DOWNLOAD_URI, f"locate the artifacts of {version.model!r} version {version.version}",
                                name=version.model, version=version.version)
        return str(data.get("artifact_uri") or "")


class ClientRegistry:
    def __init__(self, store: ClientStore):
        self.store = store

    def list_models(self) -> list[tuple[str, str | None]]:
        page = self.store.call("list registered models",
                               lambda client: client.search_registered_models(max_results=LISTED_MODELS))
        return [(m.name, _highest([v.version for v in m.latest_versions or []])) for m in page]

    def download_uri(self, version: Version) -> str:
        return str(self.store.call(f"locate the artifacts of {version.model!r} version {version.version}",
                                   lambda client: client.get_model_version_download_uri(version.model, version.version)))


class DatabaseCheckRegistry:
    """An MLflow database, opened read-only for each step and closed after it."""

    def __init__(self, open_database: Callable[[], DatabaseRegistry]):
        self.open_database = open_database

    def list_models(self) -> list[tuple[str, str | None]]:
        with closing(self.open_database()) as database:
            return database.list_models(LISTED_MODELS)

    def download_uri(self, version: Version) -> str:
        with closing(self.open_database()) as database:
            found = next((v for v in database.versions(version.model) if v.version == version.version), None)
            return database.artifact_location(found) if found else ""


def _highest(versions: list[Any]) -> str | None:
    numbers = [int(v) for v in versions if str(v).isdigit()]
    return str(max(numbers)) if numbers else None
