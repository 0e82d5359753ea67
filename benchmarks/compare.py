"""Side by side: our `metadata ingest` and the official CLI, on the same MLflow server and stand-in.

    .venv/bin/python benchmarks/compare.py                        # N = 1,000, 2 rounds
    .venv/bin/python benchmarks/compare.py --counts 1000 10000 --rounds 3

For each N: a real `mlflow server` (sqlite, 2 workers, served artifacts) is filled with N models,
each with a run, params and a logged model with a signature (benchmarks/registry.py). Then, round
after round, each tool ingests them into a fresh OpenMetadata stand-in; printed per run: wall time,
models per second, peak RSS of the tool's process, models delivered and delivered with features,
and per round the throughput ratio ours / official. The stand-in's contents after each tool are
compared model by model (hyper-parameters, features, store). The official CLI runs when
OM_PEER_PYTHON names a Python with it (`../shared/tools/peer_venv.sh DIR`), and only up to
--official-max models: at its 4.7 models/s, 10,000 models would take 35 minutes a round.

Also printed: `metadata --help`, the TUI's first frame, and the time to report a refused port.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from mlflow_server import start_mlflow_server  # noqa: E402
from om_standin import OpenMetadataStandIn  # noqa: E402
from registry import seed_registry  # noqa: E402

OURS = str(Path(sys.executable).with_name("metadata"))


@dataclass(frozen=True)
class Tool:
    name: str
    command: str


@dataclass
class Result:
    tool: str
    wall: float
    rss_mb: float
    exit_code: int
    contents: dict[str, tuple]

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


def run_tool(tool: Tool, mlflow_url: str, folder: Path, registry_uri: str | None = None) -> Result:
    """One ingestion into a fresh stand-in, its wall time, peak RSS and what the stand-in received."""
    token = bot_jwt()
    with OpenMetadataStandIn(token=token) as om:
        config = folder / f"{tool.name}.yaml"
        config.write_text(yaml.safe_dump(workflow(mlflow_url, om.url, token, registry_uri)))
        log = folder / f"{tool.name}.log"
        started = time.perf_counter()
        with open(log, "wb") as out:
            process = subprocess.Popen([tool.command, "ingest", "-c", str(config)], stdout=out, stderr=subprocess.STDOUT)
            peak_kb = 0
            while process.poll() is None:
                peak_kb = max(peak_kb, _high_water_kb(process.pid))
                time.sleep(0.05)
        wall = time.perf_counter() - started
        contents = {m["name"]: _content(m) for m in om.models.values() if not m.get("deleted")}
    if process.returncode != 0:
        tail = "\n    ".join(log.read_text(errors="replace").splitlines()[-8:])
        print(f"  ! {tool.name} exited {process.returncode}; its last lines:\n    {tail}")
    return Result(tool.name, wall, peak_kb / 1024, process.returncode, contents)


def _high_water_kb(pid: int) -> int:
    """The process's peak RSS so far (VmHWM). Not wait4's ru_maxrss: that one also counts the memory
    of this benchmark process, which the child is forked from, before it execs the tool."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


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


def print_run(r: Result, count: int, round_no: int) -> None:
    print(f"  round {round_no} {r.tool:<9} {r.wall:8.1f} s {count / r.wall:8.1f} models/s {r.rss_mb:7.0f} MB peak"
          f"   delivered {r.delivered}, with features {r.with_features}, exit {r.exit_code}")


def bench_count(count: int, rounds: int, tools: list[Tool], folder: Path) -> dict[str, list[Result]]:
    server = start_mlflow_server(folder / f"mlflow-{count}", workers=2)
    try:
        started = time.perf_counter()
        seed_registry(server.url, count, artifacts_dir=server.root / "artifacts")
        print(f"\nN = {count:,}: seeded in {time.perf_counter() - started:.0f} s")
        results: dict[str, list[Result]] = {t.name: [] for t in tools}
        for round_no in range(1, rounds + 1):
            for tool in tools:
                result = run_tool(tool, server.url, folder)
                results[tool.name].append(result)
                print_run(result, count, round_no)
            if len(tools) == 2:
                ours, official = (results[t.name][-1] for t in tools)
                print(f"  round {round_no} ratio ours/official: {official.wall / ours.wall:.1f}x the throughput; "
                      f"contents {same_contents(ours, official)}")
        for tool in tools:
            walls = [r.wall for r in results[tool.name]]
            rss = max(r.rss_mb for r in results[tool.name])
            print(f"  {tool.name}: median {statistics.median(walls):.1f} s = {count / statistics.median(walls):.0f} "
                  f"models/s, peak RSS {rss:.0f} MB over {rounds} round(s)")
        return results
    finally:
        server.stop()


def startup_figures(official: Tool | None) -> None:
    from check_refused import in_process, whole_command
    from startup import first_frame_time, help_time

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
    parser.add_argument("--rounds", type=int, default=2)
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
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.counts:
            tools = [Tool("ours", OURS)] + ([official] if official and count <= args.official_max else [])
            bench_count(count, args.rounds, tools, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
