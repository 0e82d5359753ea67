"""Faults during `metadata ingest`: signals, a registry that goes away mid-listing, a full disk under
the file sink. Nothing already written may be lost, nothing may be marked deleted on a partial view.

Everything here is real: `metadata ingest` runs in a subprocess and gets real SIGINT / SIGTERM; MLflow
is a real `mlflow server` with enough models that a run lasts a few seconds (conftest's
`fault_registry`: the session's registry must keep its exact seven models for the other files); the
fault proxy of tests/support/mlflow_proxy.py in front of it makes MLflow hang or vanish on cue; the
OpenMetadata stand-in's state is the judge.
"""
from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path

import pytest
import requests

from tests.support.mlflow_proxy import MlflowProxy
from tests.support.workflows import seed_config
from workflow import runner
from workflow.cli.main import main
from workflow.registry.mlflow_source import MlflowSource

SERVICE = "local_mlflow"
STALE = "retired-model"
LATER_PAGE = re.compile(r"/registered-models/search\?.*page_token=")
"""A request for the second or a later page of the registry listing."""


@pytest.fixture
def registry(fault_registry):
    """(url, names) of a real MLflow server holding 30 plain models (about 150 ms each to ingest)."""
    return fault_registry


def slow_config(mlflow_url: str, om_url: str, **changes) -> dict:
    """One model per bulk request and each model printed as it lands, so a test can signal mid-run."""
    return seed_config(mlflow_url, om_url, **{"sink.config.bulk_sink_batch_size": 1,
                                              "workflowConfig.loggerLevel": "DEBUG", **changes})


def add_stale_model(om) -> None:
    """A model OpenMetadata holds for the service but the registry does not: what mark-deleted is for."""
    requests.put(f"{om.url}/v1/services/mlmodelServices", json={"name": SERVICE, "serviceType": "Mlflow"},
                 timeout=5).raise_for_status()
    requests.put(f"{om.url}/v1/mlmodels", json={"name": STALE, "algorithm": "mlmodel", "service": SERVICE},
                 timeout=5).raise_for_status()


def live_models(om) -> set[str]:
    return {m["name"] for m in om.models.values() if not m["deleted"]}


def ingest(path: Path, capsys) -> tuple[int, str]:
    code = main(["ingest", "-c", str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# ------------------------------------------------------------------------- a run in a subprocess


class LiveRun:
    """`metadata <args>` in a subprocess; its output lines are read as they come, with a deadline."""

    def __init__(self, *args: str):
        self.process = subprocess.Popen([sys.executable, "-m", "workflow.cli.main", *args], text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, wanted, *, count: int = 1, timeout: float = 30) -> list[str]:
        """Read until `count` lines satisfy `wanted`; returns those lines."""
        found = [line for line in self.lines if wanted(line)]
        deadline = time.monotonic() + timeout
        while len(found) < count:
            line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            assert line is not None, f"the process ended first:\n{self.output}"
            self.lines.append(line)
            if wanted(line):
                found.append(line)
        return found

    def written(self, count: int) -> list[str]:
        """The names of the first `count` models the verbose progress reports as created."""
        lines = self.wait_for(lambda line: line.startswith("  created  "), count=count)
        return [line.split()[-1] for line in lines]

    def finish(self, timeout: float = 30) -> int:
        code = self.process.wait(timeout=timeout)
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        return code

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def __enter__(self) -> "LiveRun":
        return self

    def __exit__(self, *exc_info) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


# ---------------------------------------------------------------------------------------- signals


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_cancels_the_run_keeps_what_was_written_and_exits_128_plus_it(registry, om, write_config,
                                                                                 signum, code):
    url, names = registry
    add_stale_model(om)
    with LiveRun("ingest", "-c", str(write_config(slow_config(url, om.url))), "--workers", "1") as run:
        before = run.written(2)
        run.process.send_signal(signum)
        assert run.finish() == code, run.output
    output = run.output
    kept = live_models(om) - {STALE}
    assert "Traceback" not in output
    assert "Cancelling" in output
    assert set(before) <= kept < set(names)  # what was written before the signal stays; the rest was not sent
    how = "cancelled by the user" if signum == signal.SIGINT else "stopped by SIGTERM"  # a scheduler, not a person
    assert f"{how} after {len(kept)} of {len(names)} model(s): {len(kept)} done, 0 failed" in output
    assert "Marked deleted: none (the run was cancelled" in output
    assert not om.requests_to("DELETE", "/v1/mlmodels/deleteStale")
    assert STALE in live_models(om)


def test_a_second_signal_quits_at_once_even_when_mlflow_hangs(registry, om, write_config):
    url, names = registry
    add_stale_model(om)
    mlflow = MlflowProxy(url)
    mlflow.hang_at("/model-versions/get-artifact", nth=3)  # two models land, the third never finishes
    with mlflow, LiveRun("ingest", "-c", str(write_config(slow_config(mlflow.url, om.url))), "--workers", "1") as run:
        before = run.written(2)
        run.process.send_signal(signal.SIGINT)
        run.wait_for(lambda line: line.startswith("Cancelling"))
        time.sleep(0.3)  # the run is stuck on MLflow, not finishing on its own
        assert run.process.poll() is None
        run.process.send_signal(signal.SIGINT)
        asked = time.monotonic()
        assert run.finish() == 130, run.output
        assert time.monotonic() - asked < 3
    output = run.output
    assert "Quit at once on a second SIGINT after" in output and "nothing was marked deleted" in output
    assert "Traceback" not in output and "Workflow summary" not in output
    assert set(before) <= live_models(om)
    assert STALE in live_models(om) and not om.requests_to("DELETE", "/v1/mlmodels/deleteStale")


def test_a_second_signal_leaves_the_file_sinks_last_output_and_no_temp_file(registry, tmp_path, write_config):
    url, _ = registry
    out = tmp_path / "out" / "models.jsonl"
    out.parent.mkdir()
    out.write_text('{"name": "earlier-good-output"}\n')
    with MlflowProxy(url) as mlflow:
        mlflow.hang_at("/api/2.0/mlflow/runs/search", nth=1)  # the checks pass; the first model read never ends
        config = slow_config(mlflow.url, "http://127.0.0.1:9/api",
                             sink={"type": "file", "config": {"filename": str(out)}})
        with LiveRun("ingest", "-c", str(write_config(config)), "--workers", "1") as run:
            run.wait_for(lambda line: line.startswith("Ingesting MLflow"))
            run.process.send_signal(signal.SIGINT)
            run.wait_for(lambda line: line.startswith("Cancelling"))
            run.process.send_signal(signal.SIGINT)
            assert run.finish() == 130, run.output
    assert "Quit at once on a second SIGINT" in run.output and "Traceback" not in run.output
    assert [p.name for p in out.parent.iterdir()] == ["models.jsonl"]  # the temp file went with the process
    assert out.read_text() == '{"name": "earlier-good-output"}\n'


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_test_connection_stops_at_once_on_a_signal(registry, om, write_config, signum, code):
    url, _ = registry
    with MlflowProxy(url) as mlflow:
        mlflow.hang()  # MLflow's checks wait for an answer; OpenMetadata's finish
        path = write_config(seed_config(mlflow.url, om.url))
        with LiveRun("test-connection", "-c", str(path), "--timeout", "10") as run:
            run.wait_for(lambda line: line.startswith("OpenMetadata |"))
            run.process.send_signal(signum)
            asked = time.monotonic()
            assert run.finish() == code, run.output
            assert time.monotonic() - asked < 3
    assert "Cancelled: the checks were stopped" in run.output
    assert "Traceback" not in run.output


# ---------------------------------------------------------------------------------- mark deleted


@pytest.fixture
def paged(monkeypatch):
    """Runs list the registry 10 models a page (MLflow's real paging, just smaller pages)."""
    monkeypatch.setattr(runner, "MlflowSource", partial(MlflowSource, page_size=10))


def test_a_listing_cut_after_its_first_page_marks_nothing_deleted(registry, om, paged, write_config, capsys):
    url, names = registry
    add_stale_model(om)
    for name in names:  # every model is already in OpenMetadata: a partial listing must not make them stale
        requests.put(f"{om.url}/v1/mlmodels", json={"name": name, "algorithm": "mlmodel", "service": SERVICE},
                     timeout=5).raise_for_status()
    with MlflowProxy(url) as mlflow:
        mlflow.go_down_at(LATER_PAGE)  # the MLflow host goes down when page 2 is asked for
        code, output = ingest(write_config(seed_config(mlflow.url, om.url)), capsys)
        assert mlflow.went_down
    assert "listing the registered models failed" in output and "Traceback" not in output
    assert not om.requests_to("DELETE", "/v1/mlmodels/deleteStale")
    assert live_models(om) == set(names) | {STALE}
    assert code == 1, output


def test_a_listing_that_stops_early_fails_the_run(registry, om, paged, write_config, capsys):
    url, _ = registry
    with MlflowProxy(url) as mlflow:  # page 1's ten models are read fine; later pages are never answered
        cut = mlflow.inject(LATER_PAGE, "drop", times=None)
        code, output = ingest(write_config(seed_config(mlflow.url, om.url)), capsys)
        assert cut.hits
    assert "listing the registered models failed" in output
    assert not om.requests_to("DELETE", "/v1/mlmodels/deleteStale")
    assert code == 1, output


def test_a_complete_paged_listing_marks_only_the_stale_model_deleted(registry, om, paged, write_config, capsys):
    url, names = registry
    add_stale_model(om)
    code, output = ingest(write_config(seed_config(url, om.url)), capsys)
    assert code == 0, output
    assert f"marked deleted: {STALE}" in output
    assert live_models(om) == set(names)  # every page's models were seen, not just the first page's
    assert om.models[f"{SERVICE}.{STALE}"]["deleted"] is True


# ----------------------------------------------------------------------------- file sink, disk full

# Runs `metadata` with a file size limit: past it, writes fail with EFBIG ("File too large"), as on
# a full disk, but only for this process.
LIMITED = """
import resource, signal, sys
from workflow.cli.main import main
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv.pop(1))
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.exit(main(sys.argv[1:]))
"""


def ingest_with_size_limit(path: Path, limit: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", LIMITED, str(limit), "ingest", "-c", str(path)],
                          capture_output=True, text=True, timeout=60)


def file_sink_run(registry, tmp_path, write_config, **changes) -> tuple[Path, Path]:
    """A workflow writing to models.jsonl, which already holds a good earlier output."""
    url, _ = registry
    out = tmp_path / "models.jsonl"
    out.write_text('{"name": "earlier-good-output"}\n')
    config = seed_config(url, "http://127.0.0.1:9/api", sink={"type": "file", "config": {"filename": str(out)}},
                         **changes)
    return write_config(config), out


def test_file_sink_on_a_full_disk_keeps_the_last_good_output(registry, tmp_path, write_config):
    path, out = file_sink_run(registry, tmp_path, write_config)
    done = ingest_with_size_limit(path, 3000)  # the ~10 kB of JSON Lines overflow the write buffer: write() fails
    assert done.returncode == 1
    assert "File too large" in done.stdout
    assert out.read_text() == '{"name": "earlier-good-output"}\n'


def test_file_sink_failing_at_its_last_flush_reports_it_and_leaves_no_temp_file(registry, tmp_path, write_config):
    path, out = file_sink_run(registry, tmp_path, write_config, **{
        "source.sourceConfig.config.mlModelFilterPattern": {"includes": ["fault-0000[0-4]"]}})
    done = ingest_with_size_limit(path, 1000)  # five models fit the write buffer: only the final flush fails
    assert "Traceback" not in done.stdout + done.stderr
    assert done.returncode == 1
    assert "File too large" in done.stdout + done.stderr
    assert out.read_text() == '{"name": "earlier-good-output"}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models.jsonl", "workflow.yaml"]


def test_without_a_terminal_progress_comes_at_a_steady_pace_even_while_no_model_finishes(registry, om,
                                                                                         write_config):
    """Under Airflow or CI a long run must not look stuck: a line every --progress-every seconds."""
    url, _ = registry
    with MlflowProxy(url) as mlflow, \
            LiveRun("ingest", "-c", str(write_config(slow_config(mlflow.url, om.url))), "--workers", "1",
                    "--progress-every", "0.5") as run:
        run.written(2)
        mlflow.hang()  # from now on no model finishes
        earlier = sum("models handled" in line for line in run.lines)
        stalled = run.wait_for(lambda line: "models handled" in line, count=earlier + 3, timeout=20)
        assert len({line.split(" (")[0] for line in stalled[-2:]}) == 1  # the same count, said again
        assert re.search(r"^  \d+(/\d+)? models handled, 0 failed \(\d+ s\)$", stalled[-1].rstrip(), re.M)
        run.process.send_signal(signal.SIGINT)
        run.wait_for(lambda line: line.startswith("Cancelling"))
        run.process.send_signal(signal.SIGINT)
        assert run.finish() == 130
