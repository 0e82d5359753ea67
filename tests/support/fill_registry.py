"""Fill an MLflow registry with a small known set of models, through MLflow's own client of
whichever release runs this script (the project's MLflow 3, or 2.22 in its own virtualenv):

    python fill_registry.py TRACKING_URI [ARTIFACT_LOCATION]

TRACKING_URI is a server (http://...) or a database MLflow then creates its tables in itself;
ARTIFACT_LOCATION, for a database, is the folder the experiment's files go to. The same models
come out of every release, so the tests can compare what each gives (`MODELS` in the tests).
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

import mlflow  # noqa: E402
import mlflow.pyfunc  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.models import ModelSignature  # noqa: E402
from mlflow.types import ColSpec, Schema  # noqa: E402

MLFLOW_3 = int(mlflow.__version__.split(".")[0]) >= 3


class ConstantModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [0] * len(model_input)


def log_version(client, experiment_id, name, params, inputs):
    """A run with `params` and a pyfunc model (with a signature when `inputs`), registered under `name`."""
    signature = None
    if inputs:
        signature = ModelSignature(inputs=Schema([ColSpec(t, n) for n, t in inputs.items()]),
                                   outputs=Schema([ColSpec("long")]))
    where = {"name": "model"} if MLFLOW_3 else {"artifact_path": "model"}
    with mlflow.start_run(experiment_id=experiment_id):
        mlflow.log_params(params)
        info = mlflow.pyfunc.log_model(python_model=ConstantModel(), signature=signature,
                                       pip_requirements=["mlflow"], **where)
    return mlflow.register_model(info.model_uri, name, await_registration_for=0)


def fill(tracking_uri: str, artifact_location: str | None) -> None:
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment_id = client.create_experiment("fill-registry", artifact_location=artifact_location)

    client.create_registered_model("churn-classifier", tags={"team": "growth"}, description="Predicts churn")
    log_version(client, experiment_id, "churn-classifier", {"lr": "0.01", "epochs": "10"},
                {"age": "long", "city": "string", "income": "double"})

    client.create_registered_model("fraud.detector v2")
    log_version(client, experiment_id, "fraud.detector v2", {"threshold": "0.8"}, {"is_foreign": "boolean", "amount": "float"})

    client.create_registered_model("two-versions", description="v1 in Production, v2 newer")
    log_version(client, experiment_id, "two-versions", {"which": "v1"}, {"v1_feature": "double"})
    log_version(client, experiment_id, "two-versions", {"which": "v2"}, {"v2_text": "string", "v2_count": "long"})
    client.transition_model_version_stage("two-versions", "1", "Production")
    client.set_registered_model_alias("two-versions", "champion", "1")

    client.create_registered_model("deleted-latest", description="v2 deleted: v1 is the latest")
    log_version(client, experiment_id, "deleted-latest", {"which": "v1"}, {"kept": "double"})
    log_version(client, experiment_id, "deleted-latest", {"which": "v2"}, {"deleted": "double"})
    client.delete_model_version("deleted-latest", "2")

    client.create_registered_model("no-signature-model", description="Logged without a signature")
    log_version(client, experiment_id, "no-signature-model", {"seed": "42"}, None)

    client.create_registered_model("modèle-prévision", description="Prévision des ventes ☃")
    log_version(client, experiment_id, "modèle-prévision", {"horizon": "30"}, {"magasin": "string"})

    client.create_registered_model("empty-model", description="Registered, never versioned")


if __name__ == "__main__":
    fill(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
