"""Whether a model version's artifacts hold an MLmodel file (the features come from its signature),
wherever they are: served by the tracking server, at an HTTP URL, in a local folder, or in a store
only MLflow's client can read."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from ..errors import EndpointError
from .mlflow_client import ClientStore
from .mlflow_http import MlflowHttp, mlflow_refusal, response_json

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


def read_mlmodel(location: str, tracking: str, client: ClientStore, timeout: float) -> bool:
    """Whether the model folder at `location` has an MLmodel file; raises when it cannot be read at all."""
    parts = urlsplit(location)
    served_by_tracking = urlsplit(tracking).scheme in ("http", "https")
    if parts.scheme == "mlflow-artifacts" and served_by_tracking:
        base = f"{urlsplit(tracking).scheme}://{parts.netloc}" if parts.netloc else tracking
        return _fetch_mlmodel(MlflowHttp(base, timeout), ARTIFACTS + "/" + parts.path.strip("/") + "/MLmodel")
    if parts.scheme in ("http", "https"):
        return _fetch_mlmodel(MlflowHttp(location, timeout), "/MLmodel")
    if parts.scheme in ("", "file"):
        folder = Path(parts.path if parts.scheme else location)
        if not folder.is_dir():
            raise EndpointError(f"the artifacts are in a folder of the MLflow server's machine ({folder}), not here",
                                hint="start the server with --serve-artifacts (the default) and --artifacts-destination, "
                                     "so clients read artifacts through it")
        return (folder / "MLmodel").is_file()
    return client.has_mlmodel(location)


def _fetch_mlmodel(http: MlflowHttp, path: str) -> bool:
    response = http.get(path)
    if response.status_code == 200:
        return True
    if response.status_code == 404:
        return False
    raise mlflow_refusal(response, response_json(response), "read model artifacts", http.credentials)
