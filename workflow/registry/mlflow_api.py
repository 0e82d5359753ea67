"""Which reader reads an MLflow registry: its REST API for an HTTP server (`mlflow_rest`), SELECTs
for its database (`database`), MLflow's own client for anything else (`mlflow_client`). Runs and
checks both get theirs here, and differ only in their `ReadPolicy` (how long to wait, how often to
ask again). Every reader gives the same small records (`records`).
"""
from __future__ import annotations

import os
import threading
from typing import Iterator

from ..document.source import MlflowConnection
from .database_drivers import is_database_uri
from .mlflow_client import ClientRegistry
from .mlflow_rest import RestRegistry
from .read_policy import ReadPolicy
from .records import Page, Registry, Run, Version

PAGE_SIZE = 1000  # MLflow's maximum for registered-model searches (its default is 100)


def registry_for(connection: MlflowConnection, *, pool_size: int = 8, stop: threading.Event | None = None,
                 policy: ReadPolicy | None = None) -> Registry:
    """A reader for each side: the registry (models, versions) and tracking (runs, MLmodel files).

    An HTTP server is read over its REST API, a database with SELECTs (`registry.database`), and
    anything else with MLflow's client (also a server when an auth plugin of MLflow's is set: its
    requests must be signed by MLflow's own code). The seed's shape, an HTTP trackingUri with the
    registry in the database behind it, reads each side its own way. `policy` is a run's unless given.
    """
    policy = policy or ReadPolicy.for_run()
    tracking = connection.trackingUri.rstrip("/")
    registry = connection.effective_registry_uri.rstrip("/")
    readers: dict[str, Registry] = {}

    def reader(uri: str, field: str) -> Registry:
        if uri not in readers:
            readers[uri] = _reader(uri, field, connection, pool_size, stop, policy)
        return readers[uri]

    registry_reader = reader(registry, "registryUri")
    try:
        tracking_reader = reader(tracking, "trackingUri")
    except BaseException:
        registry_reader.close()
        raise
    if tracking_reader is registry_reader:
        return registry_reader
    return SplitRegistry(registry_reader, tracking_reader)


def _reader(uri: str, field: str, connection: MlflowConnection, pool_size: int, stop: threading.Event | None,
            policy: ReadPolicy) -> Registry:
    plugin_auth = any(os.environ.get(v) for v in ("MLFLOW_TRACKING_AUTH", "MLFLOW_TRACKING_AWS_SIGV4"))
    if uri.startswith(("http://", "https://")) and not plugin_auth:
        return RestRegistry(uri, policy, pool_size=pool_size, stop=stop)
    if is_database_uri(uri):
        from .database import DatabaseRegistry  # SQLAlchemy and the driver: loaded only for a database

        return DatabaseRegistry(uri, field=field, pool_size=pool_size, read_timeout=policy.read)
    tracking, registry = connection.trackingUri, connection.effective_registry_uri
    if is_database_uri(tracking) or is_database_uri(registry):  # never a database for MLflow's client
        tracking = registry = uri
    return ClientRegistry(tracking, registry, policy, stop=stop)


class SplitRegistry:
    """Models and versions from the registry's reader, runs and MLmodel files from tracking's."""

    def __init__(self, registry: Registry, tracking: Registry):
        self.registry = registry
        self.tracking = tracking

    def round_trip(self) -> float:
        return self.tracking.round_trip()  # the reads per model (runs, MLmodel files) are tracking's

    def models_page(self, page_size: int, token: str | None) -> Page:
        return self.registry.models_page(page_size, token)

    def versions(self, name: str) -> Iterator[Version]:
        return self.registry.versions(name)

    def run(self, run_id: str) -> Run:
        return self.tracking.run(run_id)

    def runs(self, run_ids: list[str]) -> dict[str, Run]:
        return self.tracking.runs(run_ids)

    def mlmodel_text(self, version: Version, run: Run | None = None) -> str | None:
        return self.tracking.mlmodel_text(version, run)

    def close(self) -> None:
        self.registry.close()
        self.tracking.close()
