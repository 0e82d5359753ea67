"""Ingestion throughput: seed N models into a real `mlflow server`, ingest them into the
OpenMetadata stand-in, print models per second.

    .venv/bin/python benchmarks/ingest.py --count 200 [--with-signature] [--workers 8]

The official CLI's figures on this machine are in ../shared/reference/measurements.md
(50 models 17 s, 500 models 110 s, 1,000 models 213 s; every model with a signature).
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import seed_config  # noqa: E402
from mlflow_server import seed_bulk_models, start_mlflow_server  # noqa: E402
from om_standin import OpenMetadataStandIn  # noqa: E402
from workflow.config import Workflow  # noqa: E402
from workflow.runner import run_workflow  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--with-signature", action="store_true", help="log a real model with a signature per model")
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        server = start_mlflow_server(Path(tmp))
        try:
            started = time.monotonic()
            seed_bulk_models(server.url, args.count, with_signature=args.with_signature)
            print(f"seeded {args.count} models in {time.monotonic() - started:.1f} s")
            with OpenMetadataStandIn() as om:
                config = Workflow.model_validate(seed_config(server.url, om.url))
                for label in ("first run", "re-run (unchanged)"):
                    started = time.monotonic()
                    summary = run_workflow(config, workers=args.workers)
                    elapsed = time.monotonic() - started
                    print(f"{label}: {summary.processed} models in {elapsed:.2f} s = "
                          f"{summary.processed / elapsed:.1f} models/s "
                          f"({len(summary.failures)} failures, {len(summary.warnings)} warnings)")
        finally:
            server.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:.0f} MiB (includes seeding)")


if __name__ == "__main__":
    main()
