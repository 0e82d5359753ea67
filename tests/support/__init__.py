"""What the tests start and talk to, beside the tests themselves: the OpenMetadata stand-in
(om_standin/), the real `mlflow server` (mlflow_server) and its seed data (mlflow_seed), the fault proxy
in front of it (mlflow_proxy), servers that misbehave on purpose (hostile_servers), the token-endpoint stand-in
(token_standin), real MariaDB and PostgreSQL (databases) with registries MLflow 2.22 and 3 created
in them (registries, mlflow_versions, fill_registry), Airflow in its own virtualenv (airflow_env),
the seed's workflow pointed at local servers (workflows), and the TUI tests' fixed services and
pilot helpers (app_pilot).

Tests import them as `tests.support.<module>`: pytest puts the repository root on the path
(`pythonpath` in pyproject.toml), and benchmarks run as modules from it (`python -m benchmarks.compare`).
"""
