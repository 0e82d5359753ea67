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
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Iterator, Sequence

from pydantic import BaseModel

from ..errors import UserError
from ..document.loader import LoadedWorkflow
from ..document.paths import Path_
from ..document.variables import expand_string
from ..document.redact import REFERENCE, SecretField, secret_fields
from ..document.atomic_write import write_text_atomic
from ..document.yaml_text import to_yaml


MODES = ("python", "virtualenv")
DEFAULT_SCHEDULE = "@daily"
DEFAULT_REQUIREMENT = "mlflow-om-workflow"
DEFAULT_RETRIES = 2
DAG_ID_MAX = 250
"""Airflow's limit for a dag_id; `<id>.py` then fits a file name (255 bytes) too."""


# ------------------------------------------------------------------------------------- the DAG file


def write_dag(loaded: LoadedWorkflow, directory: str | os.PathLike[str], *, dag_id: str | None = None,
              schedule: str | None = DEFAULT_SCHEDULE, start_date: dt.date | None = None, mode: str = "python",
              requirements: Sequence[str] = (DEFAULT_REQUIREMENT,), retries: int = DEFAULT_RETRIES,
              force: bool = False, max_deletions: str | None = None) -> Path:
    """Write `<directory>/<dag_id>.py` atomically; refuse to replace an existing file unless `force`."""
    dag_id = dag_id or default_dag_id(loaded)
    target = Path(directory) / f"{dag_id}.py"
    if os.path.lexists(target) and not force:  # lexists: a dangling symlink is something there too
        raise UserError(f"{target} already exists", hint="pass --force to overwrite it, or choose another --dag-id")
    source = render_dag(loaded, dag_id=dag_id, schedule=schedule, start_date=start_date or dt.date.today(),
                        mode=mode, requirements=requirements, retries=retries, max_deletions=max_deletions)
    check_compiles(source, target.name)
    write_text_atomic(target, source, mode=0o600 if secrets_in(source, loaded) else 0o644)
    return target


def default_dag_id(loaded: LoadedWorkflow) -> str:
    suffix = "_metadata_ingestion"
    service = re.sub(r"[^A-Za-z0-9_.-]+", "_", loaded.config.source.serviceName).strip("_.") or "mlflow"
    return service[:DAG_ID_MAX - len(suffix)] + suffix


def render_dag(loaded: LoadedWorkflow, *, dag_id: str, schedule: str | None, start_date: dt.date, mode: str,
               requirements: Sequence[str] = (DEFAULT_REQUIREMENT,), retries: int = DEFAULT_RETRIES,
               max_deletions: str | None = None) -> str:
    """The DAG file's source: a docstring, the imports for Airflow 2 and 3, the task, the DAG.
    `max_deletions` (`N` or `N%`) is passed to the task, which then refuses an over-deleting run.

    Every value that comes from the workflow, its file name or the options enters the source as a
    `python_literal`, never pasted into code or a docstring: whatever the YAML holds, it stays data.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    embedded = embed_workflow(loaded)
    values = {
        "variable_list": python_literal(list(embedded.variables)),
        "dag_id": python_literal(dag_id),
        "workflow_yaml": python_literal("\n" + _indented(embedded.yaml, " " * 8) + " " * 8),
        "schedule": python_literal(schedule),
        "start_date": f"datetime({start_date.year:d}, {start_date.month:d}, {start_date.day:d}, tzinfo=timezone.utc)",
        "retries": python_literal(int(retries)),
        "requirements": python_literal(list(requirements)),
        "guard": f"\n        max_deletions={python_literal(max_deletions)}," if max_deletions else "",
    }
    parts = [_HEADER, _IMPORTS[mode], *([_VIRTUALENV_OPERATOR] if mode == "virtualenv" else []), _TASK, _DAG[mode]]

    def assemble(leaked: list[str]) -> str:
        docstring = python_literal(_docstring(loaded, embedded, leaked))
        return "\n".join(Template(part).substitute(values, docstring=docstring) for part in parts)

    source = assemble([])
    leaked = secrets_in(source, loaded)
    return assemble(leaked) if leaked else source  # the docstring says "No secret" only when that is true


def secrets_in(source: str, loaded: LoadedWorkflow) -> list[str]:
    """The secret fields whose value still appears in a DAG's source: none, as every inline secret is
    lifted, unless the same text stands elsewhere in the workflow too (a password equal to the user name)."""
    return [".".join(field.path) for field in secret_fields(loaded.config)
            if len(field.secret) >= 4 and not REFERENCE.fullmatch(field.secret) and field.secret in source]


def _docstring(loaded: LoadedWorkflow, embedded: "EmbeddedWorkflow", leaked: list[str]) -> str:
    source = loaded.path.name if loaded.path else "a workflow"
    secrets = ("No secret is in this file: each ${VAR} in the workflow is read when the task runs, from the\n"
               "worker's environment first, then from the Airflow Variable of that name.")
    if leaked:
        secrets = (f"Keep this file private: the value of {', '.join(leaked)} also stands elsewhere in the workflow,\n"
                   "so it is in this file too. Each ${VAR} in the workflow is read when the task runs.")
    return (f"MLflow metadata ingestion into OpenMetadata for service {loaded.config.source.serviceName!r}, "
            f"on a schedule.\n\nWritten by mlflow-om-workflow (`metadata dag`) from {source!r}. The task runs the "
            "workflow below\nwith the same engine as `metadata ingest`, logs the same progress and summary, and "
            "fails when\nthe workflow fails (success % below successThreshold).\n\n"
            f"{secrets}\nVariables used: {', '.join(embedded.variables) or 'none'}.\n")


def _indented(text: str, prefix: str) -> str:
    """`textwrap.indent` for "\\n" lines only: it would also break at U+2028, U+0085 and the like."""
    return "\n".join(prefix + line if line.strip() else line for line in text.split("\n"))


def python_literal(value: str | list[str] | int | None) -> str:
    """The one way a value enters a DAG's source: a Python literal that evaluates to exactly `value`.

    Text on one line is `repr`'d. Text on several lines (the embedded workflow, the docstring) stays
    readable in a triple-quoted literal: raw when that can hold it as it is, else with backslashes,
    quotes and every non-printable character escaped, so nothing in it can end the literal.
    """
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(python_literal(item) for item in value) + "]"
    if not isinstance(value, str):
        raise TypeError(f"no literal for {type(value).__name__}")
    if "\n" not in value:
        return repr(value)
    if all(c == "\n" or c.isprintable() for c in value) and not value.endswith("\\"):
        quote = next((q for q in ("'", '"') if q not in value), None)
        if quote:
            return f"r{quote * 3}{value}{quote * 3}"
    escaped = "".join(c if c == "\n" or (c.isprintable() and c not in "\\'") else
                      "\\" + c if c in "\\'" else repr(c)[1:-1] for c in value)
    return f"'''{escaped}'''"


def check_compiles(source: str, filename: str) -> None:
    """Refuse to write a DAG Python cannot compile: Airflow would show an import error, not run it."""
    try:
        compile(source, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        raise UserError(f"the DAG written for this workflow does not compile ({exc}); nothing was written",
                        hint="this is a bug in metadata dag: please report it with the workflow file",
                        exit_code=1) from None


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

    Which secrets are inline is `SecretField.inline`'s decision, the same as for the YAML file's mode: a
    referenced value is inline all the same when its secret part is more than one `${VAR}`
    (`mysql://u:pass@${DB_HOST}/db`, `${A}.rest-of-a-jwt`).
    """
    used: set[str] = set()
    for field in secret_fields(model):
        if not field.inline(references):
            continue
        name = _variable_name(field)
        while name in used:
            name += "_2"
        used.add(name)
        text = references.get(field.path, field.text.replace("$", "$$"))  # a literal's own `$`s stay literal
        yield field.path, name, field.referring(text, f"${{{name}}}")


def _variable_name(field: SecretField) -> str:
    """OM_JWT_TOKEN for workflowConfig...jwtToken; MLFLOW_REGISTRY_PASSWORD for the password in registryUri,
    MLFLOW_TRACKING_URI_TOKEN for a token alone in trackingUri; OM_HEADER_X_API_KEY for a header."""
    path = field.path
    prefix = "MLFLOW" if path[0] == "source" else "OM"
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(path[-1]))
    name = re.sub(r"[^A-Za-z0-9]+", "_", words).strip("_").upper() or "SECRET"
    if len(path) > 1 and path[-2] == "extraHeaders":
        return f"{prefix}_HEADER_{name}"
    if field.in_uri:
        token_only = ":" not in field.text.split("//", 1)[-1].split("@", 1)[0]
        return f"{prefix}_{name.removesuffix('_URI')}_URI_TOKEN" if token_only else \
            f"{prefix}_{name.removesuffix('_URI')}_PASSWORD"
    return f"{prefix}_{name}"


def _variable_names(text: str) -> list[str]:
    """The `$VAR` / `${VAR}` names in a text (with an empty environment every one is missing)."""
    return expand_string(text, {})[1]


# -------------------------------------------------------------------------------------- templates

_HEADER = '''\
$docstring
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
