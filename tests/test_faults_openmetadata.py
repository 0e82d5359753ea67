"""OpenMetadata write faults (issue #8): error statuses, rate limiting, partial bulk answers, slow
answers and reset connections, injected into the real HTTP stand-in while the real workflow runs
against the real MLflow server. Each test checks what the run reports (every model that did not get
in, with its reason) and what the server holds at the end (every model once: no retry duplicates)."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest

from tests.support.om_standin import SERVER_MANAGED_FIELDS, OpenMetadataStandIn
from tests.support.workflows import run_cancelled_when, seed_config
from workflow.document.workflow_file import Workflow
from workflow.events import RunSummary
from workflow.net import retry
from workflow.net.retry import RETRY_AFTER_CAP, retry_wait
from workflow.openmetadata import om_client
from workflow.runner import run_workflow

SERVICE = "local_mlflow"
BULK = "/v1/mlmodels/bulk"
SINGLE = "/v1/mlmodels"
STALE = "/v1/mlmodels/deleteStale"
METADATA = Path(sys.executable).with_name("metadata")


def run(mlflow_url: str, om, **changes) -> RunSummary:
    return run_workflow(Workflow.model_validate(seed_config(mlflow_url, om.url, **changes)))


def sent_bodies(om) -> dict[str, list[dict]]:
    """Every create request sent for each model, in bulk or alone."""
    sent: dict[str, list[dict]] = {}
    for request in om.requests_to("PUT", BULK):
        for item in request.body:
            sent.setdefault(item["name"], []).append(item)
    for request in om.requests_to("PUT", SINGLE):
        sent.setdefault(request.body["name"], []).append(request.body)
    return sent


def assert_stored_once(om, names) -> None:
    """One entity per model, holding what was sent, at version 0.1: a re-sent write was an update
    that changed nothing, not a second model nor a second version."""
    assert sorted(m["name"] for m in om.models.values()) == sorted(names)
    sent = sent_bodies(om)
    for model in om.models.values():
        bodies = {json.dumps(body, sort_keys=True) for body in sent[model["name"]]}
        assert len(bodies) == 1, f"{model['name']} was sent with different content"
        body = json.loads(bodies.pop())
        del body["service"]
        assert {k: v for k, v in model.items() if k not in SERVER_MANAGED_FIELDS} == body
        assert model["version"] == 0.1 and model["deleted"] is False


@pytest.fixture
def short_read_timeout(monkeypatch):
    """The sink's client gives up waiting for an answer after 0.5 s instead of a minute."""
    monkeypatch.setattr(om_client, "READ_TIMEOUT", 0.5)


# ------------------------------------------------------------------------------ error statuses


@pytest.mark.parametrize("path, status, retry_after, wait", [
    (BULK, 500, None, 0.5),
    (BULK, 503, None, 0.5),
    (BULK, 504, None, 0.5),
    (BULK, 429, None, 0.5),
    (BULK, 429, "1", 1.0),
    ("/v1/services/mlmodelServices", 502, None, 0.5),
])
def test_a_write_answered_with_a_retryable_status_is_sent_again(
        mlflow_url, expected_models, om, path, status, retry_after, wait):
    fault = om.inject("PUT", path, status=status, retry_after=retry_after)
    summary = run(mlflow_url, om)
    assert summary.failures == () and summary.created == len(expected_models)
    attempts = om.requests_to("PUT", path)
    assert [r.fault for r in attempts] == [fault, None]
    assert attempts[1].received - attempts[0].received >= wait
    assert len(om.services) == 1
    assert_stored_once(om, expected_models)


def test_retry_after_is_honoured_up_to_a_cap(mlflow_url, expected_models, om, monkeypatch):
    monkeypatch.setattr(retry, "RETRY_AFTER_CAP", 0.8)
    om.inject("PUT", BULK, status=503, retry_after=3600)
    summary = run(mlflow_url, om)
    assert summary.failures == ()
    first, second = om.requests_to("PUT", BULK)
    assert 0.8 <= second.received - first.received < 5  # the cap, not the backoff nor the hour
    assert_stored_once(om, expected_models)


def test_retry_wait_backs_off_and_reads_retry_after_as_seconds_or_a_date():
    assert [retry_wait(1), retry_wait(2)] == [0.5, 1.0]
    assert retry_wait(1, "2") == 2.0
    assert retry_wait(1, "3600") == RETRY_AFTER_CAP == 10.0
    assert retry_wait(2, "soon") == 1.0  # unreadable: the backoff
    in_five_seconds = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=5), usegmt=True)
    assert 3 < retry_wait(1, in_five_seconds) <= 5
    assert retry_wait(1, "Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_marking_deleted_is_sent_again_after_a_503(mlflow_url, om):
    run(mlflow_url, om)
    fault = om.inject("DELETE", STALE, status=503)
    summary = run(mlflow_url, om, **{"source.sourceConfig.config.mlModelFilterPattern": {"excludes": ["churn"]}})
    assert summary.failures == () and summary.deleted == ("churn-classifier",)
    assert [r.fault for r in om.requests_to("DELETE", STALE)] == [fault, None]
    churn = om.models[f"{SERVICE}.churn-classifier"]
    assert churn["deleted"] is True and churn["version"] == 0.2
    assert sum(m["deleted"] for m in om.models.values()) == 1


def test_a_delete_whose_answer_was_cut_is_not_a_failure_when_the_retry_finds_it_gone(mlflow_url):
    """An older server without deleteStale gets one DELETE per model; if the first one lands but its
    answer is cut, the retry meets a 404 for a model that is already deleted."""
    with OpenMetadataStandIn(delete_stale=False) as old:
        run(mlflow_url, old)
        churn = old.models[f"{SERVICE}.churn-classifier"]
        fault = old.inject("DELETE", f"/v1/mlmodels/{churn['id']}", reset=True)
        summary = run(mlflow_url, old, **{"source.sourceConfig.config.mlModelFilterPattern": {"excludes": ["churn"]}})
        assert summary.failures == () and summary.deleted == ("churn-classifier",)
        assert [r.fault for r in old.requests_to("DELETE", churn["id"])] == [fault, None]
        assert churn["deleted"] is True and churn["version"] == 0.2


# ----------------------------------------------------------------------------- partial bulk


def test_models_failed_in_a_bulk_answer_are_sent_again_alone(mlflow_url, expected_models, om):
    rejected = {"churn-classifier", "fraud.detector v2"}
    om.inject("PUT", BULK, partial_bulk_fail=rejected, message="deadlock found")
    summary = run(mlflow_url, om)
    assert summary.failures == () and summary.created == len(expected_models)
    assert sorted(r.body["name"] for r in om.requests_to("PUT", SINGLE)) == sorted(rejected)
    assert len(om.requests_to("PUT", BULK)) == 1
    assert_stored_once(om, expected_models)


@pytest.mark.parametrize("threshold, exit_code", [(100, 1), (50, 0)])
def test_cli_reports_a_model_whose_single_retry_fails_and_exits_per_threshold(
        mlflow_url, expected_models, om, write_config, threshold, exit_code):
    om.inject("PUT", BULK, partial_bulk_fail={"churn-classifier"}, message="deadlock found")
    single = om.inject("PUT", SINGLE, status=500, message="constraint violation", retry_after=0, times=None)
    path = write_config(seed_config(mlflow_url, om.url, **{"workflowConfig.successThreshold": threshold}))
    result = subprocess.run([str(METADATA), "ingest", "-c", str(path)], capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == exit_code, output
    assert "Traceback" not in output
    assert [line.strip() for line in output.splitlines() if line.strip().startswith("failed ")] == [
        "failed   churn-classifier: OpenMetadata failed with HTTP 500: constraint violation (gave up after 3 attempts)"]
    assert "Errors:     1" in output
    assert single.hits == 3
    assert_stored_once(om, set(expected_models) - {"churn-classifier"})


# -------------------------------------------------------------------- slow and cut answers


SLOW = {"delay": 1.0}  # twice the short read timeout
RESET = {"reset": True}


@pytest.mark.parametrize("lost", [pytest.param(SLOW, id="slow"), pytest.param(RESET, id="reset")])
def test_a_lost_answer_is_sent_again_and_updates_instead_of_duplicating(
        mlflow_url, expected_models, om, short_read_timeout, lost):
    fault = om.inject("PUT", BULK, **lost)
    summary = run(mlflow_url, om)
    assert summary.failures == () and summary.created == len(expected_models)
    assert [r.fault for r in om.requests_to("PUT", BULK)] == [fault, None]
    assert_stored_once(om, expected_models)  # the first write landed; the second changed nothing


@pytest.mark.parametrize("fault, reason, stored", [
    pytest.param({"status": 503, "message": "database is in maintenance"},
                 "OpenMetadata failed with HTTP 503: database is in maintenance", False, id="503"),
    pytest.param(SLOW, "OpenMetadata did not answer PUT {bulk}: read timeout after 0.5 s", True, id="slow"),
    pytest.param(RESET, "OpenMetadata did not answer PUT {bulk}: connection reset before the answer was complete",
                 True, id="reset"),
])
def test_a_write_failing_every_time_fails_each_model_of_its_batch_with_the_reason(
        mlflow_url, expected_models, om, short_read_timeout, fault, reason, stored):
    om.inject("PUT", BULK, times=None, **fault)
    started = time.monotonic()
    summary = run(mlflow_url, om)
    assert time.monotonic() - started < 10  # three attempts and two waits, not a hang
    assert sorted(f.name for f in summary.failures) == sorted(expected_models)
    expected = reason.format(bulk=om.url + BULK) + " (gave up after 3 attempts)"
    assert {f.reason for f in summary.failures} == {expected}
    assert summary.processed == 0 and summary.exit_code == 1
    first, second, third = om.requests_to("PUT", BULK)
    assert second.received - first.received >= 0.5 and third.received - second.received >= 1.0
    # A refused write stored nothing; a write whose answer was lost did land, once, though the run
    # could not know it and so reports it failed. The next run, without faults, completes either.
    assert_stored_once(om, expected_models if stored else [])
    om.clear_faults()
    again = run(mlflow_url, om)
    assert again.failures == () and (again.unchanged if stored else again.created) == len(expected_models)
    assert_stored_once(om, expected_models)


def test_a_cancel_while_a_write_waits_out_a_retry_after_ends_the_run_at_once(mlflow_url, expected_models, om):
    """Ctrl-C while OpenMetadata has asked the bulk write to come back in 10 s: the run ends now, the
    write is not sent again, and the batch's models fail with the server's answer."""
    om.inject("PUT", BULK, status=429, message="slow down", retry_after=RETRY_AFTER_CAP, times=None)
    summary, seconds = run_cancelled_when(seed_config(mlflow_url, om.url), lambda: om.requests_to("PUT", BULK))
    assert seconds < RETRY_AFTER_CAP / 2, seconds
    assert summary.cancelled and summary.exit_code != 0 and len(om.requests_to("PUT", BULK)) == 1
    assert sorted(f.name for f in summary.failures) == sorted(expected_models)
    assert {f.reason for f in summary.failures} == {"OpenMetadata is limiting the request rate (HTTP 429): slow down"}
    assert om.models == {}


def test_openmetadata_restarting_mid_run_is_waited_for_and_nothing_is_lost(mlflow_url, expected_models, om):
    """The server goes away at the bulk write and is back a moment later (a restart behind the same
    address): the write meets a reset, then a refused port, and is sent again until it gets in."""
    from tests.support.mlflow_proxy import MlflowProxy

    with MlflowProxy(om.root_url) as proxy:
        proxy.go_down_at(BULK, nth=1)

        def restart() -> None:  # back after the first retry (at 0.5 s) met a refused port
            if proxy.wait_down(30):
                time.sleep(0.8)
                proxy.start()

        restarter = threading.Thread(target=restart)
        restarter.start()
        summary = run_workflow(Workflow.model_validate(seed_config(mlflow_url, proxy.url + "/api")))
        restarter.join()
        arrivals = [(round(r.at, 2), r.path) for r in proxy.requests]
        assert proxy.went_down and proxy.count(BULK) == 2, arrivals  # the reset one and the one that got in
    assert summary.exit_code == 0 and not summary.failures, summary.failures
    assert sorted(m["name"] for m in om.models.values()) == sorted(expected_models)


def test_a_stuck_openmetadata_fails_the_run_after_one_read_timeout_not_one_per_batch(
        mlflow_url, expected_models, om, short_read_timeout):
    """The server takes connections and never answers again: one timeout and a quick probe show it,
    and every batch after that fails at once, with the reason, instead of waiting its own timeouts."""
    from tests.support.mlflow_proxy import MlflowProxy

    with MlflowProxy(om.root_url) as proxy:
        proxy.hang_at(BULK, nth=1)
        started = time.monotonic()
        summary = run_workflow(Workflow.model_validate(seed_config(
            mlflow_url, proxy.url + "/api", **{"sink.config.bulk_sink_batch_size": 2})))
        seconds = time.monotonic() - started
    assert seconds < 0.5 + om_client.PROBE_TIMEOUT + 3  # one read timeout, one probe, the rest at once
    assert summary.exit_code == 1 and summary.processed == 0
    assert sorted(i.name for i in summary.failures) == sorted(expected_models)
    assert all("read timeout after 0.5 s" in i.reason for i in summary.failures), summary.failures
    assert om.models == {}
