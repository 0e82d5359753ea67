"""`metadata ingest` end to end: a real MLflow server, the OpenMetadata stand-in, assertions on
exactly what was sent, and the failure paths a user meets."""
from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from tests.support.mlflow_seed import seed_bulk_models
from tests.support.mlflow_server import start_mlflow_server
from tests.support.om_standin import OpenMetadataStandIn
from tests.support.workflows import seed_config
from workflow import events as ev
from workflow.cli.main import main
from workflow.document.workflow_file import Workflow
from workflow.registry.mlflow_source import MlflowSource
from workflow.runner import run_workflow

SERVICE = "local_mlflow"


def ingest(path: Path, capsys) -> tuple[int, str]:
    code = main(["ingest", "-c", str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_seed_yaml_ingests_every_model_with_its_fields(mlflow_url, expected_models, om, write_config, capsys):
    code, output = ingest(write_config(seed_config(mlflow_url, om.url)), capsys)
    assert code == 0, output
    assert "Traceback" not in output

    service = om.services[SERVICE]
    assert service["serviceType"] == "Mlflow"
    assert service["connection"]["config"]["trackingUri"] == mlflow_url

    assert {m["name"] for m in om.models.values()} == set(expected_models)
    for name, expected in expected_models.items():
        fqn = f'{SERVICE}."{name}"' if "." in name else f"{SERVICE}.{name}"
        sent = om.models[fqn]
        assert sent["service"]["name"] == SERVICE
        assert sent["algorithm"] == "mlmodel"
        assert sent["sourceUrl"] == f"{mlflow_url}/#/models/{name}"
        assert sent.get("description") == (expected["description"] or None)
        features = {f["name"]: f["dataType"] for f in sent.get("mlFeatures") or []}
        assert features == expected["features"], name
        params = {p["name"]: p["value"] for p in sent.get("mlHyperParameters") or []}
        assert params == expected["params"], name
        if expected["latest_version"]:
            assert sent["mlStore"] == {"storage": expected["artifact_uri"]}
        else:
            assert "mlStore" not in sent


def test_highest_version_number_wins_over_the_most_recently_updated(mlflow_url, expected_models, om, write_config, capsys):
    versions = expected_models["two-versions"]["versions"]
    assert versions["1"]["params"] == {"which": "v1"}  # v1 was edited after v2 existed
    ingest(write_config(seed_config(mlflow_url, om.url)), capsys)
    sent = om.models[f"{SERVICE}.two-versions"]
    assert sent["mlHyperParameters"] == [{"name": "which", "value": "v2"}]
    assert {f["name"] for f in sent["mlFeatures"]} == set(versions["2"]["features"])


def test_models_without_version_or_signature_arrive_with_a_warning(mlflow_url, om, write_config, capsys):
    code, output = ingest(write_config(seed_config(mlflow_url, om.url)), capsys)
    assert code == 0
    assert "warning  empty-model: the model has no version yet" in output
    assert "warning  no-signature-model: no signature was logged" in output
    assert "Warnings:   2" in output and "Errors:     0" in output


def test_rerun_over_unchanged_registry_changes_nothing_and_says_so(mlflow_url, expected_models, om, write_config, capsys):
    path = write_config(seed_config(mlflow_url, om.url))
    assert ingest(path, capsys)[0] == 0
    versions = {fqn: m["version"] for fqn, m in om.models.items()}
    om.clear_requests()

    code, output = ingest(path, capsys)
    assert code == 0
    assert f"nothing changed: all {len(expected_models)} model(s) were already up to date" in output
    assert {r.method for r in om.requests} == {"GET"}
    assert {fqn: m["version"] for fqn, m in om.models.items()} == versions


def test_filters_are_anchored_case_insensitive_and_excludes_win(mlflow_url, om, write_config, capsys):
    config = seed_config(mlflow_url, om.url, **{
        "source.sourceConfig.config.mlModelFilterPattern": {"includes": ["CHURN", "two", "fraud"],
                                                            "excludes": ["two-versions$"]},
    })
    code, output = ingest(write_config(config), capsys)
    assert code == 0
    assert sorted(m["name"] for m in om.models.values()) == ["churn-classifier", "fraud.detector v2"]
    assert "Filtered:   5" in output


def test_models_gone_from_the_registry_are_marked_deleted(mlflow_url, om, write_config, capsys):
    ingest(write_config(seed_config(mlflow_url, om.url)), capsys)
    narrowed = seed_config(mlflow_url, om.url, **{
        "source.sourceConfig.config.mlModelFilterPattern": {"excludes": ["churn"]}})
    code, output = ingest(write_config(narrowed, "narrow.yaml"), capsys)
    assert code == 0
    assert "marked deleted: churn-classifier" in output
    assert om.models[f"{SERVICE}.churn-classifier"]["deleted"] is True
    stale = om.requests_to("DELETE", "/v1/mlmodels/deleteStale")
    assert len(stale) == 1 and stale[0].body["scopeFqn"] == SERVICE
    assert f"{SERVICE}.modèle-prévision" in stale[0].body["seenFqns"]


def test_nothing_is_marked_deleted_when_deletion_is_off(mlflow_url, om, write_config, capsys):
    ingest(write_config(seed_config(mlflow_url, om.url)), capsys)
    config = seed_config(mlflow_url, om.url, **{
        "source.sourceConfig.config.mlModelFilterPattern": {"excludes": ["churn"]},
        "source.sourceConfig.config.markDeletedMlModels": False})
    ingest(write_config(config, "nodelete.yaml"), capsys)
    assert not om.requests_to("DELETE", "/v1/mlmodels/deleteStale")
    assert om.models[f"{SERVICE}.churn-classifier"]["deleted"] is False


def test_an_empty_listing_marks_nothing_deleted(tmp_path, mlflow_url, om, write_config, capsys):
    ingest(write_config(seed_config(mlflow_url, om.url)), capsys)
    empty = start_mlflow_server(tmp_path / "empty")
    try:
        code, output = ingest(write_config(seed_config(empty.url, om.url), "empty.yaml"), capsys)
    finally:
        empty.stop()
    assert code == 0
    assert "the registry listed no models" in output
    assert not om.requests_to("DELETE", "/v1/mlmodels/deleteStale")
    assert not any(m["deleted"] for m in om.models.values())


def test_a_listing_that_fails_midway_marks_nothing_deleted(mlflow_url, om, capsys):
    """The listing breaks after the first page: what was read is sent, nothing is deleted."""
    config = Workflow.model_validate(seed_config(mlflow_url, om.url))
    run_workflow(config)
    om.clear_requests()

    class BrokenListing(MlflowSource):
        def iter_models(self):
            yield from list(super().iter_models())[:2]
            raise ConnectionError("registry went away")

    import workflow.runner as runner
    original = runner.MlflowSource
    runner.MlflowSource = BrokenListing
    try:
        summary = run_workflow(config)
    finally:
        runner.MlflowSource = original
    assert [f.name for f in summary.failures] == ["MLflow registry"]
    assert "registry went away" in summary.failures[0].reason
    assert summary.unchanged == 2
    assert not om.requests_to("DELETE", "/v1/mlmodels/deleteStale")


def test_rejected_models_in_a_bulk_answer_count_as_failures(mlflow_url, expected_models, om, write_config, capsys):
    om.fail_models = {"churn-classifier"}
    config = seed_config(mlflow_url, om.url, **{"workflowConfig.successThreshold": 95})
    code, output = ingest(write_config(config), capsys)
    assert code == 1
    assert "failed   churn-classifier: rejected by OpenMetadata (HTTP 400)" in output
    assert "Errors:     1" in output
    assert f"Success %:  {round((len(expected_models) - 1) * 100 / len(expected_models), 2)}" in output
    assert "FAILED: success % is below the threshold" in output


def test_below_threshold_exits_0_when_raise_on_error_is_false(mlflow_url, om, write_config, capsys):
    om.fail_models = {"churn-classifier", "two-versions"}
    config = seed_config(mlflow_url, om.url, **{"workflowConfig.raiseOnError": False})
    code, output = ingest(write_config(config), capsys)
    assert code == 0
    assert "raiseOnError is false" in output


def test_an_older_server_without_bulk_gets_one_put_per_model(mlflow_url, expected_models, write_config, capsys):
    with OpenMetadataStandIn(bulk=False) as old:
        code, _ = ingest(write_config(seed_config(mlflow_url, old.url)), capsys)
        assert code == 0
        assert len(old.requests_to("PUT", "/v1/mlmodels")) == len(expected_models)
        assert len(old.models) == len(expected_models)


def test_file_sink_writes_json_lines_without_a_server(mlflow_url, expected_models, tmp_path, write_config, capsys):
    import json

    out = tmp_path / "out" / "models.jsonl"
    config = seed_config(mlflow_url, "http://127.0.0.1:9/api", sink={"type": "file", "config": {"filename": str(out)}})
    code, output = ingest(write_config(config), capsys)
    assert code == 0, output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["name"] for r in lines) == sorted(expected_models)
    assert all(r["service"] == SERVICE and r["sourceHash"] for r in lines)


def test_om_without_api_path_says_add_api(mlflow_url, om, write_config, capsys):
    code, output = ingest(write_config(seed_config(mlflow_url, om.root_url)), capsys)
    assert code == 1
    assert "no OpenMetadata API at" in output
    assert f"add /api to hostPort: {om.url}" in output


def test_om_needing_a_token_says_how_to_get_one(mlflow_url, write_config, capsys):
    with OpenMetadataStandIn(token="a.b.c") as secured:
        code, output = ingest(write_config(seed_config(mlflow_url, secured.url)), capsys)
    assert code == 1
    assert "OpenMetadata requires credentials (HTTP 401" in output
    assert "ingestion-bot JWT" in output


def test_unreachable_openmetadata_is_reported_with_its_cause(mlflow_url, write_config, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, output = ingest(write_config(seed_config(mlflow_url, f"http://127.0.0.1:{port}/api")), capsys)
    assert code == 1
    assert "refused the connection" in output and "is the server running" in output


def test_unreachable_mlflow_is_a_failure_not_a_hang(om, write_config, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, output = ingest(write_config(seed_config(f"http://127.0.0.1:{port}", om.url)), capsys)
    assert code == 1
    assert "refused the connection" in output and "Tracking server answers" in output


def test_cancel_stops_the_run_and_reports_what_was_done(mlflow_url, om):
    config = Workflow.model_validate(seed_config(mlflow_url, om.url))
    cancel = threading.Event()
    seen: list[ev.Event] = []

    def on_event(event):
        seen.append(event)
        if isinstance(event, ev.RunStarted):
            cancel.set()

    summary = run_workflow(config, on_event, cancel=cancel)
    assert summary.cancelled and summary.exit_code == 1
    assert isinstance(seen[-1], ev.RunFinished)
    assert not om.requests_to("DELETE", "/v1/mlmodels/deleteStale")


def test_events_arrive_in_order_with_a_total(mlflow_url, expected_models, om):
    seen: list[ev.Event] = []
    run_workflow(Workflow.model_validate(seed_config(mlflow_url, om.url)), seen.append)
    assert isinstance(seen[0], ev.RunStarted) and isinstance(seen[-1], ev.RunFinished)
    assert [e.total for e in seen if isinstance(e, ev.TotalKnown)] == [len(expected_models)]
    assert sorted(e.name for e in seen if isinstance(e, ev.ModelDone)) == sorted(expected_models)


def test_secrets_never_reach_the_output(mlflow_url, write_config, capsys):
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib3QifQ.c2VjcmV0LXNpZ25hdHVyZS12YWx1ZQ"
    with OpenMetadataStandIn(token="another.jwt.value") as secured:
        config = seed_config(mlflow_url, secured.url, **{
            "workflowConfig.openMetadataServerConfig.authProvider": "openmetadata",
            "workflowConfig.openMetadataServerConfig.securityConfig": {"jwtToken": token}})
        code, output = ingest(write_config(config), capsys)
    assert code == 1
    assert token not in output and "c2VjcmV0LXNpZ25hdHVyZS12YWx1ZQ" not in output


def test_jwt_token_can_be_a_path_to_a_file(mlflow_url, tmp_path, write_config, capsys):
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib3QifQ.c2lnbmF0dXJl"
    token_file = tmp_path / "bot.jwt"
    token_file.write_text(token + "\n")
    with OpenMetadataStandIn(token=token) as secured:
        config = seed_config(mlflow_url, secured.url, **{
            "workflowConfig.openMetadataServerConfig.authProvider": "openmetadata",
            "workflowConfig.openMetadataServerConfig.securityConfig": {"jwtToken": str(token_file)}})
        code, output = ingest(write_config(config), capsys)
        assert code == 0, output
        assert all(r.headers["authorization"] == f"Bearer {token}" for r in secured.calls_beyond_probes())


# ------------------------------------------------------------------------------------- big registry


@pytest.fixture(scope="module")
def big_registry(tmp_path_factory):
    server = start_mlflow_server(tmp_path_factory.mktemp("big-mlflow"))
    try:
        yield server.url, seed_bulk_models(server.url, 150)
    finally:
        server.stop()


def test_listing_pages_through_the_whole_registry(big_registry):
    url, names = big_registry
    source = MlflowSource(Workflow.model_validate(seed_config(url, "http://x/api")).mlflow, SERVICE, page_size=40)
    assert sorted(m.name for m in source.iter_models()) == sorted(names)


def test_more_than_100_models_all_arrive(big_registry, om, write_config, capsys):
    url, names = big_registry
    code, output = ingest(write_config(seed_config(url, om.url)), capsys)
    assert code == 0, output
    assert sorted(m["name"] for m in om.models.values()) == sorted(names)
    assert len(om.requests_to("PUT", "/v1/mlmodels/bulk")) == 2  # batches of 100


def test_ctrl_c_stops_cleanly_and_prints_what_was_done(big_registry, om, write_config):
    import signal
    import subprocess
    import sys

    url, _ = big_registry
    path = write_config(seed_config(url, om.url))
    process = subprocess.Popen([sys.executable, "-m", "workflow.cli.main", "ingest", "-c", str(path), "--workers", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = process.stdout.readline()
    assert first.startswith("Ingesting MLflow")
    process.send_signal(signal.SIGINT)
    output = first + process.communicate(timeout=60)[0]
    assert process.returncode == 130  # 128 + SIGINT, as shells expect (tests/test_faults_run.py has more)
    assert "Cancelling" in output and "cancelled by the user after" in output
    assert "Traceback" not in output
    assert len(om.models) < 150
    assert not om.requests_to("DELETE", "/v1/mlmodels/deleteStale")


def test_without_service_connection_the_stored_one_is_used(mlflow_url, expected_models, om, write_config, capsys):
    assert ingest(write_config(seed_config(mlflow_url, om.url)), capsys)[0] == 0  # stores the connection
    config = seed_config(mlflow_url, om.url)
    del config["source"]["serviceConnection"]
    path = write_config(config, "named-only.yaml")
    om.clear_requests()
    code, output = ingest(path, capsys)
    assert code == 0, output
    assert "nothing changed" in output
    assert main(["test-connection", "-c", str(path)]) == 0


def test_without_service_connection_an_unknown_service_is_explained(mlflow_url, om, write_config, capsys):
    config = seed_config(mlflow_url, om.url)
    del config["source"]["serviceConnection"]
    code, output = ingest(write_config(config), capsys)
    assert code == 1
    assert "OpenMetadata has no service 'local_mlflow' to read it from" in output
    assert "add source.serviceConnection.config with trackingUri" in output


def test_file_sink_needs_a_service_connection(write_config, capsys):
    config = seed_config("http://x:5000", "http://x/api", sink={"type": "file", "config": {"filename": "o.jsonl"}})
    del config["source"]["serviceConnection"]
    code, output = ingest(write_config(config), capsys)
    assert code == 2
    assert "source.serviceConnection is required with the file sink" in output


def file_sink_config(mlflow_url: str, out: Path, **changes) -> dict:
    return seed_config(mlflow_url, "http://127.0.0.1:9/api", sink={"type": "file", "config": {"filename": str(out)}},
                       **changes)


def test_a_failed_run_keeps_the_last_good_file_output(mlflow_url, tmp_path):
    out = tmp_path / "models.jsonl"
    config = Workflow.model_validate(file_sink_config(mlflow_url, out))
    assert run_workflow(config).exit_code == 0
    good = out.read_text()

    class BrokenListing(MlflowSource):
        def iter_models(self):
            yield from list(super().iter_models())[:2]
            raise ConnectionError("registry went away")

    import workflow.runner as runner
    original, runner.MlflowSource = runner.MlflowSource, BrokenListing
    try:
        summary = run_workflow(config)
    finally:
        runner.MlflowSource = original
    assert out.read_text() == good
    assert any("was left as it was" in w.reason for w in summary.warnings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models.jsonl"]  # no temp file left behind


def test_a_sink_that_breaks_fails_its_models_not_the_run(mlflow_url, expected_models, tmp_path, monkeypatch):
    from workflow.sinks.file import FileSink

    def full_disk(self, batch):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(FileSink, "write", full_disk)
    events: list[ev.Event] = []
    summary = run_workflow(Workflow.model_validate(file_sink_config(mlflow_url, tmp_path / "m.jsonl")), events.append)
    assert isinstance(events[-1], ev.RunFinished)
    assert sorted(f.name for f in summary.failures) == sorted(expected_models)
    assert all("No space left on device" in f.reason for f in summary.failures)
    assert summary.exit_code == 1


def test_credentials_in_the_tracking_uri_stay_out_of_the_catalog(mlflow_url, tmp_path, write_config, capsys):
    out = tmp_path / "models.jsonl"
    with_password = mlflow_url.replace("http://", "http://bob:hunter2secret@")
    code, output = ingest(write_config(file_sink_config(with_password, out)), capsys)
    assert code == 0, output
    assert "hunter2secret" not in out.read_text() + output
    assert f'"sourceUrl": "{mlflow_url}/#/models/churn-classifier"' in out.read_text()


def test_credentials_in_host_port_stay_out_of_error_messages(mlflow_url, write_config, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = seed_config(mlflow_url, f"http://admin:s3cretpass@127.0.0.1:{port}/api")
    del config["source"]["serviceConnection"]  # the stored-connection lookup fails first
    code, output = ingest(write_config(config), capsys)
    assert code == 1
    assert "refused the connection" in output and "s3cretpass" not in output


def test_a_token_file_that_is_not_text_is_a_config_error(mlflow_url, om, tmp_path, write_config, capsys):
    binary = tmp_path / "token.bin"
    binary.write_bytes(bytes(range(256)))
    config = seed_config(mlflow_url, om.url, **{
        "workflowConfig.openMetadataServerConfig.authProvider": "openmetadata",
        "workflowConfig.openMetadataServerConfig.securityConfig": {"jwtToken": str(binary)}})
    code, output = ingest(write_config(config), capsys)
    assert code == 2
    assert "securityConfig.jwtToken names a file that cannot be read" in output and "Traceback" not in output
    assert om.requests == []
