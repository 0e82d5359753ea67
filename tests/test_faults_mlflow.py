"""MLflow faults during `metadata ingest`: MLflow stops mid-run, resets a connection, answers 5xx or
429, answers too late, hangs, restarts. A run must end promptly, name every model it did not read,
send nothing twice, and a rerun once MLflow is back must deliver the rest.

MLflow is a real `mlflow server` (conftest's `fault_registry`: 30 plain models fault-00000...) behind
the fault proxy of tests/support/mlflow_proxy.py; the OpenMetadata stand-in's state is the judge. The runs are read together (`runs/search`),
then each model's MLmodel file through the server's `get-artifact`, which for these plain models
says there is no such file (a warning: the model is ingested without features). Tests about one
model's run make the server refuse `runs/search` (`one_run_at_a_time`): each run is then read on its
own, one `runs/get` per model, as a server that cannot search runs by id is read.
"""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.support.mlflow_proxy import MlflowProxy
from tests.support.workflows import run_cancelled_when, seed_config
from workflow.document.workflow_file import Workflow
from workflow.events import ModelDone, ModelFailed
from workflow.net import retry
from workflow.render import Printer, ProgressView
from workflow.runner import run_workflow

ROOT = Path(__file__).resolve().parents[1]
RUNS_GET = "/api/2.0/mlflow/runs/get"
RUNS_SEARCH = "/api/2.0/mlflow/runs/search"
LISTING = re.compile(r"/registered-models/search\?max_results=1000(&|$)")
"""The run's listing (the checks' probes ask for 1 and 100 models)."""
GET_ARTIFACT = "/model-versions/get-artifact"
FALLBACK = "/api/2.0/mlflow-artifacts/artifacts?path="
"""MLflow's client looking for an MLmodel file the server's `get-artifact` did not serve."""
TEN = {"source.sourceConfig.config.mlModelFilterPattern": {"includes": ["fault-0000[0-9]"]}}
"""Ten of the thirty models: enough for a fault in the middle, a short run."""
SHORT_READ_TIMEOUT = 2
LATE = 3 * SHORT_READ_TIMEOUT
"""How late a late answer comes."""


@pytest.fixture
def registry(fault_registry):
    return fault_registry


@pytest.fixture
def short_read_timeout(monkeypatch):
    """MLflow reads give up after SHORT_READ_TIMEOUT s instead of 30 s, set as a user would: with
    MLflow's own variable, which the REST reader honours too."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", str(SHORT_READ_TIMEOUT))  # whole seconds, as MLflow wants


# ------------------------------------------------------------------------------------------ helpers


def metadata(*args: str, timeout: float = 60) -> tuple[int, str, float]:
    """`metadata <args>` in a subprocess: exit code, output, seconds taken."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "workflow.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def progress(output: str) -> dict[str, str]:
    """{model: outcome} from the verbose progress lines ("  created  fault-00001")."""
    found = (re.match(r"  (created|updated|unchanged|written) *(\S+)$", line) for line in output.splitlines())
    return {m[2]: m[1] for m in found if m}


def failure_lines(output: str) -> dict[str, str]:
    """{model: reason} from the "  failed   <model>: <reason>" lines printed as models fail."""
    found = (re.match(r"  failed   ([^:]+): (.*)$", line) for line in output.splitlines())
    return {m[1]: m[2] for m in found if m}


def live_models(om) -> set[str]:
    return {m["name"] for m in om.models.values() if not m["deleted"]}


def sent_models(om) -> list[str]:
    """Every model name in a create-or-update request OpenMetadata received, one entry per send."""
    names = [entry["name"] for r in om.requests_to("PUT", "/v1/mlmodels/bulk") for entry in r.body]
    return names + [r.body["name"] for r in om.requests_to("PUT", "/v1/mlmodels")]


def run_id_of(mlflow_url: str, name: str) -> str:
    answer = requests.get(f"{mlflow_url}/api/2.0/mlflow/registered-models/get", params={"name": name}, timeout=5)
    return answer.json()["registered_model"]["latest_versions"][0]["run_id"]


class Recorded:
    """run_workflow's events, as {model: outcome} and {model: reason}."""

    def __init__(self):
        self.done: dict[str, str] = {}
        self.failed: dict[str, str] = {}

    def __call__(self, event) -> None:
        if isinstance(event, ModelDone):
            self.done[event.name] = event.outcome
        elif isinstance(event, ModelFailed):
            self.failed[event.name] = event.reason


def one_run_at_a_time(mlflow: MlflowProxy) -> None:
    """The server answers 404 to `runs/search`, as one without it would: each run is read on its own."""
    mlflow.inject(RUNS_SEARCH, "status", status=404, times=None)


def run(config: dict, *, workers: int = 2):
    """run_workflow in this process: (summary, recorded events, seconds taken)."""
    events = Recorded()
    started = time.monotonic()
    summary = run_workflow(Workflow.model_validate(config), events, workers=workers)
    return summary, events, time.monotonic() - started


# --------------------------------------------------------------------------- MLflow stops mid-run


def test_mlflow_stopping_mid_run_ends_promptly_names_what_was_not_read_and_a_rerun_delivers_the_rest(
        registry, om, write_config):
    url, names = registry
    with MlflowProxy(url) as mlflow:
        path = write_config(seed_config(mlflow.url, om.url, **{"workflowConfig.loggerLevel": "DEBUG"}))
        one_run_at_a_time(mlflow)
        mlflow.go_down_at(RUNS_GET, nth=8)  # the listing is done; the 8th run read meets a port that refuses
        code, output, seconds = metadata("ingest", "-c", str(path), "--workers", "2")
        assert mlflow.went_down

        assert seconds < 20, output  # no model waits out its own retries once MLflow is known to be gone
        assert code == 1, output
        assert "FAILED" in output.splitlines()[-1]
        assert "Traceback" not in output
        done, failed = progress(output), failure_lines(output)
        assert set(done.values()) == {"created"}
        assert set(done) | set(failed) == set(names) and not set(done) & set(failed), output  # none unaccounted
        assert all("MLflow did not answer (connection refused)" in reason for reason in failed.values()), failed
        not_read = {name for name, reason in failed.items() if reason.startswith("not read: ")}
        assert len(not_read) >= len(names) - 8 - 4, failed  # all but the models in flight fail at once
        for name in failed:  # and the summary lists each of them again
            assert f"  - {name}: " in output
        assert live_models(om) == set(done)  # OpenMetadata holds exactly the models reported done
        assert sorted(sent_models(om)) == sorted(done)
        versions = {fqn: model["version"] for fqn, model in om.models.items()}

        mlflow.start()  # MLflow is back, at the same address
        om.clear_requests()
        code, output, _ = metadata("ingest", "-c", str(path), "--workers", "2")

    assert code == 0, output
    assert "Traceback" not in output
    assert progress(output) == {**{name: "unchanged" for name in done}, **{name: "created" for name in failed}}
    assert sorted(sent_models(om)) == sorted(failed)  # only what the first run missed is sent: nothing twice
    assert live_models(om) == set(names) and len(om.models) == len(names)
    assert {fqn: om.models[fqn]["version"] for fqn in versions} == versions  # the first run's models untouched


# ------------------------------------------------------------------ a fault once, then MLflow answers


@pytest.mark.parametrize("where, kind, status", [
    (RUNS_SEARCH, "reset", None),
    (RUNS_SEARCH, "drop", None),
    (RUNS_SEARCH, "status", 503),
    ("/model-versions/get-artifact", "reset", None),
    (LISTING, "status", 502),
], ids=["runs-reset-mid-answer", "runs-closed-without-answer", "runs-503", "mlmodel-reset-mid-answer", "listing-502"])
def test_a_fault_once_is_retried_and_every_model_arrives(registry, om, where, kind, status):
    url, names = registry
    with MlflowProxy(url) as mlflow:
        fault = mlflow.inject(where, kind, status=status or 503)
        summary, events, _ = run(seed_config(mlflow.url, om.url, **TEN))
        assert fault.hits == 1
        assert mlflow.count(fault.met[0]) == 2  # the same read, asked once more
    assert summary.exit_code == 0 and not summary.failures, summary.failures
    assert live_models(om) == set(names[:10]) == set(events.done)
    assert sorted(sent_models(om)) == sorted(names[:10])


def test_a_429_is_retried_after_the_retry_after_mlflow_asks_for(registry, om):
    url, names = registry
    with MlflowProxy(url) as mlflow:
        fault = mlflow.inject(RUNS_SEARCH, "status", status=429, retry_after="2")
        summary, _, _ = run(seed_config(mlflow.url, om.url, **TEN))
        first, again = [r.at for r in mlflow.requests if r.path == fault.met[0]]
    assert 1.9 <= again - first < 5  # not the usual 0.5 s pause
    assert summary.exit_code == 0 and not summary.failures
    assert live_models(om) == set(names[:10])


def test_a_cancel_while_a_read_waits_out_a_retry_after_ends_the_run_at_once(registry, om):
    """Ctrl-C while MLflow has asked for a read to come back in 10 s: the run ends now, the read is
    not sent again, and nothing more is sent to OpenMetadata."""
    url, names = registry
    with MlflowProxy(url) as mlflow:
        one_run_at_a_time(mlflow)
        fault = mlflow.inject(RUNS_GET, "status", status=429, retry_after="10", times=None)
        summary, seconds = run_cancelled_when(seed_config(mlflow.url, om.url, **TEN), lambda: fault.hits,
                                              workers=1)
        assert mlflow.count(RUNS_GET) == 1, "\n".join(f"{r.at:.2f} {r.path}" for r in mlflow.requests)
    assert seconds < 5, seconds
    assert summary.cancelled and summary.exit_code != 0 and summary.processed == 0
    run_id = run_id_of(url, names[0])
    assert [(f.name, f.reason) for f in summary.failures] == [
        (names[0], f"cannot read run {run_id} of version 1: MLflow answered HTTP 429 to read run {run_id}")]
    assert live_models(om) == set()


def test_mlflow_restarting_within_the_retry_window_costs_nothing(registry, om):
    url, names = registry
    with MlflowProxy(url) as mlflow:
        mlflow.go_down_at(GET_ARTIFACT, nth=4)

        def restart() -> None:  # a restart of a few tenths of a second, as a deploy or a crash loop
            if mlflow.wait_down(30):
                time.sleep(0.2)
                mlflow.start()

        restarter = threading.Thread(target=restart, daemon=True)
        restarter.start()
        summary, _, _ = run(seed_config(mlflow.url, om.url, **TEN))
        restarter.join(5)
        assert mlflow.went_down
    assert summary.exit_code == 0 and not summary.failures, summary.failures
    assert live_models(om) == set(names[:10])


def test_a_model_mlflow_keeps_failing_is_reported_and_the_others_arrive(registry, om):
    """A gateway answering 502 (not JSON) to every read of one run: that model fails, by name and
    status, after its retries; MLflow itself is fine, so the others are read and sent."""
    url, names = registry
    broken = "fault-00003"
    with MlflowProxy(url) as mlflow:
        one_run_at_a_time(mlflow)
        fault = mlflow.inject(f"run_id={run_id_of(url, broken)}", "status", status=502, times=None)
        summary, events, _ = run(seed_config(mlflow.url, om.url, **TEN))
        assert fault.hits == retry.MAX_ATTEMPTS  # the read and its retries
    assert list(events.failed) == [broken]
    assert "HTTP 502" in events.failed[broken]
    assert live_models(om) == set(names[:10]) - {broken}
    assert summary.exit_code == 0  # 9 of 10 is above the default threshold of 90 %


# ---------------------------------------------------------------- answers too late, MLflow hangs


def test_one_answer_later_than_the_read_timeout_fails_only_that_model_without_waiting_for_it(
        registry, om, short_read_timeout):
    url, names = registry
    slow = "fault-00005"
    with MlflowProxy(url) as mlflow:
        one_run_at_a_time(mlflow)
        mlflow.inject(f"run_id={run_id_of(url, slow)}", "delay", seconds=LATE, times=None)
        summary, events, seconds = run(seed_config(mlflow.url, om.url))
    assert seconds < LATE  # the run did not wait for the late answer
    assert list(events.failed) == [slow] and "read timeout" in events.failed[slow]
    assert live_models(om) == set(events.done) == set(names) - {slow}
    assert summary.exit_code == 0  # 29 of 30 is above the default threshold of 90 %


def test_mlflow_hanging_mid_run_ends_the_run_within_the_read_timeout(registry, om, short_read_timeout):
    url, names = registry
    with MlflowProxy(url) as mlflow:
        one_run_at_a_time(mlflow)
        mlflow.hang_at(RUNS_GET, nth=4)  # from the 4th run read on, MLflow takes connections and never answers
        summary, events, seconds = run(seed_config(mlflow.url, om.url, **TEN), workers=1)
    assert seconds < SHORT_READ_TIMEOUT + 5
    assert summary.exit_code == 1
    assert len(events.done) == 3 and live_models(om) == set(events.done)
    assert set(events.failed) == set(names[:10]) - set(events.done)
    assert all("read timeout" in reason for reason in events.failed.values()), events.failed
    assert sum(reason.startswith("not read: ") for reason in events.failed.values()) == 6  # at once, no waiting


def test_mlflow_hanging_while_the_mlmodel_file_is_looked_for_ends_the_run_within_the_read_timeout(
        registry, om, short_read_timeout):
    url, _ = registry
    result: dict = {}
    with MlflowProxy(url) as mlflow:
        config = seed_config(mlflow.url, om.url, **{
            "source.sourceConfig.config.mlModelFilterPattern": {"includes": ["fault-0000[0-2]"]}})
        mlflow.inject(GET_ARTIFACT, "status", status=501, times=None)  # a server that does not serve artifacts
        mlflow.hang_at(FALLBACK, nth=2)  # the second model's MLmodel lookup never gets an answer
        worker = threading.Thread(target=lambda: result.setdefault("run", run(config, workers=1)), daemon=True)
        worker.start()
        worker.join(SHORT_READ_TIMEOUT + 5)
        try:
            assert not worker.is_alive(), "the run is still waiting for MLflow"
        finally:
            mlflow.stop()  # lets the held request go, so the run ends before the next test
            worker.join(30)
    summary, events, _ = result["run"]
    assert summary.exit_code == 1 and events.failed


def test_the_rerun_progress_line_keeps_unchanged_and_the_model_name_apart():
    out = io.StringIO()
    ProgressView(Printer(out, []), verbose=True).handle(ModelDone("fault-00001", "unchanged"))
    assert "  unchanged fault-00001" in out.getvalue().splitlines()


# ---------------------------------------------------------------------- one model, many failures


@pytest.mark.parametrize("kind", ["drop", "reset"])
def test_a_run_mlflow_keeps_cutting_off_fails_only_its_model(registry, om, kind):
    """MLflow answers everything else: one call it always drops is that model's failure, not a
    reason to give up on the others (its /health still answers)."""
    url, names = registry
    broken = "fault-00004"
    with MlflowProxy(url) as mlflow:
        one_run_at_a_time(mlflow)
        mlflow.inject(f"run_id={run_id_of(url, broken)}", kind, times=None)
        summary, events, _ = run(seed_config(mlflow.url, om.url, **TEN))
    assert list(events.failed) == [broken]
    assert live_models(om) == set(names[:10]) - {broken}
    assert summary.exit_code == 0 and not summary.incomplete


def test_a_file_sink_keeps_its_last_good_output_when_mlflow_stops_mid_run(registry, tmp_path):
    url, _ = registry
    out = tmp_path / "models.jsonl"
    out.write_text('{"name": "earlier-good-output"}\n')
    with MlflowProxy(url) as mlflow:
        mlflow.go_down_at(GET_ARTIFACT, nth=4)
        summary, events, _ = run(seed_config(mlflow.url, "http://127.0.0.1:9/api", **TEN,
                                             sink={"type": "file", "config": {"filename": str(out)}}))
    assert summary.exit_code == 1 and summary.incomplete and events.failed
    assert out.read_text() == '{"name": "earlier-good-output"}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["models.jsonl"]  # no temp file left


def test_models_without_an_mlmodel_file_cost_two_calls_and_never_import_mlflow(registry, om, tmp_path):
    """The server says there is no MLmodel file: a warning, no fallback through MLflow's client (which
    would import mlflow: ~130 MB and a second), in a fresh interpreter as a user runs it."""
    url, _ = registry
    script = tmp_path / "run.py"
    script.write_text(f"""
import sys
from tests.support.workflows import seed_config
from workflow.document.workflow_file import Workflow
from workflow.runner import run_workflow
summary = run_workflow(Workflow.model_validate(seed_config({url!r}, {om.url!r}, **{TEN!r})))
print(summary.processed, len(summary.warnings), "mlflow" in sys.modules)
""")
    with MlflowProxy(url) as mlflow:
        script.write_text(script.read_text().replace(repr(url), repr(mlflow.url)))
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                              cwd=str(tmp_path), env={**os.environ, "PYTHONPATH": os.pathsep.join(map(str, (ROOT, ROOT / "tests")))})
        assert mlflow.count(GET_ARTIFACT) == 10 and mlflow.count(FALLBACK) == 0
    assert done.stdout.split() == ["10", "10", "False"], done.stdout + done.stderr
    assert live_models(om) == {f"fault-0000{i}" for i in range(10)}
    assert not any(m.get("mlFeatures") for m in om.models.values())
