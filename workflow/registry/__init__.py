"""Reading MLflow, one reader for runs and checks alike; never writes to MLflow.

`mlflow_api.registry_for` picks the reader for a connection: the REST API of a server
(`mlflow_rest`, on the HTTP layer `mlflow_http`), the registry's database read-only (`database`,
with `database_drivers`), or MLflow's own client (`mlflow_client`). Each gives the same records
(`records`), pages through listings the same way (`listing`), and waits and retries as its
`read_policy` says: a run's or a check's. `mlflow_failures` words a failed read for a person,
`mlflow_credentials` reads MLflow's own environment settings, `mlflow_source` builds OpenMetadata
requests from registered models, and `model_names` lists names for the app's preview.
"""
