"""Fill an MLflow server with N registered models, fast enough for N = 10,000.

Each model gets what the ingestion reads: a registered model, a run with params, a logged model
whose artifacts include an `MLmodel` file with a signature, and a version pointing at it; the run
then ends, as a training script's does. The first
model is logged for real by `mlflow.pyfunc.log_model`; the others are created through the same REST
calls MLflow's client makes, with that model's artifact files uploaded through the server's artifact
proxy, their ids, params and signature columns made their own. Logging every model with
`log_model` costs about 72 ms of client work each (../shared/reference/measurements.md); this costs
the server's time only, spread over a thread pool.

    .venv/bin/python -m benchmarks.registry --tracking-uri http://127.0.0.1:5000 --count 1000
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import yaml

API = "/api/2.0/mlflow"
ARTIFACT_FILES = ("MLmodel", "conda.yaml", "python_env.yaml", "requirements.txt", "python_model.pkl")
FEATURE_SETS = (["x", "label"], ["x", "y", "label"], ["age", "income", "segment"], ["pixels"], ["a", "b", "c", "d"])


def seed_registry(url: str, count: int, *, prefix: str = "bench-", threads: int = 8,
                  artifacts_dir: Path | None = None, auth: tuple[str, str] | None = None) -> list[str]:
    """Create `count` models named `{prefix}{i:05d}` and return their names.

    With `artifacts_dir` (the server's --artifacts-destination, when this process started the
    server) the artifact files are written there directly, which is where the server's upload
    would put them, saving five uploads per model; without it they are uploaded. `auth` is a
    basic-auth user for a server that wants one (MLflow's client, which logs the first model,
    reads MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD instead).
    """
    from tests.support.mlflow_seed import seed_bulk_models

    url = url.rstrip("/")
    names = [f"{prefix}{i:05d}" for i in range(count)]
    if not names:
        return names
    seed_bulk_models(url, 1, prefix=prefix, with_signature=True)  # the real one: names[0]
    first = requests.Session()
    first.auth = auth
    template = _template(first, url, names[0])
    experiment = _call(first, "POST", url, "/experiments/create", {"name": f"{prefix}bulk"})["experiment_id"]
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.auth = auth
            # A kept-alive connection to `mlflow server` waits ~40 ms per call for a delayed ACK
            # (see workflow/registry/mlflow_http.py); a fresh one per call costs ~5 ms.
            local.session.headers["Connection"] = "close"
        return local.session

    with ThreadPoolExecutor(max(1, threads)) as pool:
        list(pool.map(lambda i: _one(session(), url, experiment, names[i], i, template, artifacts_dir), range(1, count)))
    return names


def _template(http: requests.Session, url: str, name: str) -> dict[str, bytes]:
    """The artifact files of the model `log_model` wrote, read back through the server."""
    version = _call(http, "GET", url, "/registered-models/get", {"name": name})["registered_model"]["latest_versions"][0]
    files = {}
    for path in ARTIFACT_FILES:
        answer = http.get(f"{url}/model-versions/get-artifact",
                              params={"name": name, "version": version["version"], "path": path}, timeout=30)
        answer.raise_for_status()
        files[path] = answer.content
    return files


def _one(http: requests.Session, url: str, experiment: str, name: str, i: int, template: dict[str, bytes],
         artifacts_dir: Path | None) -> None:
    _call(http, "POST", url, "/registered-models/create", {"name": name})
    run_id = _call(http, "POST", url, "/runs/create", {"experiment_id": experiment, "run_name": name})["run"]["info"]["run_id"]
    params = [{"key": "lr", "value": str(0.01 * (1 + i % 10))}, {"key": "batch", "value": str(16 << (i % 3))},
              {"key": "depth", "value": str(i % 7)}]
    _call(http, "POST", url, "/runs/log-batch", {"run_id": run_id, "params": params})
    model = _call(http, "POST", url, "/logged-models",
                  {"experiment_id": experiment, "name": "model", "source_run_id": run_id})["model"]["info"]
    model_id = model["model_id"]
    where = model["artifact_uri"].split(":", 1)[1].lstrip("/")  # mlflow-artifacts:/1/models/m-.../artifacts
    for path, content in template.items():
        if path == "MLmodel":
            content = _mlmodel(content, model_id, run_id, FEATURE_SETS[i % len(FEATURE_SETS)])
        if artifacts_dir:
            (artifacts_dir / where).mkdir(parents=True, exist_ok=True)
            (artifacts_dir / where / path).write_bytes(content)
        else:
            http.put(f"{url}/api/2.0/mlflow-artifacts/artifacts/{where}/{path}", data=content, timeout=30).raise_for_status()
    _call(http, "PATCH", url, f"/logged-models/{model_id}", {"model_id": model_id, "status": "LOGGED_MODEL_READY"})
    _call(http, "POST", url, "/model-versions/create", {"name": name, "source": f"models:/{model_id}", "run_id": run_id,
                                                          "model_id": model_id})
    _call(http, "POST", url, "/runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": int(time.time() * 1000)})


def _mlmodel(template: bytes, model_id: str, run_id: str, columns: list[str]) -> bytes:
    mlmodel = yaml.safe_load(template)
    mlmodel.update(model_id=model_id, model_uuid=model_id, run_id=run_id)
    inputs = [{"type": "string" if c in ("label", "segment") else "double", "name": c, "required": True} for c in columns]
    mlmodel["signature"]["inputs"] = json.dumps(inputs)
    return yaml.safe_dump(mlmodel, sort_keys=False).encode()


def _call(http: requests.Session, method: str, url: str, path: str, body: dict) -> dict:
    kwargs = {"params": body} if method == "GET" else {"json": body}
    answer = http.request(method, f"{url}{API}{path}", timeout=30, **kwargs)
    if answer.status_code != 200:
        raise RuntimeError(f"{method} {path} answered HTTP {answer.status_code}: {answer.text[:300]}")
    return answer.json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", required=True, help="an MLflow server, e.g. http://127.0.0.1:5000")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--prefix", default=f"bench-{time.strftime('%H%M%S')}-")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    names = seed_registry(args.tracking_uri, args.count, prefix=args.prefix, threads=args.threads)
    elapsed = time.perf_counter() - started
    print(f"seeded {len(names)} models ({args.prefix}*) in {elapsed:.1f} s ({len(names) / elapsed:.0f} models/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
