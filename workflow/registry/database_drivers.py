"""What a database URI needs (its driver, and what to pip install for it) and a driver's failure in
words a user can act on. Light on purpose: the checks and the config read it without loading
SQLAlchemy or any driver."""
from __future__ import annotations

import importlib.util
from urllib.parse import urlsplit

from ..errors import EndpointError

POSTGRES_EXTRA = "'mlflow-om-workflow[postgres]'"

DRIVERS: dict[tuple[str, str], tuple[str, str]] = {
    ("mysql", ""): ("MySQLdb", "mysqlclient"),
    ("mysql", "mysqldb"): ("MySQLdb", "mysqlclient"),
    ("mysql", "pymysql"): ("pymysql", "pymysql"),
    ("mysql", "mysqlconnector"): ("mysql.connector", "mysql-connector-python"),
    ("mariadb", "pymysql"): ("pymysql", "pymysql"),
    ("postgresql", "psycopg2"): ("psycopg2", POSTGRES_EXTRA),
    ("postgresql", "psycopg"): ("psycopg", "'psycopg[binary]'"),
    ("postgresql", "pg8000"): ("pg8000", "pg8000"),
    ("mssql", ""): ("pyodbc", "pyodbc"),
    ("mssql", "pyodbc"): ("pyodbc", "pyodbc"),
    ("mssql", "pymssql"): ("pymssql", "pymssql"),
    ("sqlite", ""): ("sqlite3", "(part of Python)"),
    ("sqlite", "pysqlite"): ("sqlite3", "(part of Python)"),
}
"""SQLAlchemy `dialect+driver` -> (the module it imports, what to pip install for it). pymysql comes
with this package (the seed's `mysql+pymysql://`); PostgreSQL's driver with its `postgres` extra."""

DIALECTS = ("mysql", "mariadb", "postgresql", "mssql", "sqlite")


def is_database_uri(uri: str) -> bool:
    return urlsplit(uri).scheme.lower().split("+")[0] in DIALECTS


def postgres_driver() -> str:
    """The driver a plain `postgresql://` is read with: psycopg2 (this package's `postgres` extra,
    and SQLAlchemy's default before 2.1), else psycopg 3 (its default since)."""
    return "psycopg2" if _importable("psycopg2") or not _importable("psycopg") else "psycopg"


def require_driver(uri: str, field: str) -> str:
    """The driver's module name; `EndpointError` naming what to install when it (or SQLAlchemy) is missing."""
    scheme = urlsplit(uri).scheme.lower()
    dialect, _, driver = scheme.partition("+")
    if dialect == "postgresql" and not driver:
        driver = postgres_driver()
    module, package = DRIVERS.get((dialect, driver), (driver or dialect, driver or dialect))
    for needed, install in ((module, package), ("sqlalchemy", "sqlalchemy")):
        if not _importable(needed):
            raise EndpointError(f"{field} needs the Python package {install.strip(chr(39))!r} (module {needed}) for "
                                f"{scheme}://, and it is not installed",
                                hint=f"pip install {install} in the environment that runs the workflow")
    return module


def _importable(module: str) -> bool:
    """Whether a module could be imported, found without importing it (a driver can be slow to load)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def database_failure(exc: BaseException, where: str, field: str) -> EndpointError:
    """A driver's failure as the database's own reason plus the fix, without the driver's noise."""
    reason = failure_reason(exc)
    lower = reason.lower()
    for needles, hint in _FIXES:
        if any(needle in lower for needle in needles):
            return EndpointError(f"the database at {where} refused: {reason}", hint=hint.format(field=field))
    return EndpointError(f"the database at {where} failed: {reason}", hint=f"check {field}")


_FIXES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("ssl", "tls", "secure transport", "no encryption"),
     "the server requires an encrypted connection: add the driver's TLS options to {field} "
     "(?ssl_ca=/path/ca.pem for mysql+pymysql, ?sslmode=require for postgresql)"),
    (("to database",),
     "check the database name at the end of {field}, and that this user is granted access to it"),
    (("access denied", "password authentication failed", "authentication failed", "login failed", "no pg_hba.conf"),
     "check the user and password in {field}, and that this user may connect from this host"),
    (("unknown database", "does not exist"),
     "check the database name at the end of {field}"),
    (("name or service not known", "nodename nor servname", "could not translate host name", "name resolution",
      "getaddrinfo", "no address associated"),
     "check the host name in {field}"),
    (("connection refused", "can't connect", "could not connect", "timed out", "timeout"),
     "check the host and port in {field}, and that the database server is running and reachable from here"),
    (("command denied", "permission denied", "insufficient privilege"),
     "grant this user SELECT on the MLflow tables (nothing more is needed)"),
)


def failure_reason(exc: BaseException) -> str:
    """The driver's own message (SQLAlchemy's wrapper adds the SQL and a link), on one line."""
    original = getattr(exc, "orig", None) or exc
    args = getattr(original, "args", ())
    if len(args) == 2 and isinstance(args[0], int):  # pymysql / MySQLdb: (code, message)
        text = f"({args[0]}) {args[1]}"
    else:
        text = str(original)
    return " ".join(text.split())[:300] or type(original).__name__
