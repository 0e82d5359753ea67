"""Run a real MLflow tracking server for tests: start it on a free port, wait until healthy, stop it.

The ingestion under test talks to MLflow over HTTP, so the tests need a real
``mlflow server`` (not an in-process file store): that is the only way to get
the URIs, paging and auth behaviour a deployed registry really has.  This module
only starts and stops servers; filling them with models is tests/support/mlflow_seed.py,
and the pytest fixtures live in tests/conftest.py.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

HEALTH_TIMEOUT_S = 60.0
DATABASE_HEALTH_TIMEOUT_S = 240.0
"""A server on MariaDB or PostgreSQL first runs MLflow's migrations: about 60 tables, a minute on a busy machine."""
HEALTH_POLL_S = 0.1
STOP_GRACE_S = 10.0
LOG_FILE_NAME = "server.log"

ADMIN_USERNAME = "admin"
# The brief asked for "password1234", but that is the default MLflow shipped
# before GHSA-gq3w-7jj3-x7gr: MLflow >= 3.x refuses to bootstrap an admin with
# it and rejects admin logins using it. Any other >= 12 character value works.
ADMIN_PASSWORD = "password1234-test"

# Switches that make start-up faster and keep the server from phoning home.
QUIET_SERVER_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    # Job execution spawns an extra huey consumer process and a /dev/shm temp
    # dir per server; the registry API does not need it.
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "PYTHONUNBUFFERED": "1",
}


# --------------------------------------------------------------------------
# Server lifecycle
# --------------------------------------------------------------------------


@dataclass
class MlflowServer:
    """A running ``mlflow server`` owned by the test session."""

    url: str
    root: Path
    process: subprocess.Popen
    # (username, password) when started with app_name="basic-auth", else None.
    auth: tuple[str, str] | None = None

    @property
    def log_path(self) -> Path:
        return self.root / LOG_FILE_NAME

    def log_tail(self, lines: int = 40) -> str:
        """Last lines of the server log, for error messages."""
        return _tail(self.log_path, lines)

    def stop(self) -> None:
        """Stop the CLI, uvicorn supervisor and workers; never hangs.

        The server runs in its own session, so signalling the process group
        reaches the uvicorn workers too (terminating only the ``mlflow`` CLI
        could leave orphans holding the port).
        """
        if self.process.poll() is None:
            _signal_group(self.process, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                pass
        # Workers may outlive the CLI even after a clean exit: sweep the group.
        _signal_group(self.process, signal.SIGKILL)
        try:
            self.process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            pass


def free_port() -> int:
    """Ask the kernel for a currently unused loopback port.

    There is a small race until the server binds it; start_mlflow_server
    retries with a fresh port if that race is lost.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_mlflow_server(
    root: Path,
    *,
    app_name: str | None = None,
    env: dict | None = None,
    workers: int = 2,
    backend_store_uri: str | None = None,
    python: Path | None = None,
) -> MlflowServer:
    """Start ``mlflow server`` on a sqlite store in ``root`` and wait until healthy.

    ``backend_store_uri`` puts the store in a database instead; ``python`` runs the ``mlflow``
    of another environment (another MLflow release) than this interpreter's.

    Artifacts are *served* (``--artifacts-destination``), so runs get
    ``mlflow-artifacts:/`` URIs and clients fetch files over HTTP, as in a real
    deployment. ``app_name="basic-auth"`` turns on MLflow's auth app with
    ADMIN_USERNAME / ADMIN_PASSWORD as the admin.
    """
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    server_env = _server_env(root, app_name, env)
    auth = (ADMIN_USERNAME, ADMIN_PASSWORD) if app_name == "basic-auth" else None

    last_error: Exception | None = None
    for _ in range(3):
        port = free_port()
        server = _spawn(root, port, app_name, server_env, workers, auth, backend_store_uri, python)
        try:
            _wait_healthy(server, DATABASE_HEALTH_TIMEOUT_S if backend_store_uri else HEALTH_TIMEOUT_S)
            return server
        except _PortTaken as exc:  # lost the free_port race: try another port
            server.stop()
            last_error = exc
        except BaseException:
            server.stop()
            raise
    raise RuntimeError(f"could not find a free port for mlflow server: {last_error}")


class _PortTaken(RuntimeError):
    pass


def _mlflow_executable(python: Path | None = None) -> str:
    """The ``mlflow`` script of the environment of ``python`` (by default the running interpreter)."""
    python = python or Path(sys.executable)
    candidate = Path(python).with_name("mlflow")
    if not candidate.exists():
        raise FileNotFoundError(f"no mlflow executable next to {python}")
    return str(candidate)


def _server_env(root: Path, app_name: str | None, extra: dict | None) -> dict:
    """Environment for the server: quiet defaults, auth config, caller overrides last."""
    env = dict(os.environ)
    # A client-side tracking URI / credentials in the test process must not leak
    # into the server, which would then proxy to itself or mis-bootstrap auth.
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI",
                "MLFLOW_AUTH_ADMIN_USERNAME", "MLFLOW_AUTH_ADMIN_PASSWORD"):
        env.pop(key, None)
    env.update(QUIET_SERVER_ENV)
    if app_name == "basic-auth":
        env["MLFLOW_AUTH_CONFIG_PATH"] = str(_write_basic_auth_ini(root))
        # Required by the auth app for CSRF; must be the same across workers.
        env["MLFLOW_FLASK_SERVER_SECRET_KEY"] = secrets.token_hex(16)
    env.update({k: str(v) for k, v in (extra or {}).items()})
    return env


def _write_basic_auth_ini(root: Path) -> Path:
    """Write an auth config with its own sqlite user db inside ``root``.

    Keys mirror mlflow/server/auth/basic_auth.ini (see mlflow.server.auth.config).
    """
    ini = root / "basic_auth.ini"
    ini.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{root / 'basic_auth.db'}\n"
        f"admin_username = {ADMIN_USERNAME}\n"
        f"admin_password = {ADMIN_PASSWORD}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n",
        encoding="utf-8",
    )
    return ini


def _spawn(root, port, app_name, env, workers, auth, backend_store_uri=None, python=None) -> MlflowServer:
    """Launch the server process in its own session, logging to root/server.log."""
    cmd = [
        _mlflow_executable(python), "server",
        "--backend-store-uri", backend_store_uri or f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", str(workers),
    ]
    if app_name:
        cmd += ["--app-name", app_name]
    with open(root / LOG_FILE_NAME, "ab") as log:
        process = subprocess.Popen(
            cmd, cwd=root, env=env, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    return MlflowServer(url=f"http://127.0.0.1:{port}", root=root, process=process, auth=auth)


def _wait_healthy(server: MlflowServer, timeout: float = HEALTH_TIMEOUT_S) -> None:
    """Poll GET /health until 200; fail fast if the process dies."""
    deadline = time.monotonic() + timeout
    with requests.Session() as session:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                tail = server.log_tail()
                if "address already in use" in tail.lower():
                    raise _PortTaken(tail)
                raise RuntimeError(
                    f"mlflow server exited with {server.process.returncode}; log tail:\n{tail}"
                )
            try:
                if session.get(f"{server.url}/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(HEALTH_POLL_S)
    raise TimeoutError(
        f"mlflow server at {server.url} not healthy after {timeout:.0f}s; "
        f"log tail:\n{server.log_tail()}"
    )


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)  # pgid == pid thanks to start_new_session
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "<no log>"
    return "\n".join(text.splitlines()[-lines:])
