"""Reading MLflow: the REST and client readers a run uses (mlflow_api), building OpenMetadata
requests from registered models (mlflow_source), MLflow credentials and the model-name listing
the app offers. Never writes to MLflow."""
