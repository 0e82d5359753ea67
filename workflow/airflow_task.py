"""The path DAG files import (`from workflow.airflow_task import run_embedded_workflow`), kept so
DAGs written by every release go on running; the task itself lives in workflow.dags.task."""
from .dags.task import WorkflowFailed, run_embedded_workflow

__all__ = ["WorkflowFailed", "run_embedded_workflow"]
