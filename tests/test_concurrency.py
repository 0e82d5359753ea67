"""Concurrency is a speed setting only: any number of workers sends the same entities and reports
the same summary, and a nonsense value is refused before anything runs. A distant MLflow gets more
reads at once, so that its round trip is not paid once per model per worker."""
from __future__ import annotations

import pytest

from tests.support.mlflow_proxy import MlflowProxy
from tests.support.om_standin import OpenMetadataStandIn
from tests.support.workflows import seed_config
from workflow.cli.main import main
from workflow.document.workflow_file import Workflow
from workflow.run_flow import MAX_READERS, readers_for
from workflow.runner import run_workflow


ASSIGNED_BY_SERVER = {"id", "href", "updatedAt", "updatedBy", "version", "service"}


def ingest_with(workers: int, mlflow_url: str) -> tuple[dict, tuple]:
    with OpenMetadataStandIn() as om:
        summary = run_workflow(Workflow.model_validate(seed_config(mlflow_url, om.url)), workers=workers)
        sent = {fqn: {k: v for k, v in model.items() if k not in ASSIGNED_BY_SERVER} for fqn, model in om.models.items()}
    counts = (summary.processed, summary.created, summary.updated, len(summary.warnings), len(summary.failures),
              sorted(i.name for i in summary.warnings), sorted(i.name for i in summary.failures))
    return sent, counts


def test_one_worker_and_many_send_the_same_entities_and_summary(mlflow_url, expected_models):
    one_sent, one_counts = ingest_with(1, mlflow_url)
    many_sent, many_counts = ingest_with(16, mlflow_url)
    assert len(one_sent) == len(expected_models)
    assert one_sent == many_sent
    assert one_counts == many_counts


@pytest.mark.parametrize("value", ["0", "-3", "1000", "many"])
def test_a_worker_count_out_of_range_is_refused_before_any_work(value, write_config, capsys):
    path = write_config(seed_config("http://127.0.0.1:9", "http://127.0.0.1:9/api"))
    with pytest.raises(SystemExit) as exited:
        main(["ingest", "-c", str(path), "--workers", value])
    assert exited.value.code == 2
    assert "--workers" in capsys.readouterr().err


def test_reads_in_flight_grow_with_the_round_trip_and_stay_bounded():
    assert readers_for(8, 0.0) == 8
    assert readers_for(8, 0.002) == 9
    assert readers_for(1, 0.009) == 1
    assert readers_for(8, 0.020) == 24
    assert readers_for(2, 0.020) == 6
    assert readers_for(8, 1.0) == MAX_READERS


def test_a_distant_mlflow_gets_more_reads_at_once(fault_registry, om):
    """MLflow 40 ms away (its /health answers that late): with 2 workers, at least 2 x (1 + 40/10) = 10
    MLmodel reads are sent before the first answer comes back (more when the proxy adds its own delay)."""
    url, names = fault_registry
    with MlflowProxy(url) as mlflow:
        mlflow.inject("/health", "delay", seconds=0.04, times=None)
        mlflow.inject("/model-versions/get-artifact", "delay", seconds=1.0, times=None)
        summary = run_workflow(Workflow.model_validate(seed_config(mlflow.url, om.url)), workers=2)
        reads = [r.at for r in mlflow.requests if r.path.startswith("/model-versions/get-artifact")]
    assert summary.exit_code == 0 and summary.processed == len(names)
    assert sum(1 for at in reads if at < reads[0] + 0.5) >= 10
