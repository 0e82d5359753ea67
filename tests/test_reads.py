"""What a run asks MLflow for: the listing, the runs a hundred at a time, and one MLmodel file per
model; and the entities come out the same as when every run is read on its own.

Real `mlflow server`s (MLflow 3) behind the fault proxy, which counts the requests by path.
"""
from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

from tests.support.mlflow_proxy import MlflowProxy
from tests.support.om_standin import OpenMetadataStandIn
from tests.support.workflows import seed_config
from workflow.document.workflow_file import Workflow
from workflow.registry.mlflow_http import ARTIFACTS
from workflow.run_flow import RUN_BATCH
from workflow.runner import run_workflow

ASSIGNED_BY_SERVER = {"id", "href", "updatedAt", "updatedBy", "version", "service"}
API = "/api/2.0/mlflow"
GET_ARTIFACT = "/model-versions/get-artifact"
PROXIED_MLMODEL = f"{ARTIFACTS}/.../MLmodel"
"""A read of an MLmodel file from the artifact proxy, whichever model's."""


def _counted(path: str) -> str:
    return PROXIED_MLMODEL if path.startswith(ARTIFACTS) and path.endswith("/MLmodel") else path


def ingest(mlflow: MlflowProxy) -> tuple[Counter, dict]:
    """(requests MLflow got, by path; the entities OpenMetadata holds) after a first run."""
    before = len(mlflow.requests)
    with OpenMetadataStandIn() as om:
        summary = run_workflow(Workflow.model_validate(seed_config(mlflow.url, om.url)), check_first=False)
        assert summary.exit_code == 0 and not summary.failures, summary.failures
        entities = {fqn: {k: v for k, v in m.items() if k not in ASSIGNED_BY_SERVER} for fqn, m in om.models.items()}
    return Counter(_counted(urlsplit(r.path).path) for r in mlflow.requests[before:]), entities


def test_a_model_costs_one_call_its_mlmodel_file_beside_the_listing_and_the_run_batch(fault_registry):
    """These models' sources are folders with no files: the artifact proxy, asked for the first
    one's MLmodel, does not give it, so every file is asked of `get-artifact`, which tells."""
    url, names = fault_registry
    with MlflowProxy(url) as mlflow:
        asked, entities = ingest(mlflow)
    assert len(entities) == len(names) <= RUN_BATCH
    assert asked == Counter({
        "/health": 3,  # the round trip, measured once
        f"{API}/registered-models/search": 1,
        f"{API}/experiments/search": 1,
        f"{API}/runs/search": 1,
        PROXIED_MLMODEL: 1,
        GET_ARTIFACT: len(names),
    })


def test_runs_read_in_batches_or_one_by_one_give_the_same_entities(mlflow_url, expected_models):
    """The standard models: two versions (the highest wins), an MLflow 2 run whose tag carries the
    signature (no MLmodel read), no signature, no version, a name with dots and spaces."""
    with MlflowProxy(mlflow_url) as mlflow:
        batched, entities = ingest(mlflow)
        mlflow.inject(f"{API}/runs/search", "status", status=404, times=None)  # as a server that cannot
        one_by_one, alone = ingest(mlflow)
    assert len(entities) == len(expected_models)
    assert entities == alone
    assert batched[f"{API}/runs/get"] == 0 and batched[f"{API}/runs/search"] == 1
    assert one_by_one[f"{API}/runs/get"] == len(expected_models) - 1  # every model but the one with no version
    read = len(expected_models) - 2  # not the model with no version, nor the one whose run's tag has the signature
    assert batched[PROXIED_MLMODEL] == one_by_one[PROXIED_MLMODEL] == read
    assert batched[GET_ARTIFACT] == one_by_one[GET_ARTIFACT] == 0


def test_mlmodel_files_read_from_the_artifact_proxy_or_from_get_artifact_give_the_same_entities(
        mlflow_url, expected_models):
    """A server whose artifact proxy refuses this user (403, as for a user who may read the models but
    not their experiments): the proxy is asked once, and every file is read from `get-artifact`."""
    with MlflowProxy(mlflow_url) as mlflow:
        proxied, entities = ingest(mlflow)
        mlflow.inject(ARTIFACTS, "status", status=403, times=None)
        refused, fallen_back = ingest(mlflow)
    assert entities == fallen_back and len(entities) == len(expected_models)
    read = len(expected_models) - 2
    assert (proxied[PROXIED_MLMODEL], proxied[GET_ARTIFACT]) == (read, 0)
    assert (refused[PROXIED_MLMODEL], refused[GET_ARTIFACT]) == (1, read)



def test_the_checks_before_a_run_leave_reading_artifacts_to_the_run(fault_registry):
    """The checks' optional step (one model's artifacts) cannot stop a run, which reads them all anyway."""
    url, names = fault_registry
    with MlflowProxy(url) as mlflow, OpenMetadataStandIn() as om:
        summary = run_workflow(Workflow.model_validate(seed_config(mlflow.url, om.url)))
        asked = Counter(urlsplit(r.path).path for r in mlflow.requests)
    assert summary.exit_code == 0 and not summary.failures, summary.failures
    assert asked[f"{API}/model-versions/get-download-uri"] == 0
    assert asked[GET_ARTIFACT] == len(names)  # the run's own, one per model
    assert asked[f"{API}/registered-models/search"] == 3  # the checks: is it MLflow, can it list; the run
