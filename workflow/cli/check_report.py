"""How `metadata test-connection` shows its steps: a table on a terminal, plain lines in logs, one JSON
document for scripts; `metadata ingest` shows the steps that stopped a run the same way."""
from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, TextIO

from .. import UserError, shown
from .process import EXIT_FAILED

if TYPE_CHECKING:  # the checks import requests: not at the CLI's start-up
    from .. import CheckReport, CheckStep, Printer


SYMBOLS = {"pass": "✓", "fail": "✗", "warn": "!", "skipped": "-"}


COLORS = {"pass": "32", "fail": "31", "warn": "33", "skipped": "2"}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def verdict(report: CheckReport, elapsed: float) -> str:
    if report.ok:
        return f"Result: OK, a run can start ({len(report.steps)} steps in {elapsed:.2f} s)"
    failed = ", ".join(f"{s.endpoint}: {s.name}" for s in report.failures)
    return f"Result: FAILED ({failed}) in {elapsed:.2f} s"


class LineView:
    """Plain lines, for logs and pipes."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def start(self) -> None:
        return None

    def step(self, step: CheckStep) -> None:
        self._print(f"{step.endpoint} | {step.name} | {step.status} | {_ms(step.elapsed)} | {shown(step.cause)}")
        if step.remediation:
            self._print(f"    fix: {shown(step.remediation)}")

    def finish(self, report: CheckReport, elapsed: float) -> None:
        self._print(verdict(report, elapsed))

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


class TableView(LineView):
    """Aligned columns with status symbols (coloured unless NO_COLOR is set), for a terminal."""

    WIDTHS = (13, 45, 10, 8)

    def __init__(self, stream: TextIO):
        super().__init__(stream)
        self.color = "NO_COLOR" not in os.environ

    def start(self) -> None:
        self._print(self._row("Endpoint", "Step", "Status", "Time", "Cause"))

    def step(self, step: CheckStep) -> None:
        status = f"{SYMBOLS[step.status]} {step.status}"
        status = status.ljust(self.WIDTHS[2])
        if self.color:
            status = f"\033[{COLORS[step.status]}m{status}\033[0m"
        self._print(self._row(step.endpoint, step.name, status, _ms(step.elapsed), shown(step.cause), pad_status=False))
        if step.remediation:
            self._print(" " * (self.WIDTHS[0] + 1) + f"↳ {shown(step.remediation)}")

    def _row(self, endpoint: str, name: str, status: str, elapsed: str, cause: str, pad_status: bool = True) -> str:
        w_endpoint, w_name, w_status, w_time = self.WIDTHS
        status = status.ljust(w_status) if pad_status else status
        return f"{endpoint.ljust(w_endpoint)} {name.ljust(w_name)} {status} {elapsed.rjust(w_time)}  {cause}"


class JsonView(LineView):
    """Nothing while running; one document at the end, for scripts."""

    def step(self, step: CheckStep) -> None:
        return None

    def finish(self, report: CheckReport, elapsed: float) -> None:
        document = {"ok": report.ok, "steps": [dict(asdict(s), elapsed=round(s.elapsed, 4), cause=shown(s.cause),
                                                    remediation=shown(s.remediation)) for s in report.steps]}
        self._print(json.dumps(document, indent=2, ensure_ascii=False))


def report_error(error: object, out: "Printer") -> int:
    """Print why a run (or a plan) could not start and return its exit code; a bug is re-raised."""
    from .. import ChecksFailed

    if isinstance(error, ChecksFailed) and error.report is not None:
        view = LineView(out.stream)  # the steps that stopped the run, worded as test-connection words them
        for step in error.report.steps:
            if step.status in ("fail", "warn"):
                view.step(step)
        out.line(verdict(error.report, sum(step.elapsed for step in error.report.steps)))
        return EXIT_FAILED
    if isinstance(error, UserError):
        out.line(f"Error: {error}", stream=sys.stderr)
        return error.exit_code
    raise error  # type: ignore[misc] - a bug, not a user mistake: keep its traceback
