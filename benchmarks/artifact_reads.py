"""What reading MLmodel files costs the MLflow server: from its artifact proxy against `get-artifact`.

    .venv/bin/python -m benchmarks.artifact_reads --registry-cache ~/.cache/om-bench

The registry of benchmarks/compare.py (N = 1,000 by default, kept in --registry-cache), listed and
its runs read as a run reads them; then every highest version's MLmodel file is read by 8 threads,
in turn through the artifact proxy (where `proxied_location` tells where it is) and through
`get-artifact`, twice each. Printed: wall time and the server's CPU seconds for each pass.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import requests

from benchmarks.compare import _cpu_seconds, registry_server
from workflow.registry.mlflow_http import ARTIFACTS
from workflow.registry.mlflow_rest import RestRegistry, proxied_location
from workflow.registry.records import highest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--registry-cache", type=Path)
    args = parser.parse_args()
    server = registry_server(args.count, Path(tempfile.mkdtemp()), args.registry_cache, False)
    try:
        registry = RestRegistry(server.url)
        versions = [v for m in registry.models_page(args.count, None).models if (v := highest(m.latest_versions))]
        runs = registry.runs([v.run_id for v in versions if v.run_id])
        registry.close()
        local = [f"{server.url}{ARTIFACTS}/{quote(proxied_location(v, runs.get(v.run_id)) or '')}/MLmodel"
                 for v in versions]
        served = [f"{server.url}/model-versions/get-artifact?name={quote(v.name)}&version={v.version}&path=MLmodel"
                  for v in versions]
        for label, urls in (("artifact proxy", local), ("get-artifact", served)) * 2:
            before, started = _cpu_seconds(server.process.pid), time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                codes = set(pool.map(lambda url: requests.get(url, timeout=30).status_code, urls))
            print(f"{label:15} {len(urls)} files  {time.perf_counter() - started:5.2f} s wall  "
                  f"{_cpu_seconds(server.process.pid) - before:5.2f} CPU-s server  HTTP {sorted(codes)}", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
