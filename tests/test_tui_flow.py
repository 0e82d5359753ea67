"""The whole wizard against real servers: the seeded `mlflow server` and the OpenMetadata stand-in.

Typed from an empty workflow to a written file and a finished run, as a user would; then the ways it
goes wrong: a refused port in the checks, and a run cancelled half-way.
"""
from __future__ import annotations

import socket
import threading
from pathlib import Path

from textual.widgets import RichLog

from tests.support.app_pilot import goto, plan_and_run, run, text_of, type_into, wait_for
from tui.app import WorkflowApp
from tui.draft import Draft
from tui.services import Services, engine_run_workflow
from workflow import events as ev
from workflow.document.loader import load_workflow


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_author_check_write_and_run_against_real_servers(mlflow_url, expected_models, om, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = WorkflowApp(Draft.new(), target=Path("workflow.yaml"))
    with_versions = {name for name, model in expected_models.items() if model["versions"]}

    async def body():
        async with app.run_test(size=(100, 32)) as pilot:
            screen = app.screen
            await type_into(pilot, "#input-serviceName", "tui_flow")
            await type_into(pilot, "#input-trackingUri", mlflow_url)
            await goto(pilot, 1)
            head = f"{len(expected_models)} of {len(expected_models)} registered models"
            await wait_for(pilot, lambda: head in text_of(pilot, "#preview-head"), what="the preview")
            await type_into(pilot, "#input-excludes", "empty")
            assert f"{len(expected_models) - 1} of {len(expected_models)}" in text_of(pilot, "#preview-head")
            await goto(pilot, 2)
            await goto(pilot, 3)
            await type_into(pilot, "#input-hostPort", om.url)
            await goto(pilot, 4)
            assert f"trackingUri: {mlflow_url}" in text_of(pilot, "#yaml")
            await goto(pilot, 5)
            await wait_for(pilot, lambda: "passed" in text_of(pilot, "#check-status"), what="the checks")
            assert "✓ Both endpoints passed." == text_of(pilot, "#check-status")
            await goto(pilot, 6)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: "✓ Wrote" in text_of(pilot, "#write-result"))
            written = load_workflow(tmp_path / "workflow.yaml").config
            assert written.source.serviceName == "tui_flow" and written.openmetadata.hostPort == om.url
            # Another existing file is not replaced silently (saving the one just written again is a save in
            # place: test_tui_daily_use).
            (tmp_path / "other.yaml").write_text("someone else's\n")
            await type_into(pilot, "#input-writePath", "other.yaml")
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: app.screen is not screen, what="the confirmation")
            await pilot.press("escape")
            await wait_for(pilot, lambda: "kept as it is" in text_of(pilot, "#write-result"))
            assert (tmp_path / "other.yaml").read_text() == "someone else's\n"
            await goto(pilot, 7)
            await plan_and_run(pilot)
            await wait_for(pilot, lambda: "Finished" in text_of(pilot, "#run-head"), timeout=90, what="the run")
            assert text_of(pilot, "#run-head").startswith("✓ Finished")
            assert text_of(pilot, "#count-processed") == f"Processed {len(with_versions - {'empty-model'})}"
            assert text_of(pilot, "#count-filtered") == "Filtered 1"
            log = " ".join(" ".join(line.text for line in screen.query_one(RichLog).lines).split())
            assert "Workflow summary: service 'tui_flow'" in log

    run(body)
    assert {model["name"] for model in om.models.values()} == with_versions - {"empty-model"}


def test_checks_name_a_refused_port(mlflow_url, om, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    app = WorkflowApp(Draft.new())

    async def body():
        async with app.run_test(size=(80, 24)) as pilot:
            await type_into(pilot, "#input-trackingUri", mlflow_url)
            await goto(pilot, 3)
            await type_into(pilot, "#input-hostPort", f"http://127.0.0.1:{closed_port()}/api")
            await goto(pilot, 5)
            await wait_for(pilot, lambda: "failed" in text_of(pilot, "#check-status"), what="the checks")
            mlflow, openmetadata = (text_of(pilot, f"#checks .endpoint:{n}") for n in ("first-of-type", "last-of-type"))
            assert mlflow.startswith("MLflow") and "✓ Tracking server answers" in mlflow
            assert "✗ Server answers" in openmetadata and "refused the connection" in openmetadata
            assert "→ is the server running" in openmetadata
            # One key tests again, now against the stand-in.
            await goto(pilot, 3)
            await type_into(pilot, "#input-hostPort", om.url)
            await goto(pilot, 5)
            await wait_for(pilot, lambda: "passed" in text_of(pilot, "#check-status"), what="the re-test")

    run(body)


def test_cancel_stops_a_real_run_and_says_so(mlflow_url, om, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    started = threading.Event()

    def run_until_cancelled(config, on_event, cancel):
        """The real runner; it pauses after starting until the user cancels, so the test is not a race."""
        def forward(event):
            on_event(event)
            if isinstance(event, ev.RunStarted):
                started.set()
                cancel.wait(20)
        return engine_run_workflow(config, forward, cancel)

    app = WorkflowApp(Draft.new(), services=Services(run_workflow=run_until_cancelled))

    async def body():
        async with app.run_test(size=(80, 24)) as pilot:
            await type_into(pilot, "#input-trackingUri", mlflow_url)
            await goto(pilot, 3)
            await type_into(pilot, "#input-hostPort", om.url)
            await goto(pilot, 7)
            await plan_and_run(pilot)
            await wait_for(pilot, started.is_set, timeout=60, what="the run to start")
            await wait_for(pilot, lambda: text_of(pilot, "#run-head").startswith("Running"))
            await pilot.press("escape")
            await wait_for(pilot, lambda: "Finished" in text_of(pilot, "#run-head"), timeout=60, what="the cancel")
            assert "cancelled by the user after" in text_of(pilot, "#run-head")
            assert text_of(pilot, "#run-head").startswith("✗")

    run(body)
