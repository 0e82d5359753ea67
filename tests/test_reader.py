"""The one MLflow reader as runs, checks and the app's preview use it, on the stores the other test
files do not reach: a folder store (MLflow's client reads it), the preview of a database registry,
and the retry policy of MLflow's client against a refused port. Real stores and servers only."""
from __future__ import annotations

import json
import time

import pytest

from tests.support.mlflow_proxy import MlflowProxy
from tests.support.mlflow_server import free_port
from tests.support.workflows import seed_config
from workflow.document.workflow_file import Workflow
from workflow.errors import EndpointError
from workflow.registry.mlflow_client import ClientRegistry
from workflow.registry.mlflow_http import ARTIFACTS
from workflow.registry.model_names import registered_model_names
from workflow.registry.read_policy import ReadPolicy
from workflow.registry.mlflow_rest import proxied_location
from workflow.registry.records import ReadError, Run, Version
from workflow.runner import run_workflow

CLIENT_ENV = ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")


@pytest.fixture(autouse=True)
def client_env(monkeypatch):
    """MLflow 3 opens a folder store only when allowed; what the reader sets for MLflow's client is
    undone after each test, so other tests' own MLflow clients keep MLflow's defaults."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    for name in CLIENT_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def folder_store(tmp_path, monkeypatch) -> str:
    """A folder store written by MLflow's client: a model with a version and its run, and a model with
    no version. The test then runs in a folder of its own, where a store created by mistake would show."""
    from mlflow import MlflowClient

    uri = (tmp_path / "mlruns").as_uri()
    with monkeypatch.context() as seeding:  # MLflow looks the version's run up in its default store
        seeding.setenv("MLFLOW_TRACKING_URI", uri)
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        run = client.create_run(client.create_experiment("models"))
        client.log_param(run.info.run_id, "lr", "0.1")
        client.set_terminated(run.info.run_id)
        client.create_registered_model("with-version", description="one version")
        client.create_model_version("with-version", f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
        client.create_registered_model("empty-model")
    monkeypatch.chdir(tmp_path)
    return uri


def test_a_run_through_mlflows_client_reads_a_model_listed_without_versions(folder_store, tmp_path):
    """A model the listing gives no latest version is asked for its versions: through MLflow's
    client that call named an attribute the reader does not have (an AttributeError failed the model)."""
    out = tmp_path / "models.jsonl"
    config = seed_config(folder_store, "http://127.0.0.1:9/api", sink={"type": "file", "config": {"filename": str(out)}})
    summary = run_workflow(Workflow.model_validate(config))

    assert summary.exit_code == 0 and not summary.failures, summary.failures
    written = {m["name"]: m for m in map(json.loads, out.read_text().splitlines())}
    assert set(written) == {"with-version", "empty-model"}
    assert written["with-version"]["mlHyperParameters"] == [{"name": "lr", "value": "0.1"}]
    assert "mlStore" not in written["empty-model"]
    assert any(w.name == "empty-model" and "no version yet" in w.reason for w in summary.warnings), summary.warnings
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlruns", "models.jsonl"]  # no store was created


def test_a_check_of_a_folder_store_lists_it_with_mlflows_client(folder_store):
    from workflow.checks import run_checks

    report = run_checks(Workflow.model_validate(seed_config(folder_store, "http://127.0.0.1:9/api", sink={
        "type": "file", "config": {"filename": "unused.jsonl"}})))
    steps = {s.name: s for s in report.steps}
    assert steps["Tracking store opens"].status == "pass"
    assert steps["Registered models can be listed (GetModels)"].cause == \
        "2 registered models listed (empty-model, with-version)"
    assert report.ok


def test_mlflows_client_fails_a_check_at_once_and_retries_a_run_on_a_refused_port():
    """MLflow's own retries are off (its default, 7 with backoff, took minutes): a check's read is
    sent once and its failure explained; a run's is sent three times, with the REST reader's waits."""
    from mlflow.tracking import MlflowClient  # noqa: F401 - imported before the clock starts

    url = f"http://127.0.0.1:{free_port()}"
    failures, taken = {}, {}
    for name, policy in (("check", ReadPolicy.for_check(2.0, 3)), ("run", ReadPolicy.for_run())):
        started = time.monotonic()
        with pytest.raises(ReadError) as failure:
            ClientRegistry(url, url, policy).models_page(10, None)
        failures[name], taken[name] = failure.value, time.monotonic() - started

    assert failures["check"].unreachable
    assert failures["check"].explained().message == f"MLflow at {url} refused the connection"
    assert taken["check"] < 1.5, taken  # a guard against MLflow's own retries, not a benchmark
    assert 1.5 <= taken["run"] < 10, taken  # waits of 0.5 s and 1 s between three attempts


def test_the_preview_lists_a_database_registry(mlflow_registry, expected_models):
    database = mlflow_registry[0].root / "mlflow.db"
    assert registered_model_names(f"sqlite:///{database}") == sorted(expected_models)


def test_the_preview_of_a_refused_port_says_so():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(EndpointError) as failure:
        registered_model_names(url)
    assert failure.value.message == f"MLflow at {url} refused the connection"


def test_mlflows_client_sends_a_read_again_after_a_503_as_the_rest_reader_does(fault_registry, om):
    """A server that does not serve `get-artifact`: the MLmodel files are read by MLflow's client
    instead, under a run's policy: a 503 on one of its calls is sent again, and every model arrives.
    (The run's own first read from the artifact proxy is refused, so it does not ask it again.)"""
    url, names = fault_registry
    with MlflowProxy(url) as mlflow:
        mlflow.inject("/model-versions/get-artifact", "status", status=501, times=None)
        refused = mlflow.inject(ARTIFACTS, "status", status=404)
        fault = mlflow.inject(ARTIFACTS, "status", status=503)
        config = seed_config(mlflow.url, om.url, **{
            "source.sourceConfig.config.mlModelFilterPattern": {"includes": ["fault-0000[0-2]"]}})
        summary = run_workflow(Workflow.model_validate(config), check_first=False, workers=1)
        assert refused.hits == 1 and fault.hits == 1 and fault.met != refused.met
        assert mlflow.count(fault.met[0]) == 2
    assert summary.exit_code == 0 and not summary.failures, summary.failures
    assert {m["name"] for m in om.models.values()} == set(names[:3])


def test_the_preview_of_a_server_echoing_the_password_does_not_show_it(monkeypatch):
    """The app shows the preview's error as it is: a password MLflow echoes must not be in it."""
    from tests.support.hostile_servers import MLFLOW_API, HostileServer, Route, answer

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "someone")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret-preview-pw")
    echo = answer({"error_code": "INVALID_PARAMETER_VALUE", "message": "bad login someone:s3cret-preview-pw"}, 400)
    with HostileServer([Route("GET", MLFLOW_API + "/registered-models/search", echo)]) as mlflow:
        with pytest.raises(EndpointError) as raised:
            registered_model_names(mlflow.url)
    shown = f"{raised.value.message} {raised.value.hint}"
    assert "bad login" in shown and "s3cret-preview-pw" not in shown


RUN_ID = "4f88fc3f80294f55ac51e945127bb563"
MODEL_ID = "m-1fd02cdc38e645258113a76fce03e5b6"


@pytest.mark.parametrize("source, run_artifacts, expected", [
    (f"mlflow-artifacts:/1/{RUN_ID}/artifacts/model", None, f"1/{RUN_ID}/artifacts/model"),  # MLflow 2
    (f"models:/{MODEL_ID}", f"mlflow-artifacts:/7/{RUN_ID}/artifacts", f"7/models/{MODEL_ID}/artifacts"),  # MLflow 3
    (f"models:/{MODEL_ID}", f"mlflow-artifacts:/team/a/7/{RUN_ID}/artifacts/", f"team/a/7/models/{MODEL_ID}/artifacts"),
    (f"models:/{MODEL_ID}", f"s3://bucket/7/{RUN_ID}/artifacts", None),  # not under this server's proxy
    (f"models:/{MODEL_ID}", f"mlflow-artifacts://other:5000/7/{RUN_ID}/artifacts", None),  # another server's
    (f"mlflow-artifacts://other:5000/1/{RUN_ID}/artifacts/model", None, None),
    (f"models:/{MODEL_ID}", "mlflow-artifacts:/7/another-run/artifacts", None),  # not the version's run
    (f"models:/{MODEL_ID}", None, None),  # the run not read
    ("models:/churn/3", f"mlflow-artifacts:/7/{RUN_ID}/artifacts", None),  # a registered model's URI, not a logged model
    ("s3://bucket/model", f"mlflow-artifacts:/7/{RUN_ID}/artifacts", None),
])
def test_where_the_artifact_proxy_serves_a_versions_files(source, run_artifacts, expected):
    version = Version("churn", "3", RUN_ID, source)
    run = Run({}, {}, run_artifacts) if run_artifacts else None
    assert proxied_location(version, run) == expected
