"""Airflow export: rendering a workflow as a DAG file (dag_file, `metadata dag`) and the task a
DAG calls when it runs (task). DAG files import `workflow.airflow_task`, kept as that path."""
