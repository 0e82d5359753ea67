"""Concurrency is a speed setting only: any number of workers sends the same entities and reports
the same summary, and a nonsense value is refused before anything runs."""
from __future__ import annotations

import pytest

from conftest import seed_config
from om_standin import OpenMetadataStandIn
from workflow.cli.main import main
from workflow.document.config import Workflow
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
