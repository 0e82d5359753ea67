"""Reading an MLflow registry (and runs) straight from its database, read-only.

A `registryUri` such as `mysql+pymysql://mlflow:...@db:3306/mlflow` names the database behind an
MLflow server. MLflow's own client would open it with its SQLAlchemy store, which creates or
upgrades MLflow's tables on the way in: a check or an ingestion would change the store it reads.
This reader never does. It runs SELECTs only, each in a transaction the database itself holds to
read-only (`SET SESSION TRANSACTION READ ONLY` on MySQL and MariaDB, `SET SESSION CHARACTERISTICS AS
TRANSACTION READ ONLY` on PostgreSQL, `mode=ro` for SQLite), so even a user granted more than
SELECT writes nothing. It does not import mlflow: SQLAlchemy Core and the database's driver only.

Which MLflow wrote the schema is read from `alembic_version`: every schema since MLflow 2.0 is
known (`SCHEMA_REVISIONS`, MLflow's own migration chain) and read with the columns it has; a newer
or unknown schema is refused by name rather than guessed at, and a database without MLflow's
tables is said to hold no registry.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import unquote, urlsplit

from sqlalchemy import Select, TableClause, column, select, table
from sqlalchemy.exc import SQLAlchemyError

from ..document.redact import redact_uri
from ..errors import EndpointError
from .database_drivers import database_failure, failure_reason, postgres_driver, require_driver
from .records import Page, ReadError, RegisteredModel, Run, Version

SCHEMA_REVISIONS = (
    # MLflow 2.0 (also the last 1.x releases)
    "97727af70f4d",
    "3500859a5d39",  # 2.3: model aliases
    "7f2a7d5fae7d", "2d6e25af4d3e", "acf3f17fdcc7", "867495a8f9d4", "5b0e9adcef9c", "4465047574b1",
    "f5a4f2784254",
    "0584bdc529eb",  # 2.20 to 2.22
    "400f98739977",  # 3.0: logged models
    "6953534de441", "bda7b8c39065", "cbc13b556ace", "770bee3ae1dd", "a1b2c3d4e5f6", "de4033877273",
    "1a0cddfcaa16", "534353b11cbc", "71994744cf8e", "3da73c924c2f", "bf29a5ff90ea", "1bd49d398cd23",
    "b7c8d9e0f1a2", "5d2d30f0abce", "c9d4e5f6a7b8", "2c33131f4dae", "d3e4f5a6b7c8", "d0e1f2a3b4c5",
    "c8d9e0f1a2b3",
    "1b5f0d9ad7c1",  # workspaces: every registry table gets a `workspace` column
    "e1f2a3b4c5d6", "76601a5f987d", "c3d6457b6d8a", "a5b4c3d2e1f0", "ae8bbe7743c9", "7d34483879f0",
    "da6fb0208061", "89d3d66ed43f", "b7e4c1a90f23", "a8b9c0d1e2f3", "c1d2e3f4a5b6", "c3d9e7f1a2b4",
    "6f8d9c3b2a1e", "1971f2d9a75b", "17e22815139b", "b7e2c1a4d9f3", "75868b020152",
    "dc11669786a5",  # 3.17
)
"""MLflow's alembic revisions from 2.0 on, oldest first (its chain is linear). The registry tables
this reader uses are the same along it but for the two columns that mark a change below."""

OLDER_REVISIONS = (
    "451aebb31d03", "90e64c465722", "181f10493468", "df50e92ffc5e", "7ac759974ad8", "89d4b8295536",
    "2b4d017a5e9b", "cfd24bdc0731", "0a8213491aaa", "728d730b5ebd", "27a6a02d2cf1", "84291f40a231",
    "a8c4a736bde6", "39d1c3be5f05", "c48cb773bb87", "bd07f7e963c5", "0c779009ac13", "cc1f77228345",
)
"""The MLflow 1.x revisions before 2.0's: known, and refused as too old."""

SUPPORTED = f"MLflow 2.0 to 3.17 (alembic revisions {SCHEMA_REVISIONS[0]} to {SCHEMA_REVISIONS[-1]})"
LOGGED_MODELS_FROM = SCHEMA_REVISIONS.index("400f98739977")
WORKSPACES_FROM = SCHEMA_REVISIONS.index("1b5f0d9ad7c1")
DEFAULT_WORKSPACE = "default"
"""Where MLflow keeps everything when workspaces are off, and what its server lists without one."""

DELETED_STAGE = "Deleted_Internal"
"""MLflow's mark for a model version deleted but not yet purged: not listed by its API."""

CONNECT_TIMEOUT = 2
READ_TIMEOUT = 30
OPEN_DEADLINE = 5.0
"""Seconds for the first connection, whatever the driver does (a host name that never resolves)."""


@dataclass(frozen=True)
class Schema:
    """What an MLflow database holds, by the alembic revision that MLflow stamped on it."""

    revision: str

    @property
    def position(self) -> int:
        return SCHEMA_REVISIONS.index(self.revision)

    @property
    def has_workspaces(self) -> bool:
        return self.position >= WORKSPACES_FROM

    @property
    def has_logged_models(self) -> bool:
        return self.position >= LOGGED_MODELS_FROM


class DatabaseRegistry:
    """An MLflow database read with SELECTs in read-only transactions; the run's `Registry` reads.

    Opening it connects once and reads the schema's revision, so a wrong password, database or
    host, or a database that holds no MLflow registry, is reported here, by the database's reason.
    """

    def __init__(self, uri: str, *, field: str = "registryUri", pool_size: int = 8,
                 read_timeout: float = READ_TIMEOUT):
        self.uri = uri
        self.field = field
        self.where = redact_uri(uri)
        self.engine = _engine(uri, field, pool_size, read_timeout)
        self.schema = self._open()

    def close(self) -> None:
        self.engine.dispose()

    def round_trip(self) -> float:
        return 0.0  # a few SELECTs per model: no more readers than asked for

    # --------------------------------------------------------------------------------- registry

    def models_page(self, page_size: int, token: str | None) -> Page:
        """Registered models by name, `page_size` at a time; the token is the last name given."""
        models = _table("registered_models", "name", "description", "workspace")
        query = (select(models.c.name, models.c.description).where(models.c.name > (token or ""))
                 .order_by(models.c.name).limit(page_size))
        rows = self._rows(self._in_workspace(query, models), "list the registered models")
        latest = self._latest_versions([row[0] for row in rows])
        page = [RegisteredModel(name, description or None, latest.get(name, ())) for name, description in rows]
        return Page(page, rows[-1][0] if len(rows) == page_size else None)

    def versions(self, name: str) -> Iterator[Version]:
        query = _versions_query().where(MODEL_VERSIONS.c.name == name)
        rows = self._rows(self._in_workspace(query, MODEL_VERSIONS), "list the versions")
        return iter(sorted((_version(row) for row in rows), key=lambda v: int(v.version)))

    def _latest_versions(self, names: list[str]) -> dict[str, tuple[Version, ...]]:
        """Each model's latest version per stage, as MLflow's `latest_versions` has them."""
        if not names:
            return {}
        query = _versions_query().where(MODEL_VERSIONS.c.name.in_(names))
        latest: dict[tuple[str, str], Version] = {}
        for row in self._rows(self._in_workspace(query, MODEL_VERSIONS), "list the latest versions"):
            key = (row[0], row[4])
            if key not in latest or int(row[1]) > int(latest[key].version):
                latest[key] = _version(row)
        by_model: dict[str, list[Version]] = {}
        for (name, _), version in sorted(latest.items(), key=lambda item: int(item[1].version)):
            by_model.setdefault(name, []).append(version)
        return {name: tuple(versions) for name, versions in by_model.items()}

    # ---------------------------------------------------------------------------------- tracking

    def run(self, run_id: str) -> Run:
        what = f"read run {run_id}"
        runs = _table("runs", "run_uuid", "artifact_uri")
        found = self._rows(select(runs.c.artifact_uri).where(runs.c.run_uuid == run_id), what)
        if not found:
            raise ReadError(f"RESOURCE_DOES_NOT_EXIST: Run with id={run_id} not found")
        params, tags = (_table(name, "key", "value", "run_uuid") for name in ("params", "tags"))
        values = [self._rows(select(t.c.key, t.c.value).where(t.c.run_uuid == run_id).order_by(t.c.key), what)
                  for t in (params, tags)]
        return Run({k: str(v or "") for k, v in values[0]}, {k: v or "" for k, v in values[1]}, found[0][0])

    def runs(self, run_ids: list[str]) -> dict[str, Run]:
        """None at once: each run is read on its own (`run`), a few SELECTs on a pooled connection."""
        return {}

    def artifact_location(self, version: Version) -> str:
        """Where a version's files are: its source, or its logged model's folder for `models:/<id>`."""
        source = version.source or ""
        if source.startswith("models:/") and self.schema.has_logged_models:
            model_id = source[len("models:/"):].split("/")[0]
            logged = _table("logged_models", "model_id", "artifact_location")
            rows = self._rows(select(logged.c.artifact_location).where(logged.c.model_id == model_id),
                              f"find logged model {model_id}")
            if rows:
                return str(rows[0][0])
        return source

    def mlmodel_text(self, version: Version, run: Run | None = None) -> str | None:
        """The MLmodel file from a folder on this machine; None when it has none. Files in a cloud
        store are fetched by MLflow's artifact repositories (imported only then)."""
        location = self.artifact_location(version).rstrip("/")
        parts = urlsplit(location)
        if parts.scheme in ("", "file"):
            path = Path(unquote(parts.path)) / "MLmodel"
            return path.read_text(encoding="utf-8") if path.is_file() else None
        if parts.scheme == "mlflow-artifacts":
            raise ReadError(f"the MLmodel file is served by an MLflow server ({location}): set trackingUri to "
                            "that server to read it")
        return _download_mlmodel(location)

    # ----------------------------------------------------------------------------------- queries

    def _in_workspace(self, query: Select, table: TableClause) -> Select:
        return query.where(table.c.workspace == DEFAULT_WORKSPACE) if self.schema.has_workspaces else query

    def _rows(self, query: Select, what: str) -> list[tuple[Any, ...]]:
        try:
            with self.engine.connect() as connection:
                return [tuple(row) for row in connection.execute(query)]
        except SQLAlchemyError as exc:
            failure = database_failure(exc, self.where, self.field)
            raise ReadError(f"could not {what}: {failure.message}", unreachable=_is_transport(exc)) from None

    def _open(self) -> Schema:
        """Connect and read the schema's revision; `EndpointError` naming the cause otherwise."""
        alembic = _table("alembic_version", "version_num")

        def read() -> list[Any]:
            with self.engine.connect() as connection:
                try:
                    return [row[0] for row in connection.execute(select(alembic.c.version_num))]
                except SQLAlchemyError as exc:
                    if _missing_table(exc):
                        return []
                    raise

        try:
            revisions = _within(OPEN_DEADLINE, read, self.where)
        except SQLAlchemyError as exc:
            self.engine.dispose()
            raise database_failure(exc, self.where, self.field) from None
        return self._schema(revisions)

    def _schema(self, revisions: list[Any]) -> Schema:
        database = _database_name(self.uri)
        if not revisions:
            self.engine.dispose()
            raise EndpointError(f"database {database} holds no MLflow registry (no alembic_version table: "
                                f"{self.where})", hint=f"check the database name in {self.field}: "
                                "it must be the database of an MLflow tracking server")
        revision = str(revisions[0])
        if revision in SCHEMA_REVISIONS:
            return Schema(revision)
        self.engine.dispose()
        if revision in OLDER_REVISIONS:
            raise EndpointError(f"database {database} holds an MLflow registry older than MLflow 2.0 "
                                f"(alembic revision {revision}); supported: {SUPPORTED}",
                                hint="upgrade that MLflow server (`mlflow db upgrade`), or read the registry "
                                     f"through the server: set {self.field} to its http:// URL")
        raise EndpointError(f"database {database} holds an MLflow schema this tool does not know (alembic "
                            f"revision {revision}, newer than it or not MLflow's); supported: {SUPPORTED}",
                            hint="upgrade mlflow-om-workflow, or read the registry through its MLflow server: "
                                 f"set {self.field} to its http:// URL")


# ------------------------------------------------------------------------------------- tables


def _table(name: str, *columns: str) -> TableClause:
    """A table by name with the columns a query uses: the dialect quotes them (`key` is reserved)."""
    return table(name, *(column(c) for c in columns))


MODEL_VERSIONS = _table("model_versions", "name", "version", "run_id", "source", "current_stage", "workspace")


def _versions_query() -> Select:
    """Versions as (name, version, run_id, source, stage), without those MLflow marks deleted."""
    mv = MODEL_VERSIONS.c
    return select(mv.name, mv.version, mv.run_id, mv.source, mv.current_stage).where(mv.current_stage != DELETED_STAGE)


# ------------------------------------------------------------------------------------- engine


def _engine(uri: str, field: str, pool_size: int, read_timeout: float) -> Any:
    """A SQLAlchemy engine whose every connection is read-only from its first statement."""
    dialect, _, driver = urlsplit(uri).scheme.lower().partition("+")
    require_driver(uri, field)
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(uri)
    except ArgumentError as exc:
        raise EndpointError(f"{field} {redact_uri(uri)!r} is not a database URL: {exc}",
                            hint="use dialect+driver://user:password@host:port/database") from None
    if dialect == "postgresql" and not driver:  # SQLAlchemy's default changed from psycopg2 to psycopg in 2.1
        driver = postgres_driver()
        url = url.set(drivername=f"postgresql+{driver}")
    options: dict[str, Any] = {"pool_pre_ping": False}
    if dialect == "sqlite":
        path = url.database or ""
        if not path or path == ":memory:" or not Path(path).is_file():
            raise EndpointError(f"{field}: there is no SQLite database at {path or '(none)'}",
                                hint=f"check {field}: it must name the database file of your MLflow store")
        options["creator"] = lambda: _sqlite_read_only(path)
    else:
        options.update(pool_size=pool_size, max_overflow=0, connect_args=_connect_args(dialect, driver, read_timeout))
    engine = create_engine(url, **options)
    statement = READ_ONLY_SESSION.get(dialect)
    if statement:
        event.listen(engine, "connect", lambda connection, _: _set_session(connection, statement))
    return engine


READ_ONLY_SESSION = {
    "mysql": "SET SESSION TRANSACTION READ ONLY",
    "mariadb": "SET SESSION TRANSACTION READ ONLY",
    "postgresql": "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
}
"""Run on each new connection: every later transaction on it is read-only, enforced by the server.
SQL Server has no such mode: there the reader's SELECTs are its only guarantee."""


def _set_session(connection: Any, statement: str) -> None:
    cursor = connection.cursor()
    try:
        cursor.execute(statement)
    finally:
        cursor.close()
    connection.commit()  # PostgreSQL: a SET inside a transaction that is rolled back would be undone


def _connect_args(dialect: str, driver: str, read_timeout: float) -> dict[str, Any]:
    if dialect in ("mysql", "mariadb") and driver in ("pymysql", "mysqldb", ""):
        return {"connect_timeout": CONNECT_TIMEOUT, "read_timeout": int(read_timeout)}
    if dialect == "postgresql" and driver in ("", "psycopg2", "psycopg"):
        return {"connect_timeout": CONNECT_TIMEOUT, "options": f"-c statement_timeout={int(read_timeout * 1000)}"}
    if dialect == "postgresql" and driver == "pg8000":
        return {"timeout": read_timeout}
    return {}


def _sqlite_read_only(path: str) -> Any:
    import sqlite3
    from urllib.parse import quote

    return sqlite3.connect(f"file:{quote(str(Path(path).resolve()))}?mode=ro", uri=True, check_same_thread=False)


def _within(seconds: float, action: Callable[[], Any], where: str) -> Any:
    from ..net.deadline import within

    try:
        return within(seconds, action)
    except TimeoutError:
        raise EndpointError(f"the database at {where} did not answer within {seconds:.0f} s",
                            hint="check the host and port, and that a firewall lets this machine reach it") from None


# ------------------------------------------------------------------------------------- errors


def _missing_table(exc: BaseException) -> bool:
    text = failure_reason(exc).lower()
    return any(s in text for s in ("doesn't exist", "does not exist", "no such table", "invalid object name"))


def _is_transport(exc: BaseException) -> bool:
    from sqlalchemy.exc import OperationalError

    return isinstance(exc, OperationalError) and not _missing_table(exc)


def _database_name(uri: str) -> str:
    path = urlsplit(uri).path.lstrip("/")
    return repr(unquote(path.split("?")[0])) if path else "(no name)"


def _version(row: tuple[Any, ...]) -> Version:
    return Version(row[0], str(row[1]), row[2] or None, row[3] or None)


def _download_mlmodel(location: str) -> str:
    """The MLmodel file from a cloud store, through MLflow's artifact repositories (they know its
    credentials); no tracking store is opened for it."""
    import tempfile

    try:
        from mlflow.artifacts import download_artifacts

        with tempfile.TemporaryDirectory() as tmp:
            path = download_artifacts(artifact_uri=f"{location}/MLmodel", dst_path=tmp)
            return Path(path).read_text(encoding="utf-8")
    except Exception as exc:  # noqa: BLE001 - MLflow raises many types; each becomes a ReadError
        from ..errors import short_reason

        raise ReadError(short_reason(exc)) from None
