"""The Run step plans first: ctrl+r shows what the run would change (counts first, the list on demand,
filterable), ctrl+r again runs it, and a plan that marks models deleted asks once more, saying how many."""
from __future__ import annotations

import dataclasses
import functools

from textual.widgets import Input, RichLog

from tests.support.app_pilot import FIXED_SERVICES, fixed_app, fixed_plan, fixed_run, goto, run, text_of, wait_for
from tui.screens.confirm import ConfirmScreen


def log_text(app) -> str:
    """The log's words, single-spaced: long lines wrap at the pane's width."""
    return " ".join(" ".join(line.text for line in app.screen.query_one(RichLog).lines).split())


async def show_plan(pilot) -> None:
    await goto(pilot, 7)
    await pilot.press("ctrl+r")
    await wait_for(pilot, lambda: text_of(pilot, "#run-head").startswith("Plan:"), what="the plan")


def test_the_plan_comes_first_with_its_counts_and_a_filterable_list(monkeypatch, tmp_path):
    runs = []
    services = dataclasses.replace(FIXED_SERVICES, run_workflow=lambda *args: runs.append(1) or fixed_run(*args))
    app = fixed_app(monkeypatch, tmp_path, services=services)

    async def body():
        async with app.run_test(size=(100, 32)) as pilot:
            await show_plan(pilot)
            assert text_of(pilot, "#run-head") == (
                "Plan: 1 new, 1 changed, 1 unchanged, 0 to be marked deleted, 1 left out by the filter, "
                "0 cannot be read. ctrl+r runs it, l lists the models.")
            assert not runs and text_of(pilot, "#count-processed") == "Processed 0"
            assert not app.screen.query_one("#plan-filter").display

            await pilot.press("l")
            await pilot.pause()
            box = app.screen.query_one("#plan-filter", Input)
            assert box.display and box.has_focus
            listed = log_text(app)
            assert "+ churn-classifier" in listed and "~ demand-forecast" in listed
            assert "description: 'old words' -> 'new words'" in listed
            assert ". experimental-ranker: MlModel name matches an exclude pattern (experimental)" in listed

            await pilot.press(*"churn")
            await wait_for(pilot, lambda: "demand-forecast" not in log_text(app), what="the filter")
            assert "+ churn-classifier" in log_text(app)
            box.value = "changed"
            await wait_for(pilot, lambda: "churn-classifier" not in log_text(app), what="the filter by action")
            assert "~ demand-forecast" in log_text(app)

            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: "Finished" in text_of(pilot, "#run-head"), what="the run")
            assert runs == [1]
            assert not app.screen.query_one("#plan-filter").display

    run(body)


def test_a_plan_that_marks_models_deleted_asks_again_naming_how_many(monkeypatch, tmp_path):
    runs = []
    services = dataclasses.replace(
        FIXED_SERVICES, plan_workflow=functools.partial(fixed_plan, deleted=("retired-a", "retired-b")),
        run_workflow=lambda *args: runs.append(1) or fixed_run(*args))
    app = fixed_app(monkeypatch, tmp_path, services=services)

    async def body():
        async with app.run_test(size=(100, 32)) as pilot:
            await show_plan(pilot)
            assert "2 to be marked deleted" in text_of(pilot, "#run-head")
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
            assert "This run marks 2 model(s) deleted in OpenMetadata" in text_of(pilot, ".question")
            await pilot.press("n")
            await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
            assert not runs and text_of(pilot, "#run-head").startswith("Not run")

            await pilot.press("l")
            await pilot.pause()
            assert "- retired-a: no longer in the MLflow registry" in log_text(app)

            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question again")
            await pilot.press("y")
            await wait_for(pilot, lambda: "Finished" in text_of(pilot, "#run-head"), what="the run")
            assert runs == [1]

    run(body)


def test_the_plans_keys_move_with_the_keys_file_and_only_a_run_marks_the_step(monkeypatch, tmp_path):
    """The plan's keys carry ids like every other (a keys file moves them), a plan alone leaves the
    step unmarked, and after a run from the filtered list `c` copies the summary."""
    keys = tmp_path / "keys.yaml"
    keys.write_text("run: f5\nlist-plan: ctrl+l\n", encoding="utf-8")
    monkeypatch.setenv("MLFLOW_OM_KEYS", str(keys))
    app = fixed_app(monkeypatch, tmp_path)

    async def body():
        async with app.run_test(size=(100, 32)) as pilot:
            await goto(pilot, 7)
            await pilot.press("f5")
            await wait_for(pilot, lambda: text_of(pilot, "#run-head").startswith("Plan:"), what="the plan")
            assert text_of(pilot, "#stepitem-7")[:2] == "▸ "
            await pilot.press("ctrl+l")
            await pilot.pause()
            assert app.screen.query_one("#plan-filter", Input).has_focus
            assert "+ churn-classifier" in log_text(app)
            await pilot.press("f5")
            await wait_for(pilot, lambda: "Finished" in text_of(pilot, "#run-head"), what="the run")
            assert text_of(pilot, "#stepitem-7")[:2] == "▸✗"  # the fixed run has a failed model
            await pilot.press("c")
            assert app.clipboard.startswith("✗ Finished") and "fraud.detector v2" in app.clipboard

    run(body)
