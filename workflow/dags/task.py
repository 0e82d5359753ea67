"""What a DAG written by `metadata dag` runs: its embedded workflow, through the same engine as the CLI.

It lives in the package, not in the generated file, so the DAG stays a few readable lines and this
code is tested like the rest. Nothing here imports Airflow at module level: in virtualenv mode it
runs in an environment that has this package but not Airflow.
"""
from __future__ import annotations

import os
import sys
import textwrap
from typing import Iterator, Mapping, TextIO

from ..deletion_guard import DeletionLimit
from ..errors import ConfigError, UserError, shown
from ..events import RunSummary
from ..document.loader import parse_workflow
from ..document.redact import scrub
from ..registry.mlflow_credentials import known_secrets
from ..render import Printer, ProgressView, verdict
from ..runner import run_workflow

WHERE_VARIABLES = (
    "each ${VAR} of the workflow is read when the task runs: from the worker's environment first, "
    "then from the Airflow Variable of that name"
)


class WorkflowFailed(RuntimeError):
    """Fails the Airflow task: the run was below successThreshold, or could not start at all."""


def run_embedded_workflow(workflow_yaml: str, *, dag_id: str, stream: TextIO | None = None,
                          max_deletions: str | None = None) -> RunSummary:
    """Run a DAG's embedded workflow, logging progress and summary like `metadata ingest`.

    `workflow_yaml` may be indented as a whole (it sits inside a function in the DAG file).
    `max_deletions` (`N` or `N%`, from `metadata dag --max-deletions`) fails a run that would mark
    more models deleted, before it writes anything.
    Raises `WorkflowFailed` when the run fails, which is what makes Airflow mark the task failed
    (and retry it, which is safe: the engine upserts by name, so a re-run changes nothing that
    is already up to date).
    """
    try:
        config = parse_workflow(textwrap.dedent(workflow_yaml), f"{dag_id} (embedded workflow)",
                                VariablesLookup()).config
    except ConfigError as exc:
        raise WorkflowFailed(f"{exc}\n({WHERE_VARIABLES})") from None
    try:
        limit = DeletionLimit.parse(max_deletions) if max_deletions else None
    except ValueError as exc:
        raise WorkflowFailed(f"max_deletions: {exc}") from None
    secrets = known_secrets(config)
    out = Printer(stream or sys.stdout, secrets)
    try:
        view = ProgressView(out)
        with view.ticking():  # a task's log has no terminal: a line every 10 s shows the run is alive
            summary = run_workflow(config, view.handle, max_deletions=limit)
    except UserError as exc:
        raise WorkflowFailed(shown(scrub(str(exc), secrets))) from None
    out.summary(summary, config)
    if not summary.succeeded:
        raise WorkflowFailed(f"the workflow failed: {verdict(summary)}")
    return summary


class VariablesLookup(Mapping[str, str]):
    """The values of `${VAR}`: the process environment first, then the Airflow Variable of that name.

    Airflow Variables are asked only for names the environment lacks, one at a time, when the
    loader needs them, so a workflow without references never touches Airflow's metadata.
    """

    def __getitem__(self, name: str) -> str:
        value = os.environ.get(name)
        if value is None:
            value = airflow_variable(name)
        if value is None:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(os.environ)

    def __len__(self) -> int:
        return len(os.environ)


def airflow_variable(name: str) -> str | None:
    """An Airflow Variable's value, or None if it is not set or Airflow cannot be imported here.

    In virtualenv mode Airflow is absent: the DAG's operator reads the Variables in the Airflow
    process instead and hands them to the virtualenv as environment variables.
    """
    try:
        from airflow.sdk import Variable  # Airflow 3
    except ImportError:
        try:
            from airflow.models import Variable  # Airflow 2
        except ImportError:
            return None
    return Variable.get(name, None)
