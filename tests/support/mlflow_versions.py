"""MLflow servers and clients of other releases than the project's: MLflow 2.22 in its own virtualenv
(built once, then cached like Airflow's), so the tests read registries that MLflow 2.x created
itself, over its REST API and from its database.

MLflow 2.22's server needs `sqlalchemy<2.1` beside it (2.1 removed what its store uses); the
database drivers are installed with it so its server and client can use MariaDB and PostgreSQL.
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

MLFLOW2_REQUIREMENTS = ("mlflow==2.22.*", "sqlalchemy<2.1", "pymysql", "psycopg2-binary")
INSTALL_TIMEOUT = 1800


def mlflow2_venv_dir() -> Path:
    configured = os.environ.get("MLFLOW2_TEST_VENV")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "mlflow-om-workflow" / "mlflow-venv-2.22"


def ensure_mlflow2_python() -> Path:
    """The python of a virtualenv with MLflow 2.22; built when it does not import mlflow 2.22 yet.
    A lock keeps two test runs from building it at once."""
    venv = mlflow2_venv_dir()
    venv.parent.mkdir(parents=True, exist_ok=True)
    python = venv / "bin" / "python"
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _has_mlflow2(python):
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            command = [str(python), "-m", "pip", "install", "--quiet", *MLFLOW2_REQUIREMENTS]
            result = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
            if result.returncode != 0:
                raise RuntimeError(f"installing MLflow 2.22 failed ({' '.join(command)}):\n{result.stdout}\n{result.stderr}")
    return python


def _has_mlflow2(python: Path) -> bool:
    if not python.exists():
        return False
    probe = subprocess.run([str(python), "-c", "import mlflow, pymysql, psycopg2; assert mlflow.__version__.startswith('2.22')"],
                           capture_output=True, timeout=120)
    return probe.returncode == 0


if __name__ == "__main__":
    print(ensure_mlflow2_python())
