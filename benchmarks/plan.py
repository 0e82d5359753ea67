"""`metadata ingest --plan` against the run it plans, on the same MLflow server and OpenMetadata stand-in.

    .venv/bin/python -m benchmarks.plan                  # N = 1,000
    .venv/bin/python -m benchmarks.plan --counts 10000

For each N: a real `mlflow server` (sqlite, 2 workers, served artifacts) is filled with N models
(benchmarks/registry.py); then, into one stand-in, in this order: a warm-up plan (the first reads
of a freshly seeded server are slower), a plan over the empty catalogue
(every model new), the first run (creates them), a plan over the filled catalogue (every model
unchanged), and a second run (sends nothing). Printed for each: wall time, models per second, peak
RSS, and the requests OpenMetadata received (a plan must send GETs only). Both read the same things
from MLflow, so a plan should take about as long as the run it plans.
"""
from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.compare import OURS, _high_water_kb, bot_jwt, machine, workflow
from benchmarks.registry import seed_registry
from tests.support.mlflow_server import start_mlflow_server
from tests.support.om_standin import OpenMetadataStandIn

STEPS = (("warm-up plan (server caches)", ["--plan"]),
         ("plan, empty catalogue", ["--plan"]), ("run, creates every model", []),
         ("plan, nothing changed", ["--plan"]), ("run, nothing changed", []))


def timed(args: list[str], log: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB and exit code of one `metadata ingest`."""
    started = time.perf_counter()
    with open(log, "wb") as out:
        process = subprocess.Popen([OURS, "ingest", *args], stdout=out, stderr=subprocess.STDOUT)
        peak_kb = 0
        while process.poll() is None:
            peak_kb = max(peak_kb, _high_water_kb(process.pid))
            time.sleep(0.05)
    return time.perf_counter() - started, peak_kb / 1024, process.returncode


def bench(count: int, folder: Path) -> None:
    server = start_mlflow_server(folder / f"mlflow-{count}", workers=2)
    try:
        started = time.perf_counter()
        seed_registry(server.url, count, artifacts_dir=server.root / "artifacts")
        print(f"\nN = {count:,}: seeded in {time.perf_counter() - started:.0f} s")
        token = bot_jwt()
        with OpenMetadataStandIn(token=token) as om:
            config = folder / "workflow.yaml"
            config.write_text(yaml.safe_dump(workflow(server.url, om.url, token)))
            for label, extra in STEPS:
                om.clear_requests()
                log = folder / f"{label.replace(' ', '_').replace(',', '')}.log"
                wall, rss, code = timed(["-c", str(config), *extra], log)
                methods = collections.Counter(r.method for r in om.requests)
                print(f"  {label:<26} {wall:7.1f} s {count / wall:7.1f} models/s {rss:6.0f} MB peak  exit {code}  "
                      f"OpenMetadata got {dict(sorted(methods.items()))}")
                if code != 0:
                    print("    last lines: " + " | ".join(log.read_text(errors="replace").splitlines()[-5:]))
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1000], help="registry sizes (default 1000)")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.counts:
            bench(count, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
