"""Write an Airflow DAG file that runs a workflow on the user's own Airflow (`metadata dag`, in workflow/cli/dag.py).

The DAG embeds the workflow YAML and runs it with this package's engine (`workflow.airflow_task`),
either in the Airflow process (`python` mode, the seed document's pattern) or in a virtualenv the
task builds (`virtualenv` mode, for deployments whose Airflow environment should not carry mlflow).
A DAG file is code that gets copied around and committed, so no secret is ever written into it:
`${VAR}` references are kept, and secrets that were inline in the source file are replaced by
references with derived names, which the workers then provide.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Iterator, Mapping, Sequence

from pydantic import BaseModel

from ..errors import UserError
from ..document.loader import LoadedWorkflow
from ..document.paths import Path_
from ..document.variables import expand_string
from ..document.redact import secret_fields, uri_password, variable_name, with_password
from ..document.writer import to_yaml, write_text_atomic


MODES = ("python", "virtualenv")
DEFAULT_SCHEDULE = "@daily"
DEFAULT_REQUIREMENT = "mlflow-om-workflow"
DEFAULT_RETRIES = 2


class KeepUnsetReferences(Mapping[str, str]):
    """The environment, where a name it lacks expands to its own `${NAME}` text.

    A DAG resolves its references on the workers, so writing one must not need the production
    secrets on this machine. A reference in a checked field (hostPort must be a URL) still has to
    be set here, for the workflow to be validated.
    """

    def __getitem__(self, name: str) -> str:
        return os.environ.get(name, f"${{{name}}}")

    def __iter__(self) -> Iterator[str]:
        return iter(os.environ)

    def __len__(self) -> int:
        return len(os.environ)


# ------------------------------------------------------------------------------------- the DAG file


def write_dag(loaded: LoadedWorkflow, directory: str | os.PathLike[str], *, dag_id: str | None = None,
              schedule: str | None = DEFAULT_SCHEDULE, start_date: dt.date | None = None, mode: str = "python",
              requirements: Sequence[str] = (DEFAULT_REQUIREMENT,), retries: int = DEFAULT_RETRIES,
              force: bool = False, max_deletions: str | None = None) -> Path:
    """Write `<directory>/<dag_id>.py` atomically; refuse to replace an existing file unless `force`."""
    dag_id = dag_id or default_dag_id(loaded)
    target = Path(directory) / f"{dag_id}.py"
    if target.exists() and not force:
        raise UserError(f"{target} already exists", hint="pass --force to overwrite it, or choose another --dag-id")
    source = render_dag(loaded, dag_id=dag_id, schedule=schedule, start_date=start_date or dt.date.today(),
                        mode=mode, requirements=requirements, retries=retries, max_deletions=max_deletions)
    write_text_atomic(target, source, mode=0o644)
    return target


def default_dag_id(loaded: LoadedWorkflow) -> str:
    service = re.sub(r"[^A-Za-z0-9_.-]+", "_", loaded.config.source.serviceName).strip("_") or "mlflow"
    return f"{service}_metadata_ingestion"


def render_dag(loaded: LoadedWorkflow, *, dag_id: str, schedule: str | None, start_date: dt.date, mode: str,
               requirements: Sequence[str] = (DEFAULT_REQUIREMENT,), retries: int = DEFAULT_RETRIES,
               max_deletions: str | None = None) -> str:
    """The DAG file's source: a docstring, the imports for Airflow 2 and 3, the task, the DAG.
    `max_deletions` (`N` or `N%`) is passed to the task, which then refuses an over-deleting run."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    embedded = embed_workflow(loaded)
    values = {
        "service": repr(loaded.config.source.serviceName),
        "source": loaded.path.name if loaded.path else "a workflow",
        "variables": ", ".join(embedded.variables) or "none",
        "variable_list": repr(list(embedded.variables)),
        "dag_id": repr(dag_id),
        "workflow_yaml": _python_string("\n" + textwrap.indent(embedded.yaml, " " * 8) + " " * 8),
        "schedule": repr(schedule),
        "start_date": f"datetime({start_date.year}, {start_date.month}, {start_date.day}, tzinfo=timezone.utc)",
        "retries": retries,
        "requirements": repr(list(requirements)),
        "guard": f"\n        max_deletions={max_deletions!r}," if max_deletions else "",
    }
    parts = [_HEADER, _IMPORTS[mode], *([_VIRTUALENV_OPERATOR] if mode == "virtualenv" else []), _TASK, _DAG[mode]]
    return "\n".join(Template(part).substitute(values) for part in parts)


def _python_string(text: str) -> str:
    """A raw triple-quoted literal keeps the YAML readable in the DAG; repr() where one cannot hold it."""
    return repr(text) if "'''" in text else f"r'''{text}'''"


# ---------------------------------------------------------------------------------- embedded workflow


@dataclass(frozen=True)
class EmbeddedWorkflow:
    """The workflow as a DAG carries it: YAML in which every secret is a `${VAR}` reference."""

    yaml: str
    variables: tuple[str, ...]
    """Every `${VAR}` name the task resolves when it runs, in the order they appear."""
    lifted: tuple[tuple[str, str], ...]
    """(dotted path, variable name) of each secret that was inline in the source and is now a reference."""
    dropped_run_id: bool = False
    """The source's `pipelineRunId` was left out: every scheduled run must be a run of its own."""


def embed_workflow(loaded: LoadedWorkflow) -> EmbeddedWorkflow:
    """The loaded file's `${VAR}` texts where it had them; a derived `${VAR}` for each inline secret.
    A fixed `pipelineRunId` is left out, so each DAG run gets its own in OpenMetadata's run history
    instead of overwriting the previous one's status."""
    references = {path: text for path, text in loaded.references.items() if path != ("pipelineRunId",)}
    lifted: list[tuple[str, str]] = []
    for path, name, text in _inline_secrets(loaded.config, loaded.references):
        references[path] = text
        lifted.append((".".join(path), name))
    config = loaded.config.model_copy(update={"pipelineRunId": None})
    text = to_yaml(config, references=references)
    return EmbeddedWorkflow(text, tuple(dict.fromkeys(_variable_names(text))), tuple(lifted),
                            dropped_run_id=loaded.config.pipelineRunId is not None)


def _inline_secrets(model: BaseModel, references: dict[Path_, str]) -> Iterator[tuple[Path_, str, str]]:
    """Each secret that would be written as its value: (path, derived variable, text that refers to it).

    A referenced value is inline all the same when its secret part holds no `${VAR}`
    (`mysql://u:pass@${DB_HOST}/db`).
    """
    for field in secret_fields(model):
        text = references.get(field.path, field.text)
        secret = uri_password(text) if field.in_uri else text
        if secret is not None and not _variable_names(secret):
            name = variable_name(field.path, in_uri=field.in_uri)
            yield field.path, name, with_password(text, f"${{{name}}}") if field.in_uri else f"${{{name}}}"


def _variable_names(text: str) -> list[str]:
    """The `$VAR` / `${VAR}` names in a text (with an empty environment every one is missing)."""
    return expand_string(text, {})[1]


# -------------------------------------------------------------------------------------- templates

_HEADER = '''\
"""MLflow metadata ingestion into OpenMetadata for service $service, on a schedule.

Written by mlflow-om-workflow (`metadata dag`) from $source. The task runs the workflow below
with the same engine as `metadata ingest`, logs the same progress and summary, and fails when
the workflow fails (success % below successThreshold).

No secret is in this file: each $${VAR} in the workflow is read when the task runs, from the
worker's environment first, then from the Airflow Variable of that name.
Variables used: $variables.
"""
from __future__ import annotations
'''

_IMPORTS = {
    "python": '''\
from datetime import datetime, timedelta, timezone

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG
try:  # Airflow 3, or Airflow 2 with the standard provider
    from airflow.providers.standard.operators.python import PythonOperator
except ImportError:  # Airflow 2
    from airflow.operators.python import PythonOperator
''',
    "virtualenv": '''\
import os
from datetime import datetime, timedelta, timezone

try:  # Airflow 3
    from airflow.sdk import DAG, Variable
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.models import Variable
try:  # Airflow 3, or Airflow 2 with the standard provider
    from airflow.providers.standard.operators.python import PythonVirtualenvOperator
except ImportError:  # Airflow 2
    from airflow.operators.python import PythonVirtualenvOperator
''',
}

_VIRTUALENV_OPERATOR = '''
VARIABLES = $variable_list


class IngestInVirtualenv(PythonVirtualenvOperator):
    """Runs the task in a virtualenv, which inherits the worker's environment variables.

    Airflow cannot be imported in that virtualenv, so the $${VAR}s the environment lacks are read
    here from Airflow Variables, and handed over as environment variables (never logged).
    """

    def execute(self, context):
        unset = [name for name in VARIABLES if name not in os.environ]
        found = {name: Variable.get(name, None) for name in unset}
        self.env_vars = {**(self.env_vars or {}), **{k: v for k, v in found.items() if v is not None}}
        return super().execute(context)
'''

_TASK = '''
def ingest_mlflow_metadata():
    """Run the workflow; raise, failing the task, when it fails.

    Retrying is safe: the engine creates or updates each model by name and skips the unchanged,
    so a re-run changes nothing on the OpenMetadata server that a previous try already wrote.
    The import stays inside: in virtualenv mode only this function's source reaches the virtualenv.
    """
    from workflow.airflow_task import run_embedded_workflow

    run_embedded_workflow(
        $workflow_yaml,
        dag_id=$dag_id,$guard
    )
'''

_DAG_ARGUMENTS = '''
with DAG(
    dag_id=$dag_id,
    description="MLflow metadata ingestion into OpenMetadata",
    schedule=$schedule,
    start_date=$start_date,
    catchup=False,
    max_active_runs=1,
    default_args={"retries": $retries, "retry_delay": timedelta(minutes=5)},
    tags=["mlflow", "openmetadata"],
) as dag:'''

_DAG = {
    "python": _DAG_ARGUMENTS + '''
    PythonOperator(task_id="ingest", python_callable=ingest_mlflow_metadata)
''',
    "virtualenv": _DAG_ARGUMENTS + '''
    IngestInVirtualenv(
        task_id="ingest",
        python_callable=ingest_mlflow_metadata,
        requirements=$requirements,
        system_site_packages=False,
        expect_airflow=False,
    )
''',
}
