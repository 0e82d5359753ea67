"""Checks that the MLflow test server helper really produces what ingestion tests rely on.

If these fail, ingestion test failures are meaningless, so they assert the
seed data through MLflow's own client and raw HTTP, not through project code.
"""

from __future__ import annotations

import json

import pytest
import requests
import yaml

from tests.support.mlflow_seed import seed_bulk_models, seed_standard_models
from tests.support.mlflow_server import ADMIN_PASSWORD, ADMIN_USERNAME, start_mlflow_server

STANDARD_NAMES = {
    "churn-classifier",
    "fraud.detector v2",
    "modèle-prévision",
    "no-signature-model",
    "empty-model",
    "two-versions",
    "mlflow2-style",
}
SEARCH_PATH = "/api/2.0/mlflow/registered-models/search"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_mlflow_server(tmp_path_factory.mktemp("mlflow"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def seeded(server):
    return seed_standard_models(server.url)


@pytest.fixture(scope="module")
def client(server, seeded):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=server.url, registry_uri=server.url)


def all_model_names(client, page_size: int = 50) -> list[str]:
    """Follow page tokens to the end, like an ingestion must."""
    names, token = [], None
    while True:
        page = client.search_registered_models(max_results=page_size, page_token=token)
        names += [m.name for m in page]
        token = page.token
        if not token:
            return names


def versions_of(client, name: str) -> dict:
    return {v.version: v for v in client.search_model_versions(f"name='{name}'")}


def fetch_artifact(server, artifact_uri: str, relative: str) -> requests.Response:
    """GET a file under an ``mlflow-artifacts:/`` URI through the artifact proxy."""
    prefix = "mlflow-artifacts:/"
    assert artifact_uri.startswith(prefix), artifact_uri
    path = artifact_uri[len(prefix):].strip("/")
    return requests.get(f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{path}/{relative}", timeout=10)


def test_seeds_the_seven_standard_models(client, seeded):
    assert set(seeded) == STANDARD_NAMES
    assert STANDARD_NAMES <= set(all_model_names(client))
    assert versions_of(client, "empty-model") == {}
    assert seeded["empty-model"]["latest_version"] is None


def test_churn_classifier_run_params_and_mlmodel_signature(server, client, seeded):
    expected = seeded["churn-classifier"]
    latest = versions_of(client, "churn-classifier")[expected["latest_version"]]
    assert latest.source == f"models:/{expected['model_id']}"

    run = client.get_run(latest.run_id)
    assert run.data.params == {"lr": "0.01", "epochs": "10"}
    assert run.info.artifact_uri == expected["artifact_uri"]

    # The registry resolves the version to the logged model's own artifact dir.
    download = client.get_model_version_download_uri("churn-classifier", latest.version)
    assert download == expected["model_artifact_uri"]
    response = fetch_artifact(server, download, "MLmodel")
    assert response.status_code == 200
    inputs = json.loads(yaml.safe_load(response.text)["signature"]["inputs"])
    assert {c["name"]: c["type"] for c in inputs} == {"age": "long", "city": "string", "income": "double"}
    assert expected["features"] == {"age": "numerical", "city": "categorical", "income": "numerical"}


def test_descriptions_round_trip(client, seeded):
    for name in ("churn-classifier", "modèle-prévision"):
        assert client.get_registered_model(name).description == seeded[name]["description"]
    assert client.get_registered_model("modèle-prévision").description == "Prévision des ventes — modèle ☃"


def test_no_signature_model_has_no_signature(server, seeded):
    record = seeded["no-signature-model"]
    mlmodel = yaml.safe_load(fetch_artifact(server, record["model_artifact_uri"], "MLmodel").text)
    assert not mlmodel.get("signature")
    assert record["features"] == {}


def test_two_versions_v1_updated_after_v2(client, seeded):
    versions = versions_of(client, "two-versions")
    assert set(versions) == {"1", "2"}
    assert versions["1"].last_updated_timestamp > versions["2"].last_updated_timestamp
    assert client.get_run(versions["1"].run_id).data.params == {"which": "v1"}
    assert client.get_run(versions["2"].run_id).data.params == {"which": "v2"}
    assert seeded["two-versions"]["latest_version"] == "2"
    assert seeded["two-versions"]["params"] == {"which": "v2"}


def test_mlflow2_style_signature_only_in_run_tag(server, client, seeded):
    record = seeded["mlflow2-style"]
    version = versions_of(client, "mlflow2-style")["1"]
    history = json.loads(client.get_run(version.run_id).data.tags["mlflow.log-model.history"])
    assert history[0]["run_id"] == version.run_id
    inputs = json.loads(history[0]["signature"]["inputs"])
    assert [(c["name"], c["type"]) for c in inputs] == [("x", "double"), ("label", "string")]
    assert record["features"] == {"x": "numerical", "label": "categorical"}
    # Nothing was uploaded under the version source: no MLmodel to fall back on.
    assert fetch_artifact(server, version.source, "MLmodel").status_code == 404


def test_bulk_models_are_visible_through_paging(client, seeded):
    before = all_model_names(client)
    names = seed_bulk_models(client.tracking_uri, 120, prefix="paging-")
    after = all_model_names(client, page_size=50)
    assert len(names) == 120
    assert len(after) == len(before) + 120
    assert set(names) <= set(after)
    version = versions_of(client, names[0])["1"]
    assert client.get_run(version.run_id).data.params == {"lr": "0.1", "batch": "32"}


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    srv = start_mlflow_server(tmp_path_factory.mktemp("mlflow-auth"), app_name="basic-auth")
    yield srv
    srv.stop()


def test_basic_auth_requires_credentials(auth_server):
    url = f"{auth_server.url}{SEARCH_PATH}"
    assert auth_server.auth == (ADMIN_USERNAME, ADMIN_PASSWORD)
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, auth=auth_server.auth, timeout=10).status_code == 200
    # MLflow >= 3.x refuses the pre-GHSA default admin password.
    assert requests.get(url, auth=("admin", "password1234"), timeout=10).status_code == 401
