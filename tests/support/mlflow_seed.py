"""Fill a running MLflow server's registry with known content: seven hand-checked models, or many.

Apart from starting servers (tests/support/mlflow_server.py) because this is MLflow's client talking
to any server, however started; it imports mlflow only when called, so importing it stays cheap.

Things worth knowing about MLflow 3.x that shape the seed data below:

* ``mlflow.pyfunc.log_model(name=...)`` creates a *logged model* that lives
  outside the run: its files sit under
  ``mlflow-artifacts:/<exp>/models/<model_id>/artifacts`` while the run's own
  artifact root ``mlflow-artifacts:/<exp>/<run_id>/artifacts`` stays empty.
* A version registered from it has ``source == "models:/<model_id>"``; the
  OSS registry does not echo ``model_id`` back on the ModelVersion.
* MLflow 3 no longer writes the ``mlflow.log-model.history`` run tag that
  MLflow 2 used to carry the signature; ``mlflow2-style`` fakes it.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

# --------------------------------------------------------------------------
# Seeding: shared pieces
# --------------------------------------------------------------------------


# Client-side switches, applied with setdefault so a caller can still opt in.
QUIET_CLIENT_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    # Ending a run otherwise prints "View run ..." links, costing one GET per run.
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}


def _client(tracking_uri: str):
    """Point the fluent API (needed by log_model) and a client at the server.

    Process-wide side effects: the MLflow tracking/registry URI and the
    QUIET_CLIENT_ENV defaults. Both are read lazily by MLflow, so this works
    even when mlflow was imported earlier.
    """
    for key, value in QUIET_CLIENT_ENV.items():
        os.environ.setdefault(key, value)
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def _experiment_id(client, name: str) -> str:
    """Get-or-create an experiment; seeds stay out of the Default experiment."""
    experiment = client.get_experiment_by_name(name)
    return experiment.experiment_id if experiment else client.create_experiment(name)


def _tiny_model():
    """A PythonModel instance; defined lazily so importing this module stays cheap."""
    import mlflow.pyfunc

    class ConstantModel(mlflow.pyfunc.PythonModel):
        """Predicts 0 for every row. No type hints, so no signature is inferred."""

        def predict(self, context, model_input, params=None):
            return [0] * len(model_input)

    return ConstantModel()


def _signature(inputs: dict[str, str], output: str = "long"):
    """Build a ModelSignature from {column: mlflow type}."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec(type_, name) for name, type_ in inputs.items()]),
        outputs=Schema([ColSpec(output)]),
    )


def feature_kind(mlflow_type: str) -> str:
    """Map an MLflow column type to an OpenMetadata feature type.

    Mirrors upstream OpenMetadata's MLflow source: only ``string`` is
    categorical, everything else (including boolean) is numerical.
    """
    return "categorical" if mlflow_type == "string" else "numerical"


def _features(inputs: dict[str, str] | None) -> dict[str, str]:
    return {name: feature_kind(t) for name, t in (inputs or {}).items()}


def _log_pyfunc_version(client, experiment_id, model_name, params, inputs, run_name=None):
    """Log a pyfunc model in a fresh run and register it as a new version of model_name.

    ``inputs`` None logs the model without a signature.
    Returns (run, logged_model, model_version).
    """
    import mlflow

    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
        if params:
            mlflow.log_params(params)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=_tiny_model(),
            signature=_signature(inputs) if inputs else None,
            # An explicit list skips requirement inference, which would load the
            # model in a subprocess (seconds per model).
            pip_requirements=["mlflow"],
        )
    # register_model (unlike a bare create_model_version) also tags the logged
    # model with mlflow.modelVersions, exactly as registered_model_name= would.
    version = mlflow.register_model(info.model_uri, model_name, await_registration_for=0)
    return client.get_run(run.info.run_id), client.get_logged_model(info.model_id), version


def _version_record(run, logged_model, version, params, inputs) -> dict:
    """What a test needs to know about one model version.

    ``model_artifact_uri`` is where the MLmodel file lives (the logged model's
    artifact location, also what get_model_version_download_uri returns).
    """
    return {
        "version": version.version,
        "run_id": run.info.run_id,
        "artifact_uri": run.info.artifact_uri,
        "source": version.source,
        "model_id": logged_model.model_id if logged_model else None,
        "model_artifact_uri": logged_model.artifact_location if logged_model else None,
        "params": dict(params or {}),
        "features": _features(inputs),
        "signature_inputs": dict(inputs or {}),
    }


def _model_record(name, description, versions: list[dict], tags=None) -> dict:
    """Describe a registered model; top-level fields are those of the highest version."""
    by_number = {v["version"]: v for v in versions}
    latest = max(by_number, key=int) if by_number else None
    top = by_number.get(latest, {})
    return {
        "name": name,
        "description": description,
        "tags": dict(tags or {}),
        "latest_version": latest,
        "run_id": top.get("run_id"),
        "artifact_uri": top.get("artifact_uri"),
        "source": top.get("source"),
        "model_id": top.get("model_id"),
        "model_artifact_uri": top.get("model_artifact_uri"),
        "params": top.get("params", {}),
        "features": top.get("features", {}),
        "versions": by_number,
    }


# --------------------------------------------------------------------------
# Seeding: the standard, hand-checked models
# --------------------------------------------------------------------------

STANDARD_EXPERIMENT = "seed-standard-models"


def seed_standard_models(tracking_uri: str) -> dict[str, dict]:
    """Create the seven registry fixtures ingestion tests assert against.

    Returns {registered model name: record}; see _model_record for the keys.
    ``features`` is {} whenever the ingestion should find no features.
    Note: sets the process-wide MLflow tracking/registry URI to tracking_uri.
    """
    client = _client(tracking_uri)
    exp = _experiment_id(client, STANDARD_EXPERIMENT)
    builders = [
        _seed_churn_classifier, _seed_fraud_detector, _seed_unicode_model,
        _seed_no_signature, _seed_empty_model, _seed_two_versions, _seed_mlflow2_style,
    ]
    # Each builder owns distinct models and mostly waits on the server, so
    # running them side by side roughly halves the wall time.
    with ThreadPoolExecutor(max_workers=4) as pool:
        records = list(pool.map(lambda build: build(client, exp), builders))
    return {record["name"]: record for record in records}


def _seed_simple(client, exp, name, description, params, inputs, tags=None) -> dict:
    """One registered model with one logged-model version."""
    client.create_registered_model(name, tags=tags, description=description)
    run, model, version = _log_pyfunc_version(client, exp, name, params, inputs)
    return _model_record(name, description, [_version_record(run, model, version, params, inputs)], tags)


def _seed_churn_classifier(client, exp) -> dict:
    return _seed_simple(
        client, exp, "churn-classifier", "Predicts churn",
        params={"lr": "0.01", "epochs": "10"},
        inputs={"age": "long", "city": "string", "income": "double"},
        tags={"team": "growth"},
    )


def _seed_fraud_detector(client, exp) -> dict:
    """Dots and a space in the name: FQN quoting and URL-encoding edge cases."""
    return _seed_simple(
        client, exp, "fraud.detector v2", None,
        params={"threshold": "0.8", "max_depth": "6"},
        inputs={"is_foreign": "boolean", "amount": "float"},
    )


def _seed_unicode_model(client, exp) -> dict:
    return _seed_simple(
        client, exp, "modèle-prévision", "Prévision des ventes — modèle ☃",
        params={"horizon": "30"},
        inputs={"magasin": "string", "semaine": "integer"},
    )


def _seed_no_signature(client, exp) -> dict:
    return _seed_simple(
        client, exp, "no-signature-model", "Logged without a signature",
        params={"seed": "42"}, inputs=None,
    )


def _seed_empty_model(client, exp) -> dict:
    """Registered but never versioned: ingestion must skip or report it, not crash."""
    name, description = "empty-model", "Registered, never versioned"
    client.create_registered_model(name, description=description)
    return _model_record(name, description, [])


def _seed_two_versions(client, exp) -> dict:
    """v1 is touched after v2 exists: 'latest by number' != 'latest by update time'."""
    name, description = "two-versions", "Two versions, v1 edited last"
    client.create_registered_model(name, description=description)
    v1_inputs, v2_inputs = {"v1_feature": "double"}, {"v2_text": "string", "v2_count": "long"}
    records = []
    for params, inputs in (({"which": "v1"}, v1_inputs), ({"which": "v2"}, v2_inputs)):
        run, model, version = _log_pyfunc_version(client, exp, name, params, inputs)
        records.append(_version_record(run, model, version, params, inputs))
    time.sleep(0.01)  # timestamps are in ms: make "later" unambiguous
    client.update_model_version(name, "1", description="v1 edited after v2 was created")
    client.set_model_version_tag(name, "1", "edited_after_v2", "true")
    return _model_record(name, description, records)


def _seed_mlflow2_style(client, exp) -> dict:
    """Only the MLflow 2 ``mlflow.log-model.history`` run tag knows the signature.

    The version source points at the run's ``model`` folder, where nothing was
    uploaded, so there is no MLmodel to read.
    """
    name, description = "mlflow2-style", "Registered the MLflow 2 way"
    params = {"alpha": "0.5"}
    inputs = {"x": "double", "label": "string"}
    client.create_registered_model(name, description=description)
    run = client.create_run(exp, run_name="mlflow2-run")
    run_id = run.info.run_id
    for key, value in params.items():
        client.log_param(run_id, key, value)
    client.set_tag(run_id, "mlflow.log-model.history", _mlflow2_history(run_id, inputs))
    client.set_terminated(run_id)
    source = f"{run.info.artifact_uri}/model"
    version = client.create_model_version(name, source=source, run_id=run_id, await_creation_for=0)
    record = _version_record(client.get_run(run_id), None, version, params, inputs)
    return _model_record(name, description, [record])


def _mlflow2_history(run_id: str, inputs: dict[str, str]) -> str:
    """The JSON MLflow 2.x stored in ``mlflow.log-model.history``.

    ``signature.inputs``/``outputs`` are JSON *strings* inside the JSON. No
    ``"required": true`` keys: upstream OpenMetadata parses them with
    ast.literal_eval, which chokes on JSON ``true``.
    """
    entry = {
        "run_id": run_id,
        "artifact_path": "model",
        "utc_time_created": "2024-01-15 10:00:00.000000",
        "model_uuid": uuid.uuid4().hex,
        "flavors": {
            "python_function": {
                "loader_module": "mlflow.pyfunc.model",
                "python_model": "python_model.pkl",
                "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                "python_version": "3.11.7",
            }
        },
        "signature": {
            "inputs": json.dumps([{"name": n, "type": t} for n, t in inputs.items()]),
            "outputs": json.dumps([{"type": "long"}]),
            "params": None,
        },
    }
    return json.dumps([entry])


# --------------------------------------------------------------------------
# Seeding: many models, fast
# --------------------------------------------------------------------------


def seed_bulk_models(
    tracking_uri: str,
    count: int,
    *,
    prefix: str = "bulk-",
    with_signature: bool = False,
    threads: int = 8,
) -> list[str]:
    """Create ``count`` registered models named ``{prefix}{i:05d}``, one version each.

    Plain mode costs four REST calls per model (registered model, run, params,
    version whose source is the run's ``model`` folder, which stays empty);
    with_signature=True logs a real pyfunc logged model per model instead,
    which is an order of magnitude slower. Work is spread over a thread pool:
    the server, not the client, is the bottleneck.
    """
    client = _client(tracking_uri)
    exp = _experiment_id(client, f"seed-{prefix}models")
    names = [f"{prefix}{i:05d}" for i in range(count)]
    make = _bulk_signed if with_signature else _bulk_plain
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        # list() re-raises the first worker exception here.
        list(pool.map(lambda name: make(client, exp, name), names))
    return names


def _bulk_plain(client, exp, name: str) -> None:
    from mlflow.entities import Param

    client.create_registered_model(name)
    run = client.create_run(exp, run_name=name)
    client.log_batch(run.info.run_id, params=[Param("lr", "0.1"), Param("batch", "32")])
    client.create_model_version(
        name, source=f"{run.info.artifact_uri}/model", run_id=run.info.run_id, await_creation_for=0
    )


def _bulk_signed(client, exp, name: str) -> None:
    client.create_registered_model(name)
    _log_pyfunc_version(
        client, exp, name, {"lr": "0.1", "batch": "32"}, {"x": "double", "label": "string"},
        run_name=name,
    )
