"""MLflow metadata ingestion into OpenMetadata for service 'local_mlflow', on a schedule.

Written by mlflow-om-workflow (`metadata dag`) from workflow.yaml. The task runs the workflow below
with the same engine as `metadata ingest`, logs the same progress and summary, and fails when
the workflow fails (success % below successThreshold).

No secret is in this file: each ${VAR} in the workflow is read when the task runs, from the
worker's environment first, then from the Airflow Variable of that name.
Variables used: MLFLOW_HOST_PORT, OM_HOST_PORT, OM_JWT_TOKEN.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG
try:  # Airflow 3, or Airflow 2 with the standard provider
    from airflow.providers.standard.operators.python import PythonOperator
except ImportError:  # Airflow 2
    from airflow.operators.python import PythonOperator


def ingest_mlflow_metadata():
    """Run the workflow; raise, failing the task, when it fails.

    Retrying is safe: the engine creates or updates each model by name and skips the unchanged,
    so a re-run changes nothing on the OpenMetadata server that a previous try already wrote.
    The import stays inside: in virtualenv mode only this function's source reaches the virtualenv.
    """
    from workflow.airflow_task import run_embedded_workflow

    run_embedded_workflow(
        r'''
        source:
          type: mlflow
          serviceName: local_mlflow
          serviceConnection:
            config:
              type: Mlflow
              trackingUri: http://${MLFLOW_HOST_PORT}
              registryUri: http://${MLFLOW_HOST_PORT}
          sourceConfig:
            config:
              type: MlModelMetadata
        sink:
          type: metadata-rest
          config: {}
        workflowConfig:
          openMetadataServerConfig:
            hostPort: http://${OM_HOST_PORT}/api
            authProvider: openmetadata
            securityConfig:
              jwtToken: ${OM_JWT_TOKEN}
        ''',
        dag_id='release_0_1_0',
    )


with DAG(
    dag_id='release_0_1_0',
    description="MLflow metadata ingestion into OpenMetadata",
    schedule='@daily',
    start_date=datetime(2024, 3, 5, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["mlflow", "openmetadata"],
) as dag:
    PythonOperator(task_id="ingest", python_callable=ingest_mlflow_metadata)
