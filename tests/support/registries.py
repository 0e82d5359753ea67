"""MLflow registries in real databases, each created and filled by MLflow itself (2.22 or the
project's 3.x), with a database user granted SELECT only for the reader under test.

- On MariaDB, each release's `mlflow server` keeps its store in a database of its own: the seed's
  shape (an HTTP trackingUri, the registry read from the database behind it).
- On PostgreSQL, each release's client wrote the database directly, artifacts in a local folder:
  trackingUri and registryUri both the database.

Fixtures are session-scoped and started only by the tests that ask for them; a test module uses
them by importing them (`from tests.support.registries import maria_registries, ...`).
"""
from __future__ import annotations

import os
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.support.databases import MariaDB, PostgreSQL, start_mariadb, start_postgresql
from tests.support.mlflow_server import MlflowServer, start_mlflow_server
from tests.support.mlflow_versions import ensure_mlflow2_python

FILL_SCRIPT = Path(__file__).with_name("fill_registry.py")
RELEASES = ("2.22", "3")
OWNER_PASSWORD = "owner-pass-1234"
READER_PASSWORD = "reader-pass-1234"


SEED_DATABASE, SEED_USER, SEED_PASSWORD = "experiments", "mlflow", "password"
"""The seed's registryUri (`mysql+pymysql://mlflow:password@localhost:3307/experiments`): the MLflow
3 registry on MariaDB is that database, read by that user (SELECT only), so the seed's YAML runs
against it with only hosts and ports changed."""


@dataclass
class DatabaseRegistry:
    """One MLflow store in a database: `reader_uri` may only SELECT; `url` is its server, if any."""

    release: str
    server: MariaDB | PostgreSQL
    database: str
    reader_uri: str
    url: str | None = None

    def fingerprint(self) -> dict[str, Any]:
        return fingerprint(self.server, self.database)


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    server = start_mariadb(tmp_path_factory.mktemp("mariadb"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgresql() -> Iterator[PostgreSQL]:
    server = start_postgresql()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mlflow2_python() -> Path:
    return ensure_mlflow2_python()


def release_python(release: str, mlflow2_python: Path) -> Path:
    return mlflow2_python if release == "2.22" else Path(sys.executable)


@pytest.fixture(scope="session")
def maria_registries(mariadb, mlflow2_python, tmp_path_factory) -> Iterator[dict[str, DatabaseRegistry]]:
    """{release: registry} of an `mlflow server` of each release on MariaDB, filled over HTTP."""
    servers: list[MlflowServer] = []
    registries = {}
    try:
        for release in RELEASES:
            database = SEED_DATABASE if release == "3" else f"mlflow_{release.replace('.', '')}"
            reader, password = (SEED_USER, SEED_PASSWORD) if release == "3" else (f"reader{database}", READER_PASSWORD)
            mariadb.create_database(database)
            mariadb.create_user(f"owner{database}", OWNER_PASSWORD, database)
            mariadb.create_user(reader, password, database, privileges="SELECT")
            python = release_python(release, mlflow2_python)
            server = start_mlflow_server(tmp_path_factory.mktemp(f"mlflow-{release}"), python=python,
                                         backend_store_uri=mariadb.uri(f"owner{database}", OWNER_PASSWORD, database))
            servers.append(server)
            fill(python, server.url)
            registries[release] = DatabaseRegistry(release, mariadb, database, mariadb.uri(reader, password, database),
                                                   server.url)
        yield registries
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="session")
def postgres_registries(postgresql, mlflow2_python, tmp_path_factory) -> dict[str, DatabaseRegistry]:
    """{release: registry} written by each release's client straight into PostgreSQL (no server)."""
    registries = {}
    for release in RELEASES:
        database = f"mlflow_{release.replace('.', '')}"
        postgresql.create_database(database)
        postgresql.create_user(f"owner{database}", OWNER_PASSWORD, database)
        artifacts = tmp_path_factory.mktemp(f"pg-artifacts-{release}")
        owner = postgresql.uri(f"owner{database}", OWNER_PASSWORD, database).replace("postgresql:", "postgresql+psycopg2:")
        fill(release_python(release, mlflow2_python), owner, artifacts.as_uri())
        postgresql.create_user(f"reader{database}", READER_PASSWORD, database, privileges="SELECT")
        registries[release] = DatabaseRegistry(release, postgresql, database,
                                               postgresql.uri(f"reader{database}", READER_PASSWORD, database))
    return registries


def fill(python: Path, tracking_uri: str, artifact_location: str | None = None) -> None:
    command = [str(python), str(FILL_SCRIPT), tracking_uri] + ([artifact_location] if artifact_location else [])
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if result.returncode != 0:
        raise RuntimeError(f"filling {tracking_uri} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


# ---------------------------------------------------------------------------------- fingerprints


def fingerprint(server: MariaDB | PostgreSQL, database: str) -> dict[str, Any]:
    """Everything a write would change: tables, columns, indexes, row counts, `alembic_version`."""
    if isinstance(server, MariaDB):
        return _maria_fingerprint(server, database)
    return _postgres_fingerprint(server, database)


def _maria_fingerprint(server: MariaDB, database: str) -> dict[str, Any]:
    with closing(server.admin(database)) as conn, conn.cursor() as cur:
        def rows(sql: str) -> list[tuple]:
            cur.execute(sql, (database,))
            return sorted(cur.fetchall())

        tables = [t for (t,) in rows("SELECT table_name FROM information_schema.tables WHERE table_schema = %s")]
        return {
            "columns": rows("SELECT table_name, column_name, column_type, is_nullable, column_default "
                            "FROM information_schema.columns WHERE table_schema = %s"),
            "indexes": rows("SELECT table_name, index_name, seq_in_index, column_name, non_unique "
                            "FROM information_schema.statistics WHERE table_schema = %s"),
            "rows": {t: _count(cur, f"`{t}`") for t in tables},
            "alembic_version": _alembic(cur, "alembic_version" in tables),
        }


def _postgres_fingerprint(server: PostgreSQL, database: str) -> dict[str, Any]:
    with closing(server.admin(database)) as conn, conn.cursor() as cur:
        def rows(sql: str) -> list[tuple]:
            cur.execute(sql)
            return sorted(cur.fetchall(), key=repr)

        tables = [t for (t,) in rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return {
            "columns": rows("SELECT table_name, column_name, data_type, is_nullable, column_default "
                            "FROM information_schema.columns WHERE table_schema = 'public'"),
            "indexes": rows("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"),
            "rows": {t: _count(cur, f'"{t}"') for t in tables},
            "alembic_version": _alembic(cur, "alembic_version" in tables),
        }


def _count(cur: Any, table: str) -> int:
    cur.execute(f"SELECT COUNT(*) FROM {table}")
    return cur.fetchone()[0]


def _alembic(cur: Any, exists: bool) -> list[str]:
    if not exists:
        return []
    cur.execute("SELECT version_num FROM alembic_version")
    return [row[0] for row in cur.fetchall()]
