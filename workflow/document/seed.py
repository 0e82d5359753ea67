"""The seed document's sample workflow, verbatim: the YAML that must work as written, and what a new
workflow starts from."""
from __future__ import annotations

SEED_YAML = """\
source:
  type: mlflow
  serviceName: local_mlflow
  serviceConnection:
    config:
      type: Mlflow
      trackingUri: http://localhost:5000
      registryUri: mysql+pymysql://mlflow:password@localhost:3307/experiments
  sourceConfig:
    config:
      type: MlModelMetadata
sink:
  type: metadata-rest
  config: {}
workflowConfig:
  openMetadataServerConfig:
    hostPort: http://localhost:8585/api
    authProvider: no-auth
"""

NEW_WORKFLOW_YAML = "".join(line for line in SEED_YAML.splitlines(keepends=True) if "registryUri:" not in line)
"""What a new workflow starts from: the seed's sample, with the MLflow registry on the tracking server."""
