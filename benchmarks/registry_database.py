"""The same registry read over HTTP and, in the seed's shape, from the database behind the server.

    .venv/bin/python -m benchmarks.registry_database                 # N = 200, 3 rounds
    .venv/bin/python -m benchmarks.registry_database --count 1000 --rounds 3

A real MariaDB (Debian's package, started here on a free port) holds the store of a real
`mlflow server` (3.x, 2 workers, served artifacts), filled with N models by benchmarks/registry.py.
Then, round after round, `metadata ingest` runs twice into a fresh OpenMetadata stand-in:
`http` with trackingUri = registryUri = the server, and `mysql` with the seed's shape, trackingUri
the server and `registryUri: mysql+pymysql://...` read by a user granted SELECT only. Printed per
run: wall time, peak RSS, models delivered (with features); per round, whether both delivered the
same contents; at the end the medians and the ratio mysql / http (the target: within 1.5x, and a
peak under 80 MB). Before this reader, the `mysql` run took 4.9 s and 229 MB for 200 models against
2.1 s and 45 MB over HTTP (it went through MLflow's client, which migrated the database).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.compare import OURS, Result, Tool, machine, print_run, run_tool, same_contents
from benchmarks.registry import seed_registry
from tests.support.databases import start_mariadb
from tests.support.mlflow_server import start_mlflow_server

DATABASE, OWNER, READER, PASSWORD = "experiments", "owner", "mlflow", "bench-password"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="registered models (default 200)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mariadb = start_mariadb(folder / "mariadb")
        try:
            mariadb.create_database(DATABASE)
            mariadb.create_user(OWNER, PASSWORD, DATABASE)
            mariadb.create_user(READER, PASSWORD, DATABASE, privileges="SELECT")
            server = start_mlflow_server(folder / "mlflow", workers=2,
                                         backend_store_uri=mariadb.uri(OWNER, PASSWORD, DATABASE))
            try:
                bench(server, mariadb.uri(READER, PASSWORD, DATABASE), args.count, args.rounds, folder)
            finally:
                server.stop()
        finally:
            mariadb.stop()
    return 0


def bench(server, registry_uri: str, count: int, rounds: int, folder: Path) -> None:
    started = time.perf_counter()
    seed_registry(server.url, count, artifacts_dir=server.root / "artifacts")
    print(f"N = {count:,}: seeded in {time.perf_counter() - started:.0f} s (MLflow server on MariaDB)")
    results: dict[str, list[Result]] = {"http": [], "mysql": []}
    for round_no in range(1, rounds + 1):
        for name, uri in (("http", None), ("mysql", registry_uri)):
            result = run_tool(Tool(name, OURS), server, 0, folder, registry_uri=uri)[0]
            results[name].append(result)
            print_run(result, count, f"round {round_no}")
        print(f"  round {round_no} contents: {same_contents(results['http'][-1], results['mysql'][-1])}")
    medians = {name: statistics.median(r.wall for r in runs) for name, runs in results.items()}
    for name, runs in results.items():
        print(f"  {name}: median {medians[name]:.2f} s, peak RSS {max(r.rss_mb for r in runs):.0f} MB over {rounds} round(s)")
    print(f"  mysql / http wall time: {medians['mysql'] / medians['http']:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
