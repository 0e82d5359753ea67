"""A workflow that works on a fresh machine: a local `mlflow server` holding a few sample models.

`metadata tui` with no arguments opens this demo so a first-time user can try every step (preview,
test, write, run) without an MLflow or OpenMetadata of their own. The server keeps its sqlite store
and served artifacts in a per-user folder; the models go to a JSON Lines file next to them (a `file`
sink), so nothing outside that folder is touched.

`prepare_demo()` is instant (a folder and a free port); `Demo.start()` blocks for a few seconds while
the server comes up and the samples are seeded, so callers run it off the UI thread. Seeding happens
in a child process (`python -m workflow.demo seed URL`) because importing mlflow takes seconds and
prints to the terminal. It is idempotent: models already in the registry are left alone, so the
folder can be reused. `Demo.stop()` kills the server's whole process group.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .document.workflow_file import Workflow
from .errors import UserError
from .registry.model_names import registered_model_names

HEALTH_TIMEOUT_S = 90.0
SEED_TIMEOUT_S = 300.0
STOP_GRACE_S = 5.0
EXPERIMENT = "demo-samples"

SAMPLE_MODELS: dict[str, tuple[str, dict[str, str]]] = {
    "churn-classifier": ("Predicts which customers will cancel next month",
                         {"age": "long", "plan": "string", "monthly_spend": "double"}),
    "fraud-detector": ("Flags card payments for review",
                       {"amount": "double", "merchant": "string", "country": "string"}),
    "demand-forecast": ("Weekly demand per store",
                        {"store": "string", "week": "integer", "price": "double"}),
    "experimental-ranker": ("A work-in-progress search ranker: try excluding it with `experimental`",
                            {"query": "string", "score": "float"}),
}
"""name -> (description, signature inputs {column: MLflow type}); string and numeric columns each."""

SERVER_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    "PYTHONUNBUFFERED": "1",
}


def default_folder() -> Path:
    """The per-user cache folder for the demo, or a per-user temp folder when there is no home."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = Path(cache) / "mlflow-om-workflow" / "demo"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    except OSError:
        uid = os.getuid() if hasattr(os, "getuid") else os.getpid()
        return Path(tempfile.gettempdir()) / f"mlflow-om-workflow-demo-{uid}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_demo(folder: Path | None = None) -> "Demo":
    """Choose the folder and port; nothing starts until `Demo.start()`."""
    return Demo(Path(folder) if folder else default_folder(), free_port())


@dataclass
class Demo:
    folder: Path
    port: int
    _processes: list[subprocess.Popen] = field(default_factory=list, repr=False)
    _stopped: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def workflow_path(self) -> Path:
        """Where the demo suggests writing the workflow file."""
        return self.folder / "workflow.yaml"

    @property
    def sink_path(self) -> Path:
        return self.folder / "mlmodels.jsonl"

    def config(self) -> Workflow:
        """The demo workflow: the local server into a JSON Lines file, OpenMetadata left at its default."""
        return Workflow.model_validate({
            "source": {
                "type": "mlflow",
                "serviceName": "mlflow_demo",
                "serviceConnection": {"config": {"type": "Mlflow", "trackingUri": self.url}},
                "sourceConfig": {"config": {"type": "MlModelMetadata"}},
            },
            "sink": {"type": "file", "config": {"filename": str(self.sink_path)}},
            "workflowConfig": {"openMetadataServerConfig": {
                "hostPort": "http://localhost:8585/api", "authProvider": "no-auth"}},
        })

    def start(self, on_status: Callable[[str], None] = lambda text: None) -> list[str]:
        """Start the server and seed the samples; returns the models seeded now (none when reused)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        on_status(f"starting a local MLflow server at {self.url}")
        self._spawn(self._server_command(), "server.log")
        self._wait_healthy()
        seeded: list[str] = []
        if not set(SAMPLE_MODELS) <= self._registered_names():
            on_status("adding the sample models (first time only)")
            seeded = self._seed()
        on_status(f"MLflow is ready at {self.url} with {len(SAMPLE_MODELS)} sample models")
        return seeded

    def stop(self) -> None:
        """Stop everything `start` launched: each child runs in its own process group."""
        self._stopped.set()
        for process in self._processes:
            _kill_group(process)
        self._processes.clear()

    # ------------------------------------------------------------------------------------- internals

    def _server_command(self) -> list[str]:
        return [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", f"sqlite:///{self.folder / 'mlflow.db'}",
            "--artifacts-destination", str(self.folder / "artifacts"),
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
        ]

    def _spawn(self, command: list[str], log_name: str) -> subprocess.Popen:
        if self._stopped.is_set():
            raise UserError("the demo was stopped")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
        env.pop("MLFLOW_REGISTRY_URI", None)
        env.update(SERVER_ENV)
        with open(self.folder / log_name, "ab") as log:
            process = subprocess.Popen(command, cwd=self.folder, env=env, stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._processes.append(process)
        return process

    def _wait_healthy(self) -> None:
        import requests

        server = self._processes[-1]
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while time.monotonic() < deadline and not self._stopped.is_set():
            if server.poll() is not None:
                raise UserError(f"the demo MLflow server exited (code {server.returncode})",
                                hint=f"see {self.folder / 'server.log'}")
            try:
                if requests.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        if self._stopped.is_set():
            raise UserError("the demo was stopped")
        raise UserError(f"the demo MLflow server at {self.url} did not start in time",
                        hint=f"see {self.folder / 'server.log'}")

    def _registered_names(self) -> set[str]:
        """The registry's model names, so a reused folder skips the slow seeding child."""
        return set(registered_model_names(self.url, timeout=10))

    def _seed(self) -> list[str]:
        process = self._spawn([sys.executable, "-m", "workflow.demo", "seed", self.url], "seed.log")
        try:
            code = process.wait(timeout=SEED_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raise UserError("adding the demo models took too long", hint=f"see {self.folder / 'seed.log'}") from None
        self._processes.remove(process)
        if code != 0:
            if self._stopped.is_set():
                raise UserError("the demo was stopped")
            raise UserError("adding the demo models failed", hint=f"see {self.folder / 'seed.log'}")
        marker = self.folder / "seeded.txt"
        return marker.read_text(encoding="utf-8").split() if marker.exists() else []


def _kill_group(process: subprocess.Popen) -> None:
    """SIGTERM the group, give it a moment, then SIGKILL what is left (uvicorn workers can linger)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)  # the group id is the pid: start_new_session=True
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            pass


# ------------------------------------------------------------------------------------ seeding (child)


def seed(url: str, marker: Path | None = None) -> list[str]:
    """Log and register each sample model the registry does not have yet; returns those added.

    Runs in the child process only: it imports mlflow.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    class ConstantModel(mlflow.pyfunc.PythonModel):
        """Predicts 0 for every row: the demo is about metadata, not predictions."""

        def predict(self, context, model_input, params=None):  # noqa: ANN001 - MLflow's signature
            return [0] * len(model_input)

    mlflow.set_tracking_uri(url)
    mlflow.set_registry_uri(url)
    client = MlflowClient(tracking_uri=url, registry_uri=url)
    existing = {m.name for m in client.search_registered_models(max_results=1000)}
    experiment = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(EXPERIMENT)
    added = []
    for name, (description, inputs) in SAMPLE_MODELS.items():
        if name in existing:
            continue
        signature = ModelSignature(inputs=Schema([ColSpec(kind, column) for column, kind in inputs.items()]),
                                   outputs=Schema([ColSpec("long")]))
        with mlflow.start_run(experiment_id=experiment_id, run_name=name):
            mlflow.log_params({"learning_rate": "0.05", "n_estimators": "200"})
            mlflow.pyfunc.log_model(name="model", python_model=ConstantModel(), signature=signature,
                                    registered_model_name=name, pip_requirements=["mlflow"])
        client.update_registered_model(name, description=description)
        client.set_registered_model_tag(name, "origin", "demo")
        added.append(name)
    if marker:
        marker.write_text("\n".join(added), encoding="utf-8")
    return added


def _main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "seed":
        added = seed(argv[1], Path.cwd() / "seeded.txt")
        print(f"added {len(added)} sample model(s): {', '.join(added) or 'none, all present'}")
        return 0
    print("usage: python -m workflow.demo seed TRACKING_URI", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
