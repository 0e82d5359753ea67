"""MLflow's client settings from the environment (credentials and TLS), read as MLflow reads them, so
the checks and the REST reader behave like `MlflowClient` would for the same environment; and so every
secret the process knows (`known_secrets`: the config's and these credentials) is scrubbed from what
it prints, logs or sends.
"""
from __future__ import annotations

import configparser
import os
from dataclasses import dataclass

from pydantic import BaseModel

from ..document.redact import secret_values


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
        """The variables first, then `~/.mlflow/credentials` for the user and password, as MLflow does."""
        env = os.environ
        verify: bool | str = True
        if env.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() in ("true", "1"):
            verify = False
        elif env.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
            verify = env["MLFLOW_TRACKING_SERVER_CERT_PATH"]
        file_user, file_password = _credentials_file()
        return cls(env.get("MLFLOW_TRACKING_USERNAME") or file_user, env.get("MLFLOW_TRACKING_PASSWORD") or file_password,
                   env.get("MLFLOW_TRACKING_TOKEN") or None, verify, env.get("MLFLOW_TRACKING_CLIENT_CERT_PATH") or None)


def known_secrets(config: BaseModel) -> list[str]:
    """Every secret the process knows for a run, to scrub from all it prints, logs or sends: the config's,
    and MLflow's own credentials (its variables, and the password in `~/.mlflow/credentials`), which a
    server may echo in an error as readily."""
    env = os.environ
    mlflow = [env.get("MLFLOW_TRACKING_PASSWORD"), env.get("MLFLOW_TRACKING_TOKEN"), _credentials_file()[1]]
    return secret_values(config) + [secret for secret in mlflow if secret]


def _credentials_file() -> tuple[str | None, str | None]:
    """The `[mlflow]` section of `~/.mlflow/credentials`, which `mlflow login` and users write."""
    config = configparser.ConfigParser()
    try:
        config.read(os.path.expanduser("~/.mlflow/credentials"))
    except configparser.Error:
        return None, None
    section = config["mlflow"] if config.has_section("mlflow") else {}
    return section.get("mlflow_tracking_username") or None, section.get("mlflow_tracking_password") or None
