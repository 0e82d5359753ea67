"""Real MariaDB and PostgreSQL servers for the tests, from Debian's packages, on free loopback ports
with their data in a temp dir. Nothing is mocked: the database reader talks to the same servers a
user's MLflow registry lives in.

`.ci/run` installs the packages when they are missing (`apt-get install mariadb-server postgresql`).
PostgreSQL refuses to run as root, so its server runs as the `postgres` user the package creates
(or `nobody`). Each server has an admin connection (over its Unix socket) to create databases and
users; tests reach it as a user would, over TCP with a password.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen | None, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the database server exited with {process.returncode}:\n{_tail(log)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"the database server did not listen on port {port} within {START_TIMEOUT:.0f} s:\n{_tail(log)}")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "<no log>"


# ------------------------------------------------------------------------------------- MariaDB

FAST_NOT_DURABLE = ("--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0", "--innodb-log-file-size=16M",
                    "--innodb-flush-method=nosync")
"""A test database need not survive a crash: no fsync per commit or DDL (MLflow's migrations create
about 60 tables and run for a minute otherwise)."""


@dataclass
class MariaDB:
    """A running `mariadbd`; `admin()` is a root connection over its socket."""

    root: Path
    port: int
    process: subprocess.Popen
    dialect: str = "mysql+pymysql"

    @property
    def socket_path(self) -> str:
        return str(self.root / "mysqld.sock")

    def admin(self, database: str | None = None) -> Any:
        import pymysql

        return pymysql.connect(unix_socket=self.socket_path, user="root", database=database, autocommit=True)

    def create_database(self, name: str) -> None:
        with self.admin() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")

    def create_user(self, user: str, password: str, database: str, *, privileges: str = "ALL PRIVILEGES") -> None:
        """A user reaching `database` over TCP from 127.0.0.1 with `privileges` on it (SELECT for a reader)."""
        with self.admin() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{password}'")
            cur.execute(f"GRANT {privileges} ON `{database}`.* TO '{user}'@'%'")

    def uri(self, user: str, password: str, database: str, host: str = "127.0.0.1") -> str:
        return f"{self.dialect}://{user}:{password}@{host}:{self.port}/{database}"

    def stop(self) -> None:
        _stop(self.process)


def start_mariadb(root: Path) -> MariaDB:
    root.mkdir(parents=True, exist_ok=True)
    data, log = root / "data", root / "server.log"
    install = subprocess.run(
        [_binary("mariadb-install-db", "mysql_install_db"), "--no-defaults", f"--datadir={data}", "--user=root",
         "--auth-root-authentication-method=socket", "--skip-test-db"],
        capture_output=True, text=True, timeout=120)
    if install.returncode != 0:
        raise RuntimeError(f"mariadb-install-db failed:\n{install.stdout}\n{install.stderr}")
    port = free_port()
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [_binary("mariadbd", "mysqld"), "--no-defaults", f"--datadir={data}", f"--socket={root / 'mysqld.sock'}",
             f"--port={port}", "--bind-address=127.0.0.1", "--user=root", "--skip-name-resolve",
             f"--pid-file={root / 'mysqld.pid'}", f"--log-error={log}", "--innodb-buffer-pool-size=32M",
             "--performance-schema=OFF", "--skip-log-bin", *FAST_NOT_DURABLE],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = MariaDB(root, port, process)
    try:
        _wait_for_port(port, process, log)
        _wait_for_socket(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_for_socket(server: MariaDB) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            server.admin().close()
            return
        except Exception:  # noqa: BLE001 - not accepting logins yet
            if time.monotonic() > deadline:
                raise


# ----------------------------------------------------------------------------------- PostgreSQL


@dataclass
class PostgreSQL:
    """A running PostgreSQL cluster owned by an unprivileged OS user; `admin()` is its superuser."""

    root: Path
    port: int
    os_user: str
    dialect: str = "postgresql"
    _stopped: bool = field(default=False, repr=False)

    def admin(self, database: str = "postgres") -> Any:
        """A superuser connection in autocommit mode; close it with `contextlib.closing`."""
        import psycopg2

        conn = psycopg2.connect(host=str(self.root), port=self.port, user="postgres", dbname=database)
        conn.autocommit = True
        return conn

    def create_database(self, name: str) -> None:
        with closing(self.admin()) as conn, conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')

    def create_user(self, user: str, password: str, database: str, *, privileges: str = "ALL PRIVILEGES") -> None:
        """A login role with `privileges` on every table of `database` (SELECT for a reader)."""
        with closing(self.admin()) as conn, conn.cursor() as cur:
            cur.execute(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}') THEN "
                        f"CREATE ROLE \"{user}\" LOGIN PASSWORD '{password}'; END IF; END $$")
            cur.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{user}"')
        with closing(self.admin(database)) as conn, conn.cursor() as cur:
            if privileges == "ALL PRIVILEGES":
                cur.execute(f'GRANT ALL ON SCHEMA public TO "{user}"')
                cur.execute(f'ALTER DATABASE "{database}" OWNER TO "{user}"')
                cur.execute(f'ALTER SCHEMA public OWNER TO "{user}"')
            else:
                cur.execute(f'GRANT USAGE ON SCHEMA public TO "{user}"')
                cur.execute(f'GRANT {privileges} ON ALL TABLES IN SCHEMA public TO "{user}"')

    def uri(self, user: str, password: str, database: str, host: str = "127.0.0.1") -> str:
        return f"{self.dialect}://{user}:{password}@{host}:{self.port}/{database}"

    def require_tls_for(self, user: str) -> None:
        """`user` may connect only over TLS (which this server does not offer): as a server that
        requires encryption answers a client that does not use it."""
        hba = self.root / "data" / "pg_hba.conf"
        hba.write_text(f"hostnossl all {user} 0.0.0.0/0 reject\n" + hba.read_text())
        subprocess.run(_as_user(self.os_user, [_pg_binary("pg_ctl"), "-D", str(self.root / "data"), "reload"]),
                       check=True, capture_output=True, timeout=60)

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            subprocess.run(_as_user(self.os_user, [_pg_binary("pg_ctl"), "-D", str(self.root / "data"),
                                                   "-m", "immediate", "-w", "stop"]),
                           capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgresql() -> PostgreSQL:
    """initdb and pg_ctl as an unprivileged user, in a temp dir that user owns (not pytest's, which
    is root's and closed to others); password logins over TCP, trust over the socket."""
    os_user = _unprivileged_user()
    root = Path(tempfile.mkdtemp(prefix="om-pg-"))
    if os.geteuid() == 0:
        os.chown(root, pwd.getpwnam(os_user).pw_uid, -1)
    data, log = root / "data", root / "server.log"
    init = subprocess.run(
        _as_user(os_user, [_pg_binary("initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust",
                           "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"]),
        capture_output=True, text=True, timeout=120)
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
    port = free_port()
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB"
    start = subprocess.run(
        _as_user(os_user, [_pg_binary("pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]),
        capture_output=True, text=True, timeout=START_TIMEOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    server = PostgreSQL(root, port, os_user)
    if start.returncode != 0:
        server.stop()
        raise RuntimeError(f"pg_ctl start failed:\n{start.stdout}\n{start.stderr}\n{_tail(log)}")
    return server


def _unprivileged_user() -> str:
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("no unprivileged OS user (postgres or nobody) to run PostgreSQL as")


def _as_user(user: str, command: list[str]) -> list[str]:
    return ["runuser", "-u", user, "--", *command] if os.geteuid() == 0 else command


def _pg_binary(name: str) -> str:
    """Debian's server binaries (newest version first), else whatever is on PATH."""
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        if os.access(f"{folder}/{name}", os.X_OK):
            return f"{folder}/{name}"
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"no {name}: install Debian's postgresql package (apt-get install postgresql)")
    return found


def _version_key(folder: str) -> int:
    part = folder.split("/")[4]
    return int(part) if part.isdigit() else 0


def _binary(*names: str) -> str:
    for name in names:
        for folder in ("/usr/sbin", "/usr/bin"):
            if os.access(f"{folder}/{name}", os.X_OK):
                return f"{folder}/{name}"
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError(f"no {names[0]}: install Debian's mariadb-server package (apt-get install mariadb-server)")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
