"""A catalogue one run and some edits behind the registry, and `metadata ingest` run in process: for the
plan tests and the deletion-limit tests, which start from the same state."""
from __future__ import annotations

import requests

from tests.support.workflows import seed_config
from workflow.cli.main import main
from workflow.document.workflow_file import Workflow
from workflow.runner import run_workflow

SERVICE = "local_mlflow"


def fqn(name: str) -> str:
    return f'{SERVICE}."{name}"' if "." in name else f"{SERVICE}.{name}"


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["ingest", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def prefilled(om, mlflow_url: str) -> dict:
    """A catalogue one run and some edits behind the registry, so a run does all four kinds of write:
    churn-classifier is new (the first run left it out), two-versions' description and
    fraud.detector v2's hyper-parameters were edited in the catalogue (changed), retired-model is in
    the catalogue only and empty-model is now left out by the filter (both to be marked deleted),
    the rest are unchanged. Returns the config of the run to plan."""
    run_workflow(Workflow.model_validate(seed_config(mlflow_url, om.url, **{
        "source.sourceConfig.config.mlModelFilterPattern": {"excludes": ["churn"]}})))
    om.models[fqn("two-versions")].update(description="edited in the catalogue", sourceHash="edited")
    om.models[fqn("fraud.detector v2")].update(
        mlHyperParameters=[{"name": "threshold", "value": "0.1"}, {"name": "gone", "value": "1"}], sourceHash="edited")
    answer = requests.put(f"{om.url}/v1/mlmodels", timeout=5, json={
        "name": "retired-model", "algorithm": "mlmodel", "service": SERVICE, "description": "long gone"})
    assert answer.status_code == 201, answer.text
    return seed_config(mlflow_url, om.url, **{
        "source.sourceConfig.config.mlModelFilterPattern": {"excludes": ["empty"]}})
