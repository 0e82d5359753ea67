"""How an MLflow URI is reached (an HTTP server, a database, a folder, or only MLflow's client), and
what can be checked of a folder or database store without MLflow: it exists, its driver is
installed, its server accepts connections."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from ..errors import EndpointError
from ..registry.database_drivers import require_driver
from .network import check_http_url, tcp_connect
from .steps import Outcome, passed

StoreKind = Literal["http", "database", "folder", "client"]

CLIENT_SCHEMES = ("databricks", "databricks-uc", "uc")
"""Stores reached through MLflow's client only (it knows their credentials and protocols)."""

DEFAULT_DB_PORTS = {"mysql": 3306, "postgresql": 5432, "mssql": 1433}


def store_kind(uri: str, field: str) -> StoreKind:
    """How an MLflow URI is reached; raises for what is not a URI MLflow could open."""
    scheme = urlsplit(uri).scheme.lower()
    if uri.split(":", 1)[0].lower() in CLIENT_SCHEMES:
        return "client"  # a bare `databricks` has no scheme by urlsplit's reading
    if scheme in ("http", "https"):
        check_http_url(uri, field, "http://localhost:5000")
        return "http"
    if scheme.split("+")[0] in ("mysql", "postgresql", "mssql", "sqlite"):
        return "database"
    if scheme in ("", "file"):
        return "folder"
    if re.fullmatch(r"[\w.-]+:\d+(/.*)?", uri):
        raise EndpointError(f"{field} {uri!r} is not a valid URL: it has no scheme",
                            hint=f"did you mean http://{uri}?")
    return "client"  # a plugin's scheme: only MLflow's client knows it


def store_precheck(uri: str, kind: StoreKind, field: str, timeout: float) -> Outcome:
    """What can be checked of a folder or database store without MLflow: it exists, its driver, its port."""
    if kind == "folder":
        parts = urlsplit(uri)
        folder = Path(parts.path if parts.scheme else uri).expanduser()
        if not folder.is_dir():
            raise EndpointError(f"{field}: there is no MLflow store at {folder} (no such folder)",
                                hint=f"check {field}: MLflow would silently create an empty store there")
        return passed(f"the MLflow store folder {folder} exists")
    return _database_reachable(uri, field, timeout)


def _database_reachable(uri: str, field: str, timeout: float) -> Outcome:
    """A database store: its driver is installed and its server accepts connections (or its file exists)."""
    parts = urlsplit(uri)
    dialect = parts.scheme.lower().partition("+")[0]
    module = require_driver(uri, field)
    if dialect == "sqlite":
        return _sqlite_exists(uri, field)
    if not parts.hostname:
        return passed(f"driver {module} is installed (the database address is in the query string: not probed)")
    port = parts.port or DEFAULT_DB_PORTS.get(dialect, 0)
    tcp_connect(f"the {dialect} database", parts.hostname, port, timeout)
    return passed(f"the {dialect} server at {parts.hostname}:{port} accepts connections; driver {module} is installed "
                  "(the login is tried when models are listed)")


def _sqlite_exists(uri: str, field: str) -> Outcome:
    path = uri.split("///", 1)[1] if "///" in uri else ""
    if not path or path.startswith(":memory:"):
        raise EndpointError(f"{field} is an in-memory SQLite database: it holds no models",
                            hint="point it at the database file of your MLflow store")
    if not Path(path).is_file():
        raise EndpointError(f"{field}: there is no SQLite database at {path}",
                            hint=f"check {field}: MLflow would silently create an empty database there")
    return passed(f"the SQLite database {path} exists")
