"""Registries that MLflow 2.22 and 3.x created themselves, in real MariaDB and PostgreSQL servers,
read over HTTP and straight from their databases: the same entities come out of each, and no byte of
any database changes (schema, indexes, rows, `alembic_version`) after `test-connection` or `ingest`.

The reader's database user is granted SELECT only, as the issue asks; the database itself also
holds each of the reader's transactions to read-only (so a user with more rights writes nothing
either: `test_a_user_with_every_right_still_writes_nothing`).
"""
from __future__ import annotations

import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.databases import free_port
from tests.support.om_standin import OpenMetadataStandIn
from tests.support.registries import (  # noqa: F401 - fixtures
    OWNER_PASSWORD, READER_PASSWORD, maria_registries, mariadb, mlflow2_python, postgres_registries, postgresql,
)
from tests.support.registries import SEED_DATABASE, SEED_PASSWORD, SEED_USER
from tests.support.registries import fingerprint as fingerprint_of
from tests.support.workflows import seed_config
from workflow.cli.main import main
from workflow.document.seed import SEED_YAML

pytestmark = pytest.mark.timeout(900)
"""The first test here starts MariaDB, PostgreSQL and two MLflow servers that migrate their databases."""

SERVICE = "local_mlflow"
MODELS = {"churn-classifier", "fraud.detector v2", "two-versions", "deleted-latest", "no-signature-model",
          "modèle-prévision", "empty-model"}


def ingest(config: dict[str, Any], tmp_path: Path, capsys, command: str = "ingest") -> tuple[int, str]:
    path = tmp_path / f"{command}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    code = main([command, "-c", str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def entities(om: OpenMetadataStandIn) -> dict[str, dict[str, Any]]:
    """The models as stored, by name, without what the server adds (ids, versions, times)."""
    keep = ("name", "description", "algorithm", "mlFeatures", "mlHyperParameters", "mlStore", "sourceUrl")
    return {m["name"]: {k: m.get(k) for k in keep} for m in om.models.values()}


def comparable(models: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What must be equal across MLflow releases and stores: all but the run-specific store and the
    link, with hyper-parameters in name order (a server lists a run's params in its database's order)."""
    return {name: {**{k: v for k, v in m.items() if k not in ("mlStore", "sourceUrl")},
                   "mlHyperParameters": sorted(m["mlHyperParameters"] or (), key=lambda p: p["name"])}
            for name, m in models.items()}


def ingest_into_standin(config_for, tmp_path, capsys) -> dict[str, dict[str, Any]]:
    with OpenMetadataStandIn() as om:
        code, output = ingest(config_for(om.url), tmp_path, capsys)
        assert code == 0, output
        assert "Traceback" not in output
        return entities(om)


# ------------------------------------------------------------------------------------------ MariaDB


@pytest.mark.parametrize("release", ["2.22", "3"])
def test_seed_shape_reads_the_mariadb_registry_as_the_server_serves_it(maria_registries, release, tmp_path, capsys):
    """HTTP trackingUri + the registry read from MariaDB with a SELECT-only user: the entities are
    exactly those read over HTTP, and the database is unchanged by the check and the run."""
    registry = maria_registries[release]
    before = registry.fingerprint()
    over_http = ingest_into_standin(lambda om_url: seed_config(registry.url, om_url), tmp_path, capsys)
    seed_shape = lambda om_url: seed_config(registry.url, om_url, **{  # noqa: E731
        "source.serviceConnection.config.registryUri": registry.reader_uri})
    with OpenMetadataStandIn() as om:
        code, output = ingest(seed_shape(om.url), tmp_path, capsys, "test-connection")
    assert code == 0, output
    from_database = ingest_into_standin(seed_shape, tmp_path, capsys)

    assert set(over_http) == MODELS
    assert from_database == over_http
    assert over_http["churn-classifier"]["mlFeatures"] == [
        {"name": "age", "dataType": "numerical"}, {"name": "city", "dataType": "categorical"},
        {"name": "income", "dataType": "numerical"}]
    assert {p["name"]: p["value"] for p in over_http["deleted-latest"]["mlHyperParameters"]} == {"which": "v1"}
    assert {p["name"]: p["value"] for p in over_http["two-versions"]["mlHyperParameters"]} == {"which": "v2"}
    assert registry.fingerprint() == before


def test_mlflow_2_and_3_servers_give_the_same_entities(maria_registries, tmp_path, capsys):
    found = {release: comparable(ingest_into_standin(lambda om_url: seed_config(registry.url, om_url), tmp_path, capsys))
             for release, registry in maria_registries.items()}
    assert found["2.22"] == found["3"]
    assert set(found["3"]) == MODELS


# --------------------------------------------------------------------------------------- PostgreSQL


@pytest.mark.parametrize("release", ["2.22", "3"])
def test_postgres_registry_and_runs_read_from_the_database_alone(postgres_registries, maria_registries, release,
                                                                  tmp_path, capsys):
    """trackingUri = registryUri = PostgreSQL (artifacts in a local folder): the same entities as the
    MLflow server of the same release gives over HTTP; the database is unchanged."""
    registry = postgres_registries[release]
    before = registry.fingerprint()
    config = lambda om_url: seed_config(registry.reader_uri, om_url)  # noqa: E731
    with OpenMetadataStandIn() as om:
        code, output = ingest(config(om.url), tmp_path, capsys, "test-connection")
    assert code == 0, output
    found = ingest_into_standin(config, tmp_path, capsys)
    over_http = ingest_into_standin(lambda om_url: seed_config(maria_registries[release].url, om_url), tmp_path, capsys)
    assert comparable(found) == comparable(over_http)
    assert found["churn-classifier"]["mlStore"]["storage"].startswith("file://")
    assert registry.fingerprint() == before


def test_a_user_with_every_right_still_writes_nothing(maria_registries, mariadb, tmp_path, capsys):
    """The owner of the MLflow database (every right, as MLflow's server has) reads through sessions
    the server holds read-only: `test-connection` and `ingest` leave the database as they found it."""
    registry = maria_registries["3"]
    before = registry.fingerprint()
    owner = mariadb.uri(f"owner{registry.database}", OWNER_PASSWORD, registry.database)
    config = lambda om_url: seed_config(registry.url, om_url, **{  # noqa: E731
        "source.serviceConnection.config.registryUri": owner})
    with OpenMetadataStandIn() as om:
        code, output = ingest(config(om.url), tmp_path, capsys, "test-connection")
    assert code == 0, output
    assert set(ingest_into_standin(config, tmp_path, capsys)) == MODELS
    assert registry.fingerprint() == before


# ------------------------------------------------------------------------------ not an MLflow registry


@pytest.mark.parametrize("engine", ["mariadb", "postgresql"])
def test_an_empty_database_holds_no_registry_and_stays_empty(engine, request, tmp_path, capsys):
    server = request.getfixturevalue(engine)
    database = f"empty_{tmp_path.name[-12:].replace('-', '_').lower()}"
    server.create_database(database)
    server.create_user("emptyowner", OWNER_PASSWORD, database)
    before = fingerprint_of(server, database)
    uri = server.uri("emptyowner", OWNER_PASSWORD, database)
    with OpenMetadataStandIn() as om:
        code, output = ingest(seed_config(uri, om.url), tmp_path, capsys, "test-connection")
        run_code, run_output = ingest(seed_config(uri, om.url), tmp_path, capsys)
    assert code == 1 and run_code == 1
    for text in (output, run_output):
        assert f"database '{database}' holds no MLflow registry" in text
        assert OWNER_PASSWORD not in text and "Traceback" not in text
    assert fingerprint_of(server, database) == before == {"columns": [], "indexes": [], "rows": {}, "alembic_version": []}


@pytest.mark.parametrize("revision, says", [
    ("ffffffffffff", "holds an MLflow schema this tool does not know (alembic revision ffffffffffff"),
    ("cc1f77228345", "holds an MLflow registry older than MLflow 2.0 (alembic revision cc1f77228345)"),
])
def test_an_unknown_or_older_schema_is_refused_by_name(mariadb, revision, says, tmp_path, capsys):
    database = f"rev_{revision}"
    mariadb.create_database(database)
    with closing(mariadb.admin(database)) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        cur.execute("INSERT INTO alembic_version VALUES (%s)", (revision,))
    mariadb.create_user("revreader", READER_PASSWORD, database, privileges="SELECT")
    with OpenMetadataStandIn() as om:
        code, output = ingest(seed_config(mariadb.uri("revreader", READER_PASSWORD, database), om.url), tmp_path, capsys,
                              "test-connection")
    assert code == 1
    assert f"database '{database}' {says}" in output
    assert "supported: MLflow 2.0 to 3.17 (alembic revisions 97727af70f4d to dc11669786a5)" in output


def test_the_known_schemas_are_mlflows_own_migration_chain():
    """SCHEMA_REVISIONS + OLDER_REVISIONS is the chain of the installed MLflow's migrations, in order:
    a new MLflow release with a new revision shows here first."""
    import re

    from importlib.util import find_spec

    from workflow.registry.database import OLDER_REVISIONS, SCHEMA_REVISIONS

    versions = Path(find_spec("mlflow").submodule_search_locations[0]) / "store" / "db_migrations" / "versions"
    down = {}
    for script in versions.glob("*.py"):
        text = script.read_text()
        revision = re.search(r'^revision = "(\w+)"', text, re.M)
        if revision:
            down[revision.group(1)] = re.search(r'^down_revision = (?:"(\w+)"|None)', text, re.M).group(1)
    up = {parent: child for child, parent in down.items()}
    chain, current = [], None
    while current in up:
        current = up[current]
        chain.append(current)
    assert tuple(chain) == OLDER_REVISIONS + SCHEMA_REVISIONS


# ------------------------------------------------------------------------------------- errors, fast


def database_errors(mariadb, postgresql) -> dict[str, tuple[str, str, str]]:
    """name -> (registryUri, what the message says, what the fix says)."""
    database = "errors_db"
    for server in (mariadb, postgresql):
        server.create_database(database)
        server.create_user("erruser", OWNER_PASSWORD, database)
    postgresql.require_tls_for("tlsuser")
    postgresql.create_user("tlsuser", OWNER_PASSWORD, database)
    closed_port = free_port()
    return {
        "mariadb-access-denied": (mariadb.uri("erruser", "wrong-pass-1234", database),
                                  "(1045) Access denied for user 'erruser'", "check the user and password in registryUri"),
        "postgres-access-denied": (postgresql.uri("erruser", "wrong-pass-1234", database),
                                   'password authentication failed for user "erruser"', "check the user and password"),
        "mariadb-unknown-database": (mariadb.uri("erruser", OWNER_PASSWORD, "no_such_db"),
                                     "(1044) Access denied for user 'erruser'@'%' to database 'no_such_db'",
                                     "check the database name at the end of registryUri"),
        "postgres-unknown-database": (postgresql.uri("erruser", OWNER_PASSWORD, "no_such_db"),
                                      'database "no_such_db" does not exist', "check the database name"),
        "mariadb-refused": (f"mysql+pymysql://erruser:{OWNER_PASSWORD}@127.0.0.1:{closed_port}/{database}",
                            f"the mysql database at 127.0.0.1:{closed_port} refused the connection",
                            "is the server running and listening on that port?"),
        "postgres-refused": (f"postgresql://erruser:{OWNER_PASSWORD}@127.0.0.1:{closed_port}/{database}",
                             f"the postgresql database at 127.0.0.1:{closed_port} refused the connection",
                            "is the server running and listening on that port?"),
        "unknown-host": (f"mysql+pymysql://erruser:{OWNER_PASSWORD}@no-such-host.invalid:3306/{database}",
                         "the mysql database host name 'no-such-host.invalid' cannot be resolved (DNS)",
                         "check the spelling of the host name"),
        "postgres-tls-required": (postgresql.uri("tlsuser", OWNER_PASSWORD, database), "no encryption",
                                  "the server requires an encrypted connection"),
    }


ERROR_CASES = ["mariadb-access-denied", "postgres-access-denied", "mariadb-unknown-database", "postgres-unknown-database",
               "mariadb-refused", "postgres-refused", "unknown-host", "postgres-tls-required"]


@pytest.fixture(scope="module")
def error_uris(mariadb, postgresql) -> dict[str, tuple[str, str, str]]:
    return database_errors(mariadb, postgresql)


@pytest.mark.parametrize("case", ERROR_CASES)
def test_database_errors_are_named_at_once_with_the_fix(error_uris, case, mlflow_url, tmp_path, capsys):
    """The database's own reason and the fix, in about a second, and nothing else: no retries, no
    library log lines, no password (MLflow's client took 11 s, as a timeout, with six log lines)."""
    uri, says, fix = error_uris[case]
    with OpenMetadataStandIn() as om:
        started = time.monotonic()
        code, output = ingest(seed_config(mlflow_url, om.url, **{"source.serviceConnection.config.registryUri": uri}),
                              tmp_path, capsys, "test-connection")
        took = time.monotonic() - started
    assert code == 1
    assert says in output and fix in output, output
    assert OWNER_PASSWORD not in output and "wrong-pass-1234" not in output
    assert "retried" not in output.lower() and "Traceback" not in output and "sqlalche.me" not in output
    assert took < 5, f"took {took:.1f} s"  # a guard against retries and hangs, not a benchmark


# -------------------------------------------------------------------------- the stored connection


def test_the_stored_connection_keeps_no_password_and_a_run_without_one_uses_it(maria_registries, tmp_path, capsys,
                                                                               monkeypatch):
    """The registryUri stored with the service holds ${MLFLOW_REGISTRY_PASSWORD} in place of the
    password (the summary says so); a workflow without serviceConnection runs with that connection
    once the variable is set, and names it when it is not."""
    import json

    registry = maria_registries["2.22"]
    monkeypatch.delenv("MLFLOW_REGISTRY_PASSWORD", raising=False)
    with OpenMetadataStandIn() as om:
        config = seed_config(registry.url, om.url, **{"source.serviceConnection.config.registryUri": registry.reader_uri})
        code, output = ingest(config, tmp_path, capsys)
        assert code == 0, output
        stored = om.services[SERVICE]["connection"]["config"]
        assert stored["registryUri"] == registry.reader_uri.replace(READER_PASSWORD, "${MLFLOW_REGISTRY_PASSWORD}")
        assert stored["trackingUri"] == registry.url
        assert (f"the connection stored with service '{SERVICE}' keeps ${{MLFLOW_REGISTRY_PASSWORD}} in place of the "
                "password in registryUri: a workflow without serviceConnection needs MLFLOW_REGISTRY_PASSWORD set") in output
        assert not any(READER_PASSWORD in json.dumps(r.body) for r in om.requests)

        del config["source"]["serviceConnection"]
        om.models.clear()
        code, output = ingest(config, tmp_path, capsys)
        assert code == 2
        assert "the registryUri stored with service 'local_mlflow' refers to ${MLFLOW_REGISTRY_PASSWORD}, which is not set" in output
        monkeypatch.setenv("MLFLOW_REGISTRY_PASSWORD", READER_PASSWORD)
        code, output = ingest(config, tmp_path, capsys)
        assert code == 0, output
        assert set(entities(om)) == MODELS


# ------------------------------------------------------------------------------------ the seed's YAML


def test_the_seeds_yaml_runs_as_written_against_a_real_mariadb_registry(maria_registries, mariadb, tmp_path):
    """The seed's YAML with only its hosts and ports changed, run by the installed `metadata`
    command: its `mysql+pymysql://` driver comes with the package (not with an extra)."""
    import subprocess
    import sys
    from importlib.metadata import requires

    assert any(r.startswith("pymysql") and "extra" not in r for r in requires("mlflow-om-workflow"))
    registry = maria_registries["3"]
    assert registry.database == SEED_DATABASE
    tracking_port = registry.url.rsplit(":", 1)[1]
    before = registry.fingerprint()
    with OpenMetadataStandIn() as om:
        text = (SEED_YAML.replace("http://localhost:5000", f"http://127.0.0.1:{tracking_port}")
                .replace("@localhost:3307/", f"@127.0.0.1:{mariadb.port}/")
                .replace("http://localhost:8585/api", om.url))
        assert f"mysql+pymysql://{SEED_USER}:{SEED_PASSWORD}@127.0.0.1:{mariadb.port}/{SEED_DATABASE}" in text
        path = tmp_path / "seed.yaml"
        path.write_text(text)
        metadata = Path(sys.executable).with_name("metadata")
        result = subprocess.run([str(metadata), "ingest", "-c", str(path)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert set(entities(om)) == MODELS
    assert registry.fingerprint() == before


# ------------------------------------------------------------------------------------- basic auth


def test_a_basic_auth_server_gives_the_same_entities(maria_registries, tmp_path_factory, tmp_path, capsys, monkeypatch):
    """MLflow's basic-auth app read with MLFLOW_TRACKING_USERNAME / _PASSWORD: the same entities as
    the MLflow 3 server without auth; without the password the check says what to set. The store is
    filled before auth is turned on: the auth app checks the password on every call (about 0.25 s)."""
    from tests.support.mlflow_server import ADMIN_PASSWORD, ADMIN_USERNAME, start_mlflow_server
    from tests.support.registries import fill

    root = tmp_path_factory.mktemp("basic-auth")
    plain = start_mlflow_server(root)
    try:
        fill(Path(sys.executable), plain.url)
    finally:
        plain.stop()
    server = start_mlflow_server(root, app_name="basic-auth")
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN_USERNAME)
        with OpenMetadataStandIn() as om:
            code, output = ingest(seed_config(server.url, om.url), tmp_path, capsys, "test-connection")
        assert code == 1 and "MLFLOW_TRACKING_PASSWORD is not set" in output
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
        with_auth = ingest_into_standin(lambda om_url: seed_config(server.url, om_url), tmp_path, capsys)
    finally:
        server.stop()
    without_auth = ingest_into_standin(lambda om_url: seed_config(maria_registries["3"].url, om_url), tmp_path, capsys)
    assert comparable(with_auth) == comparable(without_auth)
    assert set(with_auth) == MODELS
