"""Reading MLflow: the records every reader gives (records), the REST and client readers and the
choice between them (mlflow_api), a registry read straight from its database, read-only
(database, with database_drivers for what a database URI needs), building OpenMetadata requests
from registered models (mlflow_source), MLflow credentials and the model-name listing the app
offers. Never writes to MLflow."""
