"""How long `metadata test-connection` takes to report a refused MLflow port and a refused OpenMetadata port.

The official CLI needs about three minutes for the first (MLflow's client retries under a 180 s alarm);
the checks should need well under a second. Two figures per endpoint, as the median of several runs:
in process (from the start of the checks to the failed step being reported) and for the whole command
(a fresh interpreter running `python -m workflow.cli.check`, start-up and imports included).

    .venv/bin/python -m benchmarks.check_refused --runs 5
"""
from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from workflow.checks import MLFLOW, OPENMETADATA, iter_checks
from workflow.document.workflow_file import Workflow

REPO_ROOT = Path(__file__).resolve().parent.parent


def refused_url() -> str:
    """A loopback URL nobody listens on: bind a free port, then let it go."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def workflow(tracking_uri: str, host_port: str) -> dict:
    return {
        "source": {"type": "mlflow", "serviceName": "local_mlflow",
                   "serviceConnection": {"config": {"type": "Mlflow", "trackingUri": tracking_uri}}},
        "sink": {"type": "metadata-rest", "config": {}},
        "workflowConfig": {"openMetadataServerConfig": {"hostPort": host_port, "authProvider": "no-auth"}},
    }


def in_process() -> dict[str, float]:
    """Seconds from the start until each endpoint's first failed step is reported."""
    config = Workflow.model_validate(workflow(refused_url(), refused_url() + "/api"))
    started = time.perf_counter()
    reported: dict[str, float] = {}
    for step in iter_checks(config):
        if step.status == "fail" and step.endpoint not in reported:
            reported[step.endpoint] = time.perf_counter() - started
    return reported


def whole_command() -> float:
    """Seconds for `python -m workflow.cli.check -c FILE` against two refused ports, start-up included."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "workflow.yaml"
        path.write_text(yaml.safe_dump(workflow(refused_url(), refused_url() + "/api")))
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "workflow.cli.check", "-c", str(path)],
                                capture_output=True, text=True, cwd=REPO_ROOT)
        elapsed = time.perf_counter() - started
    if result.returncode != 1 or "refused the connection" not in result.stdout:
        raise SystemExit(f"unexpected result (exit {result.returncode}):\n{result.stdout}{result.stderr}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs to take the median of (default 5)")
    args = parser.parse_args(argv)

    runs = [in_process() for _ in range(args.runs)]
    for endpoint in (MLFLOW, OPENMETADATA):
        median = statistics.median(run[endpoint] for run in runs)
        print(f"refused {endpoint} port reported in {median * 1000:.1f} ms (in process, median of {args.runs})")
    command = statistics.median(whole_command() for _ in range(args.runs))
    print(f"whole command (interpreter start-up included): {command:.2f} s (median of {args.runs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
