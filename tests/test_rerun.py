"""A re-run reads only the models that may have changed since the last run, and every kind of
change still arrives on the next run.

A real `mlflow server` of this file's own (its models are changed here), each test on models of its
own (a filter on the test's prefix), behind the fault proxy only to see which models were read:
reading a model costs its MLmodel file through `get-artifact`, which names the model; a model
skipped as unchanged costs nothing beyond the listing and the batched run read.
"""
from __future__ import annotations

import json
import os
import stat
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.support.mlflow_proxy import MlflowProxy
from tests.support.mlflow_server import start_mlflow_server
from tests.support.workflows import seed_config
from workflow import fingerprints
from workflow.document.workflow_file import Workflow
from workflow.plan import plan_workflow
from workflow.runner import run_workflow

SERVICE = "local_mlflow"
GET_ARTIFACT = "/model-versions/get-artifact"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """(server URL, MlflowClient, the server's sqlite store) of a server these tests may change."""
    from mlflow import MlflowClient

    server = start_mlflow_server(tmp_path_factory.mktemp("rerun-mlflow"))
    try:
        yield server.url, MlflowClient(tracking_uri=server.url, registry_uri=server.url), server.root / "mlflow.db"
    finally:
        server.stop()


def add_version(client, name: str, params: dict[str, str], end: bool = True) -> str:
    """A new version of `name` (created if need be) from a new run with these params, the run ended
    unless `end` is False; its run id."""
    experiment = client.get_experiment_by_name("rerun") or client.get_experiment(client.create_experiment("rerun"))
    run = client.create_run(experiment.experiment_id)
    for key, value in params.items():
        client.log_param(run.info.run_id, key, value)
    if end:
        client.set_terminated(run.info.run_id)
    if not client.search_registered_models(filter_string=f"name='{name}'"):
        client.create_registered_model(name, description=f"{name} as first registered")
    client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id, await_creation_for=0)
    return run.info.run_id


class Reruns:
    """Runs of one workflow over the test's models: what each run read, and what OpenMetadata holds."""

    def __init__(self, url: str, om, prefix: str, **changes):
        self.om = om
        self.proxy = MlflowProxy(url).start()
        self.config = seed_config(self.proxy.url, om.url, **{
            "source.sourceConfig.config.mlModelFilterPattern": {"includes": [f"{re.escape(prefix)}.*"]}, **changes})

    def run(self, **options) -> tuple[set[str], object]:
        """(the models whose MLmodel file was read, the run's summary)"""
        before = len(self.proxy.requests)
        summary = run_workflow(Workflow.model_validate(self.config), **options)
        assert summary.exit_code == 0 and not summary.failures, summary.failures
        return self.read_since(before), summary

    def plan(self, **options) -> tuple[set[str], object]:
        """(the models whose MLmodel file was read, the plan)"""
        before = len(self.proxy.requests)
        plan = plan_workflow(Workflow.model_validate(self.config), **options)
        assert plan.complete, plan.problem
        return self.read_since(before), plan

    def read_since(self, before: int) -> set[str]:
        return {parse_qs(urlsplit(r.path).query)["name"][0] for r in self.proxy.requests[before:]
                if r.path.startswith(GET_ARTIFACT)}

    def age_runs_read(self, hours: float) -> None:
        """Make the fingerprints file say its runs were read `hours` earlier than it says now."""
        path = fingerprints.cache_path(Workflow.model_validate(self.config))
        data = json.loads(path.read_text())
        for seen in data["models"].values():
            if seen["run_read_at"] is not None:
                seen["run_read_at"] -= hours * 3600
        path.write_text(json.dumps(data))

    def entity(self, name: str) -> dict:
        return self.om.models[f"{SERVICE}.{name}"]

    def params(self, name: str) -> dict[str, str]:
        return {p["name"]: p["value"] for p in self.entity(name).get("mlHyperParameters") or ()}


@pytest.fixture
def reruns(registry, om, request):
    """Three models of the test's own, ingested once and re-run once unchanged: nothing read then."""
    url, client, _ = registry
    prefix = request.node.name.replace("_", "-")[5:40] + "-"
    names = [f"{prefix}{i}" for i in range(3)]
    for name in names:
        add_version(client, name, {"lr": "0.1"})
    runs = Reruns(url, om, prefix)
    assert runs.run()[0] == set(names)
    read, summary = runs.run()
    assert read == set() and summary.unchanged == 3
    runs.names, runs.client = names, client
    yield runs
    runs.proxy.stop()


def test_an_unchanged_rerun_costs_the_listing_alone_and_sends_nothing(reruns):
    reruns.om.clear_requests()
    before = len(reruns.proxy.requests)
    read, summary = reruns.run()
    asked = [urlsplit(r.path).path for r in reruns.proxy.requests[before:]]
    assert read == set() and summary.unchanged == 3 and summary.processed == 3
    assert not [p for p in asked if p.endswith(("/runs/search", "/runs/get", "/model-versions/search", GET_ARTIFACT))]
    assert {r.method for r in reruns.om.requests} == {"GET"}


def test_a_new_version_arrives(reruns):
    name = reruns.names[0]
    add_version(reruns.client, name, {"lr": "0.5"})
    assert reruns.run()[0] == {name}
    assert reruns.params(name) == {"lr": "0.5"}


def test_a_deleted_version_arrives(reruns):
    name = reruns.names[1]
    add_version(reruns.client, name, {"lr": "0.2"})
    reruns.run()
    assert reruns.params(name) == {"lr": "0.2"}
    reruns.client.delete_model_version(name, "2")
    assert reruns.run()[0] == {name}
    assert reruns.params(name) == {"lr": "0.1"}


def test_a_new_description_arrives(reruns):
    name = reruns.names[2]
    reruns.client.update_registered_model(name, description="described again")
    assert reruns.run()[0] == {name}
    assert reruns.entity(name)["description"] == "described again"


def test_a_model_tagged_is_read_again(reruns):
    reruns.client.set_registered_model_tag(reruns.names[0], "team", "growth")
    assert reruns.run()[0] == {reruns.names[0]}


def test_a_model_given_an_alias_is_read_again(reruns):
    reruns.client.set_registered_model_alias(reruns.names[1], "champion", "1")
    assert reruns.run()[0] == {reruns.names[1]}


def test_a_param_logged_later_to_an_ended_run_arrives_once_the_run_is_read_again(reruns):
    """A run's timestamps do not move when a param is added to it, so the listing cannot show it:
    an ended run is read again a day after it was last read (or at once with `full`)."""
    name = reruns.names[0]
    run_id = reruns.client.get_latest_versions(name)[0].run_id
    reruns.client.log_param(run_id, "added_later", "yes")
    assert reruns.run()[0] == set()
    reruns.age_runs_read(hours=23)
    assert reruns.run()[0] == set()
    reruns.age_runs_read(hours=2)
    assert reruns.run()[0] == {name}
    assert reruns.params(name) == {"lr": "0.1", "added_later": "yes"}
    before = len(reruns.proxy.requests)
    assert reruns.run()[0] == set()
    assert not [r for r in reruns.proxy.requests[before:] if r.path.endswith("/runs/search")]


def test_a_param_logged_to_a_run_still_going_arrives_on_the_next_run(reruns):
    name = f"{reruns.names[0]}-going"
    run_id = add_version(reruns.client, name, {"lr": "0.1"}, end=False)
    assert reruns.run()[0] == {name}
    reruns.client.log_param(run_id, "added_later", "yes")
    assert reruns.run()[0] == {name}
    assert reruns.params(name) == {"lr": "0.1", "added_later": "yes"}
    reruns.client.set_terminated(run_id)
    assert reruns.run()[0] == set()
    before = len(reruns.proxy.requests)
    assert reruns.run()[0] == set()
    assert not [r for r in reruns.proxy.requests[before:] if r.path.endswith("/runs/search")]


def test_a_deleted_model_is_marked_deleted(reruns):
    name = reruns.names[2]
    reruns.client.delete_registered_model(name)
    read, summary = reruns.run()
    assert read == set() and summary.deleted == (name,)
    assert reruns.entity(name)["deleted"] is True


def test_a_renamed_model_arrives_under_its_new_name(reruns):
    old, new = reruns.names[0], reruns.names[0] + "-renamed"
    reruns.client.rename_registered_model(old, new)
    read, summary = reruns.run()
    assert read == {new} and summary.deleted == (old,)
    assert reruns.params(new) == {"lr": "0.1"} and not reruns.entity(new)["deleted"]
    assert reruns.entity(old)["deleted"] is True


def test_an_entity_deleted_in_openmetadata_is_sent_again(reruns):
    name = reruns.names[1]
    requests.delete(f"{reruns.om.url}/v1/mlmodels/{reruns.entity(name)['id']}", params={"hardDelete": "true"},
                    timeout=5).raise_for_status()
    assert reruns.run()[0] == {name}
    assert reruns.params(name) == {"lr": "0.1"}


def test_an_entity_edited_in_openmetadata_is_sent_again(reruns):
    name = reruns.names[2]
    ours = reruns.entity(name)
    edited = {"name": name, "service": SERVICE, "algorithm": "edited", "description": "edited elsewhere",
              "sourceHash": "written-by-someone-else"}
    requests.put(f"{reruns.om.url}/v1/mlmodels", json=edited, timeout=5).raise_for_status()
    assert reruns.run()[0] == {name}
    assert reruns.entity(name)["sourceHash"] == ours["sourceHash"]
    assert reruns.entity(name)["description"] == ours["description"] and reruns.entity(name)["algorithm"] == "mlmodel"


def test_a_changed_filter_reads_every_model_it_lets_through(reruns):
    pattern = reruns.config["source"]["sourceConfig"]["config"]["mlModelFilterPattern"]
    pattern["excludes"] = [re.escape(reruns.names[0])]
    read, summary = reruns.run()
    assert read == set(reruns.names[1:]) and summary.deleted == (reruns.names[0],)
    pattern["excludes"] = []
    assert reruns.run()[0] == set(reruns.names)
    assert not reruns.entity(reruns.names[0])["deleted"]


def _entries(change):
    """A change to each model's entry in the fingerprints file."""
    def changed(data: dict) -> dict:
        for seen in data["models"].values():
            change(seen)
        return data
    return changed


UNUSABLE = {
    "not JSON": lambda data: "not json",
    "an older format": lambda data: {**data, "format": 1},
    "models not a mapping": lambda data: {**data, "models": list(data["models"].values())},
    "a time that is not a number": _entries(lambda seen: seen.update(run_read_at="yesterday")),
    "a digest that is not text": _entries(lambda seen: seen.update(run=1)),
    "a field missing": _entries(lambda seen: seen.pop("sent")),
    "a field unknown": _entries(lambda seen: seen.update(extra=1)),
}


@pytest.mark.parametrize("change", UNUSABLE.values(), ids=UNUSABLE.keys())
def test_a_fingerprints_file_that_cannot_be_used_costs_a_full_read_and_is_written_anew(reruns, change):
    path = fingerprints.cache_path(Workflow.model_validate(reruns.config))
    changed = change(json.loads(path.read_text()))
    path.write_text(changed if isinstance(changed, str) else json.dumps(changed))
    assert reruns.run()[0] == set(reruns.names)
    assert reruns.run()[0] == set()


def test_full_reads_every_model(reruns):
    read, summary = reruns.run(full=True)
    assert read == set(reruns.names) and summary.unchanged == 3


def test_a_plan_skips_what_the_run_would_skip_and_never_saves_fingerprints(reruns):
    """A plan writes nothing, fingerprints included: had it kept the changed model's, the run after
    it would skip that model and OpenMetadata would never get the change."""
    path = fingerprints.cache_path(Workflow.model_validate(reruns.config))
    saved, saved_at = path.read_bytes(), path.stat().st_mtime_ns
    name = reruns.names[0]
    add_version(reruns.client, name, {"lr": "0.5"})
    read, plan = reruns.plan()
    assert read == {name}
    assert {m.name: m.action for m in plan.models if m.action != "filtered"} == {
        name: "changed", reruns.names[1]: "unchanged", reruns.names[2]: "unchanged"}
    assert path.read_bytes() == saved and path.stat().st_mtime_ns == saved_at
    assert reruns.run()[0] == {name}
    assert reruns.params(name) == {"lr": "0.5"}
    assert reruns.plan(full=True)[0] == set(reruns.names)
    path.unlink()
    read, plan = reruns.plan()
    assert read == set(reruns.names) and plan.counts["unchanged"] == 3
    assert not path.exists()


def test_models_listed_from_a_database_are_read_on_every_run(registry, om):
    """Fingerprints need the REST listing's entry: a registry read from its database (the seed's
    shape, the runs and MLmodel files still over HTTP) reads every model on every run."""
    url, client, store = registry
    names = [f"from-database-{i}" for i in range(2)]
    for name in names:
        add_version(client, name, {"lr": "0.1"})
    runs = Reruns(url, om, "from-database-", **{"source.serviceConnection.config.registryUri": f"sqlite:///{store}"})
    try:
        assert runs.run()[0] == set(names)
        read, summary = runs.run()
        assert read == set(names) and summary.unchanged == 2
    finally:
        runs.proxy.stop()


def test_the_fingerprints_file_is_private_and_holds_no_url_or_secret(registry, om, tmp_path):
    url, client, _ = registry
    add_version(client, "private-0", {"lr": "0.1"})
    secret_url = url.replace("http://", "http://someone:hunter2secret@")
    config = seed_config(secret_url, om.url, **{
        "source.sourceConfig.config.mlModelFilterPattern": {"includes": ["private-.*"]}})
    workflow = Workflow.model_validate(config)
    assert run_workflow(workflow).exit_code == 0
    path = fingerprints.cache_path(workflow)
    assert path.is_relative_to(Path(os.environ["XDG_CACHE_HOME"]))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert list(json.loads(text)["models"]) == ["private-0"]
    assert "hunter2secret" not in text and "127.0.0.1" not in text and "someone" not in text
