"""MLflow's client settings from the environment (credentials and TLS), read as MLflow reads them, so
the checks and the REST reader behave like `MlflowClient` would for the same environment."""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class MlflowCredentials:
    """MLflow's client settings from the environment, as its own REST client reads them."""

    username: str | None
    password: str | None
    token: str | None
    verify: bool | str
    client_cert: str | None

    @classmethod
    def from_env(cls) -> "MlflowCredentials":
        env = os.environ
        verify: bool | str = True
        if env.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
            verify = False
        elif env.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
            verify = env["MLFLOW_TRACKING_SERVER_CERT_PATH"]
        return cls(env.get("MLFLOW_TRACKING_USERNAME") or None, env.get("MLFLOW_TRACKING_PASSWORD") or None,
                   env.get("MLFLOW_TRACKING_TOKEN") or None, verify, env.get("MLFLOW_TRACKING_CLIENT_CERT_PATH") or None)
