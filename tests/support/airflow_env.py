"""A real Apache Airflow for the DAG tests: its own virtualenv (built once, then cached), a home
folder with a migrated sqlite database, and a probe script that reports on DAGs as JSON.

Airflow lives in a separate virtualenv, as on a user's workers: it pins its own dependency set,
and installing it into the project's environment would change what the other tests run against.
This project is installed into it too (editable, from this checkout) for the `python` mode DAGs.
The official constraints file is on GitHub, which this machine cannot reach, so only Airflow's
own version is pinned; pip resolves the rest together with this project's requirements.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

AIRFLOW_VERSION = "3.3.2"
REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 1800
"""Seconds for one pip install; a cold one (nothing in pip's cache) takes minutes."""


def venv_dir() -> Path:
    """$AIRFLOW_TEST_VENV, or one per Airflow version in the user's cache, kept between runs."""
    configured = os.environ.get("AIRFLOW_TEST_VENV")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "mlflow-om-workflow" / f"airflow-venv-{AIRFLOW_VERSION}"


def ensure_airflow_venv(log=print) -> Path:
    """The virtualenv's python, with apache-airflow and this checkout installed; built if need be.

    Reused when it imports airflow and was last set up for this checkout and this pyproject.toml;
    refreshed (this project only) when they changed; rebuilt from scratch when airflow is missing,
    for example after an interrupted install. A lock keeps two test runs from building it at once.
    """
    venv = venv_dir()
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        python = venv / "bin" / "python"
        marker = venv / "mlflow-om-workflow.setup"
        if not _imports_airflow(python):
            started = time.monotonic()
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            _pip_install(python)
            log(f"installed apache-airflow {AIRFLOW_VERSION} into {venv} in {time.monotonic() - started:.0f} s")
        elif not marker.exists() or marker.read_text() != _setup_key():
            started = time.monotonic()
            _pip_install(python)
            log(f"refreshed this project in {venv} in {time.monotonic() - started:.0f} s")
        marker.write_text(_setup_key())
    return python


def _imports_airflow(python: Path) -> bool:
    if not python.exists():
        return False
    probe = subprocess.run([str(python), "-c", "import airflow"], capture_output=True, timeout=120)
    return probe.returncode == 0


def _pip_install(python: Path) -> None:
    """Airflow and this checkout in one resolve, so neither can move the other's dependencies."""
    command = [str(python), "-m", "pip", "install", "--quiet", f"apache-airflow=={AIRFLOW_VERSION}",
               "-e", str(REPO_ROOT)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    if result.returncode != 0:
        raise RuntimeError(f"installing Airflow failed ({' '.join(command)}):\n{result.stdout}\n{result.stderr}")


def _setup_key() -> str:
    pyproject = (REPO_ROOT / "pyproject.toml").read_bytes()
    return f"{REPO_ROOT}\n{hashlib.sha256(pyproject).hexdigest()}\n"


# ------------------------------------------------------------------------------------ an Airflow home

PROBE = r'''
"""Run by the Airflow virtualenv's python: `import DAGS_FOLDER` or `run DAGS_FOLDER DAG_ID`."""
import json
import sys

try:
    from airflow.dag_processing.dagbag import DagBag  # Airflow 3.1+
except ImportError:
    from airflow.models.dagbag import DagBag

command, folder = sys.argv[1], sys.argv[2]
bag = DagBag(dag_folder=folder)
if command == "import":
    result = {
        "import_errors": {path: str(error) for path, error in bag.import_errors.items()},
        "dags": {
            dag_id: {
                "schedule": dag.schedule if dag.schedule is None else str(dag.schedule),
                "start_date": dag.start_date.isoformat(),
                "catchup": dag.catchup,
                "tasks": {task.task_id: type(task).__name__ for task in dag.tasks},
                "retries": [task.retries for task in dag.tasks],
            }
            for dag_id, dag in bag.dags.items()
        },
    }
else:
    run = bag.get_dag(sys.argv[3]).test()
    result = {"state": str(run.state),
              "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()}}
print("PROBE-RESULT " + json.dumps(result))
'''


@dataclass
class Airflow:
    """One Airflow home: config by environment variables, a sqlite database, a dags folder."""

    python: Path
    home: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def dags(self) -> Path:
        return self.home / "dags"

    @classmethod
    def create(cls, python: Path, home: Path) -> "Airflow":
        airflow = cls(python, home)
        airflow.dags.mkdir(parents=True, exist_ok=True)
        airflow.env = {
            **os.environ,
            # The virtualenv first: PythonVirtualenvOperator builds its venvs with the `python` on PATH.
            "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(airflow.dags),
        }
        airflow.env.pop("VIRTUAL_ENV", None)
        airflow.cli("db", "migrate")
        return airflow

    def cli(self, *args: str, timeout: float = 300) -> str:
        """Run an `airflow` command in this home; its output, or an error carrying it."""
        result = subprocess.run([str(self.python.parent / "airflow"), *args], env=self.env,
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def import_dags(self) -> dict:
        """Load the dags folder into a DagBag, as the scheduler does: import errors and each DAG."""
        return self._probe("import", str(self.dags))[0]

    def test_dag(self, dag_id: str, extra_env: dict[str, str] | None = None, timeout: float = 900) -> tuple[dict, str]:
        """Run the DAG once with `dag.test()`: the run's and each task's state, and the whole log."""
        return self._probe("run", str(self.dags), dag_id, extra_env=extra_env, timeout=timeout)

    def _probe(self, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 300) -> tuple[dict, str]:
        result = subprocess.run([str(self.python), "-c", PROBE, *args], env={**self.env, **(extra_env or {})},
                                capture_output=True, text=True, timeout=timeout)
        output = result.stdout + result.stderr
        lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE-RESULT ")]
        if result.returncode != 0 or not lines:
            raise RuntimeError(f"the Airflow probe failed ({result.returncode}):\n{output[-6000:]}")
        return json.loads(lines[-1].removeprefix("PROBE-RESULT ")), output
