"""`ingestionPipelineFQN`: the run is recorded in OpenMetadata's run history, as the official CLI records
it. Real runs against the real MLflow server; the stand-in holds the pipelines and their statuses."""
from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from tests.support.workflows import run_cancelled_when, seed_config
from workflow.cli.main import main
from workflow.document.workflow_file import Workflow
from workflow.openmetadata.pipeline_status import last_fqn_part
from workflow.runner import run_workflow

SERVICE = "local_mlflow"
FQN = f"{SERVICE}.nightly_mlflow"
PIPELINES = "/v1/services/ingestionPipelines"
STATUS = f"{PIPELINES}/{FQN}/pipelineStatus"


def run(mlflow_url: str, om, **changes):
    return run_workflow(Workflow.model_validate(seed_config(mlflow_url, om.url, ingestionPipelineFQN=FQN, **changes)))


def pipeline_warnings(summary) -> list:
    return [w for w in summary.warnings if w.name == "ingestion pipeline"]


def test_a_run_creates_its_pipeline_and_records_running_then_success_with_its_counts(mlflow_url, expected_models, om):
    run_id = str(uuid.uuid4())
    summary = run(mlflow_url, om, pipelineRunId=run_id)
    assert summary.exit_code == 0 and not pipeline_warnings(summary)
    pipeline = om.pipelines[FQN]
    assert pipeline["name"] == "nightly_mlflow" and pipeline["pipelineType"] == "metadata"
    assert pipeline["service"]["name"] == SERVICE and pipeline["service"]["type"] == "mlmodelService"
    assert pipeline["sourceConfig"]["config"]["type"] == "MlModelMetadata"
    [status] = om.pipeline_statuses[FQN].values()
    assert status["runId"] == run_id and status["pipelineState"] == "success"
    assert status["timestamp"] == status["startDate"] <= status["endDate"]
    assert status["status"] == [{"name": "Mlflow", "records": len(expected_models), "updated_records": 0,
                                 "warnings": len(summary.warnings), "errors": 0, "filtered": 0, "failures": []}]
    # `running` once the service exists and before the first model is written; the result after the last.
    order = [(r.method, r.path, (r.body or {}).get("pipelineState") if isinstance(r.body, dict) else None)
             for r in om.requests]
    writes = [i for i, (method, path, _) in enumerate(order) if method == "PUT" and path.endswith("/mlmodels/bulk")]
    states = [(i, state) for i, (method, path, state) in enumerate(order) if method == "PUT" and path.endswith(STATUS)]
    assert [state for _, state in states] == ["running", "success"]
    assert states[0][0] < writes[0] and states[1][0] > writes[-1]


def test_a_second_run_reuses_the_pipeline_and_adds_its_own_run(mlflow_url, expected_models, om):
    first, second = run(mlflow_url, om), run(mlflow_url, om)
    assert first.exit_code == second.exit_code == 0
    assert len(om.requests_to("PUT", PIPELINES)) == 1  # created once, found the second time
    statuses = om.pipeline_statuses[FQN]
    assert len(statuses) == 2 and {s["pipelineState"] for s in statuses.values()} == {"success"}
    assert sorted(s["status"][0]["records"] for s in statuses.values()) == [len(expected_models)] * 2


def test_failures_within_the_threshold_are_a_partial_success_and_below_it_a_failure(mlflow_url, expected_models, om):
    failing = sorted(expected_models)[0]
    om.fail_models = {failing}
    partial = run(mlflow_url, om, **{"workflowConfig.successThreshold": 50})
    failed = run(mlflow_url, om, **{"workflowConfig.successThreshold": 100})
    assert partial.exit_code == 0 and failed.exit_code == 1
    states = [s["pipelineState"] for s in om.pipeline_statuses[FQN].values()]
    assert states == ["partialSuccess", "failed"]
    for status in om.pipeline_statuses[FQN].values():
        [step] = status["status"]
        assert step["errors"] == 1 and [f["name"] for f in step["failures"]] == [failing]
        assert f"Invalid request: {failing} rejected by test" in step["failures"][0]["error"]


def test_a_cancelled_run_is_recorded_as_failed(mlflow_url, om):
    om.inject("PUT", "/v1/mlmodels/bulk", delay=1.0)  # the run is still going when it is cancelled
    config = seed_config(mlflow_url, om.url, ingestionPipelineFQN=FQN)
    summary, seconds = run_cancelled_when(config, lambda: om.requests_to("PUT", STATUS))
    assert summary.cancelled and seconds < 5, seconds
    [status] = om.pipeline_statuses[FQN].values()
    assert status["pipelineState"] == "failed" and "endDate" in status


def test_a_status_call_that_fails_is_a_warning_and_the_models_still_arrive(mlflow_url, expected_models, om,
                                                                           monkeypatch):
    monkeypatch.setattr("workflow.net.retry.BACKOFF", 0.01)
    om.inject("PUT", STATUS, status=500, message="status store down", times=None)
    summary = run(mlflow_url, om)
    assert summary.exit_code == 0 and not summary.failures
    assert {m["name"] for m in om.models.values()} == set(expected_models)
    [warning] = pipeline_warnings(summary)
    assert f"ingestion pipeline {FQN} could not be marked running" in warning.reason
    assert "status store down" in warning.reason and "the models are not affected" in warning.reason
    assert len(om.requests_to("PUT", STATUS)) == 3  # the start, retried; no result for a run never marked running


def test_without_the_setting_nothing_is_sent_about_pipelines(mlflow_url, om):
    summary = run_workflow(Workflow.model_validate(seed_config(mlflow_url, om.url)))
    assert summary.exit_code == 0
    assert not [r for r in om.requests if "/ingestionPipelines" in r.path]


def test_the_summary_says_where_the_run_was_recorded(mlflow_url, om, write_config, capsys):
    config = seed_config(mlflow_url, om.url, ingestionPipelineFQN=FQN, pipelineRunId="6f1c0f2e-1d3a-4c1b-9a59-0c5d1a2b3c4d")
    assert main(["ingest", "-c", str(write_config(config))]) == 0
    assert ("  Recorded:   run 6f1c0f2e-1d3a-4c1b-9a59-0c5d1a2b3c4d of ingestion pipeline local_mlflow.nightly_mlflow, "
            "as success\n") in capsys.readouterr().out


def test_with_the_file_sink_the_run_says_it_is_not_recorded(mlflow_url, om, tmp_path, write_config, capsys):
    config = seed_config(mlflow_url, om.url, ingestionPipelineFQN=FQN,
                         sink={"type": "file", "config": {"filename": str(tmp_path / "models.jsonl")}})
    assert main(["ingest", "-c", str(write_config(config))]) == 0
    output = capsys.readouterr().out
    assert "ingestionPipelineFQN is set, but the file sink sends nothing to OpenMetadata" in output
    assert om.requests == []


def test_the_pipeline_name_is_the_last_part_of_its_fqn():
    assert last_fqn_part("svc.nightly") == "nightly"
    assert last_fqn_part('svc."nightly.v2"') == "nightly.v2"
    assert last_fqn_part('"my.svc".nightly') == "nightly"


def test_a_cancel_while_a_status_call_waits_out_a_retry_after_ends_the_run_at_once(mlflow_url, om):
    om.inject("PUT", STATUS, status=429, message="slow down", retry_after=10, times=None)
    config = seed_config(mlflow_url, om.url, ingestionPipelineFQN=FQN)
    summary, seconds = run_cancelled_when(config, lambda: om.requests_to("PUT", STATUS))
    assert summary.cancelled and seconds < 5, seconds
    assert len(om.requests_to("PUT", STATUS)) == 1  # not sent again after the cancel
    [warning] = pipeline_warnings(summary)
    assert "could not be marked running" in warning.reason and "slow down" in warning.reason


def test_below_the_threshold_is_failed_even_when_raise_on_error_keeps_the_exit_code_0(mlflow_url, expected_models,
                                                                                      om):
    om.fail_models = {sorted(expected_models)[0]}
    summary = run(mlflow_url, om, **{"workflowConfig.successThreshold": 100, "workflowConfig.raiseOnError": False})
    assert summary.exit_code == 0
    assert [s["pipelineState"] for s in om.pipeline_statuses[FQN].values()] == ["failed"]


def test_a_pipeline_of_another_service_is_refused_when_the_workflow_loads(mlflow_url, om):
    """OpenMetadata keeps a pipeline under one service: the mistake is said before any run, at the field."""
    with pytest.raises(ValidationError) as caught:
        Workflow.model_validate(seed_config(mlflow_url, om.url, ingestionPipelineFQN="other_service.nightly"))
    [error] = caught.value.errors()
    assert error["loc"] == ("ingestionPipelineFQN",)
    assert "'other_service.nightly' is not a pipeline of this workflow's service 'local_mlflow'" in error["msg"]
