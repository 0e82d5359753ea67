"""`metadata tui` with no arguments: the demo starts a real MLflow with samples behind the first frame,
says so on screen, stops its server when the app closes, and reuses its folder without re-seeding;
`metadata demo` keeps that server running, to try the headless commands on it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.app_pilot import goto, plan_and_run, run, text_of, wait_for
from tui.app import WorkflowApp
from tui.draft import Draft
from workflow.demo import SAMPLE_MODELS, Demo, free_port, prepare_demo
from workflow.document.loader import load_workflow
from workflow.registry.model_names import registered_model_names


def test_demo_is_ready_to_try_stops_with_the_app_and_reseeds_nothing(tmp_path):
    demo = prepare_demo(tmp_path / "demo")
    app = WorkflowApp(Draft(demo.config()), target=demo.workflow_path, demo=demo)

    async def body():
        async with app.run_test(size=(80, 24)) as pilot:
            banner = text_of(pilot, "#banner")
            assert banner.startswith("DEMO") and str(tmp_path / "demo") in banner
            await goto(pilot, 1)  # the pane does not wait for the server
            await wait_for(pilot, lambda: "sample models at" in text_of(pilot, "#banner"), timeout=180,
                           what="the demo server")
            count = len(SAMPLE_MODELS)
            await wait_for(pilot, lambda: f"{count} of {count} registered models" in text_of(pilot, "#preview-head"))
            assert demo.config().sink.config.filename == str(tmp_path / "demo" / "mlmodels.jsonl")
            # A newcomer can test, write and run end to end with nothing else installed.
            await goto(pilot, 5)
            await wait_for(pilot, lambda: "passed" in text_of(pilot, "#check-status"), what="the checks")
            await goto(pilot, 6)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: "✓ Wrote" in text_of(pilot, "#write-result"), what="the write")
            await goto(pilot, 7)
            await plan_and_run(pilot)
            await wait_for(pilot, lambda: "Finished" in text_of(pilot, "#run-head"), timeout=90, what="the run")
            assert text_of(pilot, "#run-head").startswith("✓ Finished")

    run(body)
    saved = load_workflow(demo.workflow_path).config
    assert saved.mlflow.trackingUri == demo.url and saved.sink == demo.config().sink
    written = [json.loads(line)["name"] for line in (tmp_path / "demo" / "mlmodels.jsonl").read_text().splitlines()]
    assert sorted(written) == sorted(SAMPLE_MODELS)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{demo.url}/health", timeout=2)

    again = Demo(tmp_path / "demo", free_port())
    try:
        assert again.start() == []
        assert registered_model_names(again.url) == sorted(SAMPLE_MODELS)
    finally:
        again.stop()


def test_metadata_demo_keeps_the_server_running_for_the_headless_commands(tmp_path):
    """The README's way to try `metadata ingest` on the demo: the server stays up until Ctrl-C."""
    port = free_port()
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    metadata = Path(sys.executable).with_name("metadata")
    demo = subprocess.Popen([str(metadata), "demo", "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines = []
        for line in demo.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C stops the server"):
                break
        ingest = next(line.split()[-1] for line in lines if " ingest -c " in line)
        run = subprocess.run([str(metadata), "ingest", "-c", ingest], capture_output=True, text=True, env=env,
                             timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
        assert f"Processed:  {len(SAMPLE_MODELS)}" in run.stdout
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=30) == 0
        assert "The demo server stopped." in demo.stdout.read()
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
    finally:
        if demo.poll() is None:
            demo.kill()
