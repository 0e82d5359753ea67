"""A workflow file rendered as a DAG, and the workflow a DAG's task will be given, for the DAG tests."""
from __future__ import annotations

import ast
import datetime as dt
import textwrap

from workflow.dags.dag_file import render_dag
from workflow.document.loader import load_workflow
from workflow.document.variables import KeepUnsetReferences


def render(path, mode="python", **options) -> str:
    """The DAG source for a workflow file; its unset `${VAR}`s stay references, as in `metadata dag`."""
    options = {"dag_id": "mlflow_nightly", "schedule": "15 4 * * 1", "start_date": dt.date(2024, 3, 5),
               "mode": mode, **options}
    return render_dag(load_workflow(path, KeepUnsetReferences()), **options)


def embedded_yaml(source: str) -> str:
    """The workflow text a DAG passes to `run_embedded_workflow`, as the task will see it."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "run_embedded_workflow":
            return textwrap.dedent(node.args[0].value)
    raise AssertionError("no run_embedded_workflow call in the DAG")
