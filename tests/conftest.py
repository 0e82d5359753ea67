"""Session-wide real services: an `mlflow server` seeded with known models, and helpers to write
workflow files pointing at it and at the OpenMetadata stand-in (started per test: it is cheap)."""
from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from tests.support.mlflow_seed import seed_bulk_models, seed_standard_models
from tests.support.mlflow_server import start_mlflow_server
from tests.support.om_standin import OpenMetadataStandIn

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
# Re-runs remember what they read in the user's cache directory: the suite's go to a folder of its own.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="mlflow-om-workflow-tests-cache-")

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    # A suite started in the background by a script (`pytest &`) ignores SIGINT, and so would each
    # `metadata` it starts, which then rightly keeps running on Ctrl-C as under nohup. The Ctrl-C
    # tests need what a terminal gives: with a handler here, the children start with the default.
    signal.signal(signal.SIGINT, signal.default_int_handler)



@pytest.fixture(scope="session")
def mlflow_registry(tmp_path_factory: pytest.TempPathFactory):
    """A real MLflow server with the standard models; yields (server, {name: expected record})."""
    server = start_mlflow_server(tmp_path_factory.mktemp("mlflow"))
    try:
        models = seed_standard_models(server.url)
        yield server, models
    finally:
        server.stop()


FAULT_MODELS = 30


@pytest.fixture(scope="session")
def fault_registry(tmp_path_factory: pytest.TempPathFactory):
    """(url, names) of a second real MLflow server with FAULT_MODELS plain models named fault-00000...,
    for the fault tests, whose runs must last a few seconds. A server of its own, because the
    session's registry must keep its exact seven models; shared by the fault files, which only read
    it. Started only when a test asks for it."""
    server = start_mlflow_server(tmp_path_factory.mktemp("faults-mlflow"))
    try:
        yield server.url, seed_bulk_models(server.url, FAULT_MODELS, prefix="fault-")
    finally:
        server.stop()


@pytest.fixture
def mlflow_url(mlflow_registry) -> str:
    return mlflow_registry[0].url


@pytest.fixture
def expected_models(mlflow_registry) -> dict[str, dict]:
    return mlflow_registry[1]


@pytest.fixture
def om():
    with OpenMetadataStandIn() as standin:
        yield standin


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a workflow dict (or text) to a YAML file in the test's temp dir."""
    def write(data: dict[str, Any] | str, name: str = "workflow.yaml") -> Path:
        path = tmp_path / name
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
        return path

    return write
