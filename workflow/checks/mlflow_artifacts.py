"""Whether a version's artifacts hold an MLmodel file, asked of an MLflow server without its
`get-artifact` endpoint: the registry says where the version's files are (`get-download-uri`, or the
database's own record) and the file is asked of the server's artifact proxy, of an HTTP store, or
looked for in a local folder. A run reads every model's file anyway (from the artifact proxy or
`get-artifact`), so the check stays off `get-artifact` and asks for no more than one file; a store
this cannot reach is read as a run reads it."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from ..errors import EndpointError
from ..registry.mlflow_failures import mlflow_refusal, response_json
from ..registry.mlflow_http import API, ARTIFACTS, MlflowHttp
from ..registry.records import Version

DOWNLOAD_URI = API + "/model-versions/get-download-uri"


def download_uri(registry: MlflowHttp, version: Version) -> str:
    """Where the registry server says the version's files are."""
    response = registry.probe(DOWNLOAD_URI, name=version.name, version=version.version)
    data = response_json(response)
    if response.status_code == 200 and isinstance(data, dict):
        return str(data.get("artifact_uri") or "")
    raise mlflow_refusal(response, data, f"locate the artifacts of {version.name!r} version {version.version}",
                         registry.credentials)


def served_mlmodel(tracking: MlflowHttp, location: str) -> bool | None:
    """Whether the model folder at `location` has an MLmodel file; None when only MLflow's artifact
    repositories can tell (a cloud store); raises when it cannot be read at all."""
    parts = urlsplit(location)
    if parts.scheme == "mlflow-artifacts":
        base = f"{urlsplit(tracking.base).scheme}://{parts.netloc}" if parts.netloc else tracking.base
        return _fetch(tracking, ARTIFACTS + "/" + parts.path.strip("/") + "/MLmodel", base)
    if parts.scheme in ("http", "https"):
        return _fetch(tracking, "/MLmodel", location)
    if parts.scheme in ("", "file"):
        folder = Path(parts.path if parts.scheme else location)
        if not folder.is_dir():
            raise EndpointError(f"the artifacts are in a folder of the MLflow server's machine ({folder}), not here",
                                hint="start the server with --serve-artifacts (the default) and --artifacts-destination, "
                                     "so clients read artifacts through it")
        return (folder / "MLmodel").is_file()
    return None


def _fetch(http: MlflowHttp, path: str, base: str) -> bool:
    response = http.probe(path, base=base)
    if response.status_code == 200:
        return True
    if response.status_code == 404:
        return False
    raise mlflow_refusal(response, response_json(response), "read model artifacts", http.credentials)
