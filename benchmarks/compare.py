"""Side by side: our `metadata ingest` and the official CLI, on the same MLflow server and stand-in,
over a modelled network.

    .venv/bin/python -m benchmarks.compare                                   # N = 1,000, loopback
    .venv/bin/python -m benchmarks.compare --rtt-ms 0 2 20 --rerun           # the README's table
    .venv/bin/python -m benchmarks.compare --counts 10000 --rerun --registry-cache ~/.cache/om-bench
    .venv/bin/python -m benchmarks.compare --counts 50 --basic-auth

For each N: a real `mlflow server` (sqlite, 2 workers, served artifacts) is filled with N models,
each with a run, params and a logged model with a signature (benchmarks/registry.py). Then, for
each round trip and round, each tool ingests them into a fresh OpenMetadata stand-in. A round trip
above 0 puts benchmarks/latency_proxy.py between the tool and both servers (RTT/2 each way per
chunk, one RTT per new connection, no bandwidth cap); 0 is plain loopback, no proxy. Printed per
run: wall time, models per second, peak RSS of the tool's process, MLflow requests per model (from
the server's access log: every request the run made, listing and checks included), the MLflow
server's CPU seconds (its whole process group, from /proc), models delivered and delivered with
features; and per round the ratio official / ours. The stand-in's contents after each tool are
compared model by model (hyper-parameters, features, store). `--rerun` runs ours a second time
into the same stand-in, unchanged registry: what a scheduled run costs. The official CLI runs when
OM_PEER_PYTHON names a Python with it (`../shared/tools/peer_venv.sh DIR`), up to --official-max
models.

Also printed: `metadata --help`, the TUI's first frame, and the time to report a refused port.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import yaml

from benchmarks.registry import seed_registry
from tests.support.mlflow_server import ADMIN_PASSWORD, ADMIN_USERNAME, MlflowServer, start_mlflow_server
from tests.support.om_standin import OpenMetadataStandIn

ROOT = Path(__file__).resolve().parents[1]

OURS = str(Path(sys.executable).with_name("metadata"))
READER = ("reader", "reader-password-1234")
SEED_VERSION = 2
"""Raised when benchmarks/registry.py seeds differently, so a cached registry of the old shape is not
reused (2: the runs end, as a training script's do)."""
"""A user the basic-auth server's default READ permission lets see every model, nothing more."""


@dataclass(frozen=True)
class Tool:
    name: str
    command: str
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Result:
    tool: str
    wall: float
    rss_mb: float
    exit_code: int
    contents: dict[str, tuple]
    mlflow_requests: int
    server_cpu: float

    @property
    def delivered(self) -> int:
        return len(self.contents)

    @property
    def with_features(self) -> int:
        return sum(1 for c in self.contents.values() if c[1])


def bot_jwt() -> str:
    """A JWT as OpenMetadata issues to its ingestion bot; both tools send it, neither verifies it."""
    part = lambda data: base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()  # noqa: E731
    claims = {"sub": "ingestion-bot", "exp": int(time.time()) + 86400}
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.{secrets.token_hex(16)}"


def workflow(mlflow_url: str, om_url: str, token: str, registry_uri: str | None = None) -> dict:
    """The same file for both tools: the official CLI does not accept `no-auth`, so a bot JWT."""
    connection = {"type": "Mlflow", "trackingUri": mlflow_url, "registryUri": registry_uri or mlflow_url}
    return {
        "source": {"type": "mlflow", "serviceName": "bench_mlflow", "serviceConnection": {"config": connection},
                   "sourceConfig": {"config": {"type": "MlModelMetadata", "markDeletedMlModels": True}}},
        "sink": {"type": "metadata-rest", "config": {}},
        "workflowConfig": {"loggerLevel": "INFO", "successThreshold": 90, "openMetadataServerConfig": {
            "hostPort": om_url, "authProvider": "openmetadata", "securityConfig": {"jwtToken": token}}},
    }


@contextmanager
def network(rtt_ms: float, *urls: str) -> Iterator[list[str]]:
    """The URLs to reach `urls` through, `rtt_ms` away: themselves at 0, else a latency proxy's."""
    if not rtt_ms:
        yield list(urls)
        return
    proxy = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "latency_proxy.py"), "--rtt-ms", str(rtt_ms),
                              *urls], stdout=subprocess.PIPE, text=True)
    try:
        yield [proxy.stdout.readline().split(" -> ")[1].strip() for _ in urls]
    finally:
        proxy.terminate()
        proxy.wait()


def run_tool(tool: Tool, server: MlflowServer, rtt_ms: float, folder: Path, *, rerun: bool = False,
             registry_uri: str | None = None) -> list[Result]:
    """One ingestion into a fresh stand-in (and with `rerun`, a second one into the same stand-in)."""
    token = bot_jwt()
    with OpenMetadataStandIn(token=token) as om, network(rtt_ms, server.url, om.root_url) as (mlflow_url, om_root):
        config = folder / f"{tool.name}.yaml"
        config.write_text(yaml.safe_dump(workflow(mlflow_url, om_root + "/api", token, registry_uri)))
        return [_one_run(tool, server, om, config, folder) for _ in range(2 if rerun else 1)]


def _one_run(tool: Tool, server: MlflowServer, om: OpenMetadataStandIn, config: Path, folder: Path) -> Result:
    log = folder / f"{tool.name}.log"
    requests_before, cpu_before = _access_log_requests(server), _cpu_seconds(server.process.pid)
    env = {**os.environ, "XDG_CACHE_HOME": str(folder / "cache"), **tool.env}
    started = time.perf_counter()
    with open(log, "wb") as out:
        process = subprocess.Popen([tool.command, "ingest", "-c", str(config)], stdout=out, stderr=subprocess.STDOUT,
                                   env=env)
        peak_kb = 0
        while process.poll() is None:
            peak_kb = max(peak_kb, _high_water_kb(process.pid))
            time.sleep(0.02)
    wall = time.perf_counter() - started
    time.sleep(0.5)  # the server's workers write their access log lines a moment after answering
    contents = {m["name"]: _content(m) for m in om.models.values() if not m.get("deleted")}
    if process.returncode != 0:
        tail = "\n    ".join(log.read_text(errors="replace").splitlines()[-8:])
        print(f"  ! {tool.name} exited {process.returncode}; its last lines:\n    {tail}")
    return Result(tool.name, wall, peak_kb / 1024, process.returncode, contents,
                  _access_log_requests(server) - requests_before, _cpu_seconds(server.process.pid) - cpu_before)


def _high_water_kb(pid: int) -> int:
    """The process's peak RSS so far (VmHWM). Not wait4's ru_maxrss: that one also counts the memory
    of this benchmark process, which the child is forked from, before it execs the tool."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


ACCESS_LINE = re.compile(rb'"(GET|POST|PUT|PATCH|DELETE|HEAD) \S+ HTTP/1\.[01]"')


def _access_log_requests(server: MlflowServer) -> int:
    """Requests the server has answered so far, from its access log (uvicorn logs each one)."""
    return len(ACCESS_LINE.findall(server.log_path.read_bytes()))


def _cpu_seconds(group: int) -> float:
    """User + system CPU seconds of every live process in a process group (the server and its workers)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group:  # pgrp; utime and stime follow at 11 and 12
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _content(model: dict) -> tuple:
    """What both tools must agree on for a model."""
    params = tuple(sorted((p["name"], str(p.get("value"))) for p in model.get("mlHyperParameters") or ()))
    features = tuple(sorted((f["name"], f.get("dataType")) for f in model.get("mlFeatures") or ()))
    return params, features, (model.get("mlStore") or {}).get("storage"), model.get("algorithm")


def same_contents(a: Result, b: Result) -> str:
    if a.contents == b.contents:
        return f"identical ({a.delivered} models: hyper-parameters, features, store)"
    differ = sorted(n for n in a.contents.keys() | b.contents.keys() if a.contents.get(n) != b.contents.get(n))
    return f"{len(differ)} models differ, e.g. {differ[:3]}"


# ------------------------------------------------------------------------------------------ report


def print_run(r: Result, count: int, label: str) -> None:
    print(f"  {label} {r.tool:<14} {r.wall:7.1f} s {count / r.wall:7.0f} models/s {r.rss_mb:5.0f} MB peak "
          f"{r.mlflow_requests / count:5.2f} MLflow req/model {r.server_cpu:6.1f} CPU-s server   "
          f"delivered {r.delivered}, with features {r.with_features}, exit {r.exit_code}", flush=True)


def registry_server(count: int, folder: Path, cache: Path | None, basic_auth: bool) -> MlflowServer:
    """A server holding `count` seeded models; with `cache`, seeded once and kept there for later runs."""
    root = (cache or folder) / f"mlflow-{count}{'-basic-auth' if basic_auth else ''}-seed{SEED_VERSION}"
    seeded = root / "seeded"
    server = start_mlflow_server(root, workers=2, app_name="basic-auth" if basic_auth else None)
    if seeded.exists():
        print(f"\nN = {count:,}: the registry seeded earlier in {root}")
        return server
    started = time.perf_counter()
    auth = server.auth
    if auth:  # MLflow's client (used for the first, fully logged model) reads these
        os.environ.update(MLFLOW_TRACKING_USERNAME=auth[0], MLFLOW_TRACKING_PASSWORD=auth[1])
        _create_reader(server)
    seed_registry(server.url, count, artifacts_dir=server.root / "artifacts", auth=auth)
    seeded.write_text(str(count))
    print(f"\nN = {count:,}: seeded in {time.perf_counter() - started:.0f} s")
    return server


def _create_reader(server: MlflowServer) -> None:
    import requests

    answer = requests.post(f"{server.url}/api/2.0/mlflow/users/create", auth=server.auth, timeout=30,
                           json={"username": READER[0], "password": READER[1]})
    answer.raise_for_status()


def bench_count(count: int, args: argparse.Namespace, tools: list[Tool], folder: Path) -> None:
    server = registry_server(count, folder, args.registry_cache, args.basic_auth)
    try:
        for rtt in args.rtt_ms:
            print(f"  -- round trip {rtt:g} ms{' (loopback, no proxy)' if not rtt else ' (latency proxy)'}; "
                  f"load {os.getloadavg()[0]:.1f}")
            results: dict[str, list[Result]] = {}
            for round_no in range(1, args.rounds + 1):
                for tool in tools:
                    runs = run_tool(tool, server, rtt, folder, rerun=args.rerun and tool.command == OURS)
                    results.setdefault(tool.name, []).append(runs[0])
                    print_run(runs[0], count, f"rtt {rtt:g} round {round_no}")
                    for again in runs[1:]:
                        again.tool += " re-run"
                        results.setdefault(again.tool, []).append(again)
                        print_run(again, count, f"rtt {rtt:g} round {round_no}")
                if "official" in results:
                    ours, official = results[tools[0].name][-1], results["official"][-1]
                    print(f"  rtt {rtt:g} round {round_no} official / ours: {official.wall / ours.wall:.1f}x; "
                          f"contents {same_contents(ours, official)}", flush=True)
            for name, runs in results.items():
                wall = statistics.median(r.wall for r in runs)
                print(f"  rtt {rtt:g} {name}: median {wall:.1f} s = {count / wall:.0f} models/s, peak RSS "
                      f"{max(r.rss_mb for r in runs):.0f} MB over {len(runs)} round(s)", flush=True)
    finally:
        server.stop()


def startup_figures(official: Tool | None) -> None:
    from benchmarks.check_refused import in_process, whole_command
    from benchmarks.startup import first_frame_time, help_time

    print(f"metadata --help: {statistics.median(help_time() for _ in range(3)):.2f} s (median of 3)")
    if official:
        walls = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run([official.command, "--help"], capture_output=True)
            walls.append(time.perf_counter() - started)
        print(f"official metadata --help: {statistics.median(walls):.2f} s (median of 3)")
    print(f"TUI first frame (80x24 pty): {statistics.median(first_frame_time() for _ in range(3)):.2f} s (median of 3)")
    refused = [in_process() for _ in range(3)]
    for endpoint in refused[0]:
        print(f"refused {endpoint} port reported in {statistics.median(r[endpoint] for r in refused) * 1000:.0f} ms "
              "in process (median of 3)")
    print(f"metadata test-connection against two refused ports, whole command: "
          f"{statistics.median(whole_command() for _ in range(3)):.2f} s (median of 3; the official CLI needs "
          "3 min 6 s for a refused MLflow port, 10 s for OpenMetadata)")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()} {platform.release()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1000], help="registry sizes (default 1000)")
    parser.add_argument("--rtt-ms", type=float, nargs="+", default=[0.0],
                        help="round trips to both servers, in ms (default 0: loopback)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--rerun", action="store_true", help="also time our unchanged re-run")
    parser.add_argument("--basic-auth", action="store_true",
                        help="MLflow with its basic-auth app: ours as the admin and as a read-only user")
    parser.add_argument("--registry-cache", type=Path, help="keep seeded registries in this folder and reuse them")
    parser.add_argument("--official-max", type=int, default=1000, help="largest N to run the official CLI on")
    parser.add_argument("--no-startup", action="store_true", help="skip --help, first frame and refused ports")
    args = parser.parse_args(argv)

    peer = os.environ.get("OM_PEER_PYTHON")
    official = Tool("official", str(Path(peer).with_name("metadata"))) if peer else None
    print(f"machine: {machine()}")
    if not official:
        print("OM_PEER_PYTHON is not set: the official CLI is not run (build it with ../shared/tools/peer_venv.sh DIR)")
    if not args.no_startup:
        startup_figures(official)
    admin = dict(MLFLOW_TRACKING_USERNAME=ADMIN_USERNAME, MLFLOW_TRACKING_PASSWORD=ADMIN_PASSWORD)
    reader = dict(MLFLOW_TRACKING_USERNAME=READER[0], MLFLOW_TRACKING_PASSWORD=READER[1])
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.counts:
            tools = [Tool("ours", OURS)]
            if args.basic_auth:
                tools = [Tool("ours admin", OURS, admin), Tool("ours read-only", OURS, reader)]
            if official and count <= args.official_max:
                tools.append(Tool("official", official.command, admin if args.basic_auth else {}))
            bench_count(count, args, tools, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
