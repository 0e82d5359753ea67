"""Render every step of the wizard, and a finished run, to SVG files in this folder.

    python screenshots/make_screenshots.py

It runs the real app in demo mode, so the frames show a real `mlflow server` (started and seeded by
`workflow.demo`, stopped at the end) and a real run into the demo's JSON Lines file. The demo uses
no credentials, so no secret can appear in a picture.
"""
from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from tui.app import WorkflowApp
from tui.draft import Draft
from workflow.demo import prepare_demo

HERE = Path(__file__).resolve().parent
SIZE = (100, 32)
NAMES = ["mlflow", "source", "sink", "openmetadata", "review", "test", "write", "run"]


async def until(pilot, condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        await pilot.pause(0.1)


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete([w for w in pilot.app.workers if w.group != "demo"])
    await pilot.pause(0.3)
    for widget in pilot.app.screen.query("Input, TextArea"):
        widget.cursor_blink = False


async def shoot(folder: Path) -> list[Path]:
    demo = prepare_demo()
    app = WorkflowApp(Draft(demo.config()), target=demo.workflow_path, demo=demo)
    saved = []
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        banner = screen.query_one("#banner")
        await until(pilot, lambda: "sample models at" in str(banner.render()) or "could not" in str(banner.render()))
        if "could not" in str(banner.render()):
            raise SystemExit(f"the demo did not start: {banner.render()}")
        for index, name in enumerate(NAMES):
            screen.go(index)
            await pilot.pause()
            if name == "source":  # show the preview filtering one sample out, as the demo suggests
                screen.query_one("#input-excludes").insert("experimental")
                await until(pilot, lambda: "3 of 4 registered models" in str(screen.query_one("#preview-head").render()))
            if name == "test":
                await until(pilot, lambda: str(screen.query_one("#check-status").render())[:1] in "✓✗!")
            if name == "write":
                await pilot.press("ctrl+s")
                await until(pilot, lambda: app.screen is not screen or "Wrote" in str(screen.query_one("#write-result").render()))
                if app.screen is not screen:
                    await pilot.press("y")
                await until(pilot, lambda: "Wrote" in str(screen.query_one("#write-result").render()))
            await settle(pilot)
            saved.append(Path(app.save_screenshot(f"{index + 1:02d}-{name}.svg", str(folder))))
        await pilot.press("ctrl+r")  # the plan
        await until(pilot, lambda: screen.query_one("#step-run").plan is not None)
        await pilot.press("ctrl+r")  # the run
        await until(pilot, lambda: "Finished" in str(screen.query_one("#run-head").render()))
        await settle(pilot)
        saved.append(Path(app.save_screenshot("09-finished-run.svg", str(folder))))
    return saved


def main() -> int:
    for path in asyncio.run(shoot(HERE)):
        print(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
