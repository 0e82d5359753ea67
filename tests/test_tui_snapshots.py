"""Pictures of every step at 80x24 (the smallest supported terminal) and 120x40, compared with the
approved ones in __snapshots__/ (update with `pytest --snapshot-update` after looking at them).

Deterministic by construction: fixed config and model names, fixed check results and run events
(tests/support/app_pilot.py), relative paths, steady cursors.
"""
from __future__ import annotations

import pytest

from tests.support.app_pilot import FIXED_JWT, fixed_app, plan_and_run, steady_cursors, type_into, wait_for

STEP_NAMES = ["mlflow", "source", "sink", "openmetadata", "review", "test", "write", "run"]
SIZES = [(80, 24), (120, 40)]


async def settle(pilot) -> None:
    """Let workers report and the screen catch up, then freeze the cursors."""
    await wait_for(pilot, lambda: not any(step.checking for step in pilot.app.query("#step-test")),
                   what="the checks")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    steady_cursors(pilot.app)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("index", range(len(STEP_NAMES)), ids=STEP_NAMES)
def test_step(snap_compare, monkeypatch, tmp_path, index, size):
    app = fixed_app(monkeypatch, tmp_path, on_disk=True)

    async def open_step(pilot):
        await pilot.pause()
        app.screen.go(index)
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=open_step)


def test_validation_messages(snap_compare, monkeypatch, tmp_path):
    """Problems under their fields, Next held back, the step list marking the step."""
    app = fixed_app(monkeypatch, tmp_path)

    async def break_fields(pilot):
        await pilot.pause()
        await type_into(pilot, "#input-serviceName", "")
        await type_into(pilot, "#input-trackingUri", "${MLFLOW_URI_NOT_SET}")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=break_fields)


def test_auth_provider_fields(snap_compare, monkeypatch, tmp_path):
    """Auth0's own fields swapped in, the secret masked, with its ${VAR} option."""
    app = fixed_app(monkeypatch, tmp_path)

    async def auth0(pilot):
        await pilot.pause()
        app.screen.go(3)
        await pilot.pause()
        app.screen.query_one("#input-authProvider").value = "auth0"
        await pilot.pause()
        await type_into(pilot, "#input-sec-auth0-secretKey", FIXED_JWT)
        await type_into(pilot, "#input-sec-auth0-clientId", "ingestion")
        app.screen.query_one("#step-openmetadata VerticalScroll").scroll_to(y=4, animate=False)
        await settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=auth0)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_finished_run(snap_compare, monkeypatch, tmp_path, size):
    app = fixed_app(monkeypatch, tmp_path)

    async def run_it(pilot):
        await pilot.pause()
        app.screen.go(7)
        await pilot.pause()
        await plan_and_run(pilot)
        await wait_for(pilot, lambda: not app.screen.query_one("#step-run").running)
        await settle(pilot)
        log = app.screen.query_one("#run-log")  # it follows the end as lines wrap in: let it get there
        await wait_for(pilot, lambda: log.scroll_y == log.max_scroll_y)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_it)


def test_overwrite_confirmation(snap_compare, monkeypatch, tmp_path):
    """Writing a new workflow where a file already is (saving the file you opened asks nothing)."""
    app = fixed_app(monkeypatch, tmp_path)
    (tmp_path / "workflow.yaml").write_text("someone else's file\n", encoding="utf-8")

    async def write_over(pilot):
        await pilot.pause()
        screen = app.screen
        screen.go(6)
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is not screen)
        await settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=write_over)
