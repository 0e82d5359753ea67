"""`metadata test-connection -c FILE`: check both endpoints of a workflow and say why one fails.

Each step is printed as it completes (a table on a terminal, plain lines otherwise); `--json` prints
one document at the end instead. Exit codes: 0 every mandatory step passed, 1 a check failed,
2 bad usage or config, 130 / 143 stopped by SIGINT (Ctrl-C) / SIGTERM: the checks only read, so a
signal stops them at once.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from dataclasses import asdict
from typing import TextIO

from ..checks import CheckReport, CheckStep, run_checks
from .main import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Interrupted, exit_code_for, quiet_libraries, raise_interrupted, \
    stop_signals
from ..errors import UserError
from ..document.loader import load_workflow
from ..openmetadata.stored_connection import with_stored_connection


SYMBOLS = {"pass": "✓", "fail": "✗", "warn": "!", "skipped": "-"}
COLORS = {"pass": "32", "fail": "31", "warn": "33", "skipped": "2"}


def main(argv: list[str], prog: str = "metadata test-connection") -> int:
    try:
        args = build_parser(prog).parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return EXIT_OK if exc.code in (0, None) else EXIT_USAGE
    try:
        config = load_workflow(args.config).config
    except UserError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    quiet_libraries()
    view = JsonView(sys.stdout) if args.json else (TableView(sys.stdout) if sys.stdout.isatty() else LineView(sys.stdout))
    started = time.monotonic()
    try:
        with stop_signals(raise_interrupted):
            config = with_stored_connection(config, timeout=args.timeout)
            view.start()
            report = run_checks(config, timeout=args.timeout, on_step=view.step)
    except UserError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print("\nCancelled: the checks were stopped before they finished.", file=sys.stderr)
        return exc.exit_code if isinstance(exc, Interrupted) else exit_code_for(signal.SIGINT)
    view.finish(report, time.monotonic() - started)
    return EXIT_OK if report.ok else EXIT_FAILED


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Check that MLflow and OpenMetadata can be reached with this workflow, step by step.",
    )
    parser.add_argument("-c", "--config", required=True, metavar="FILE", help="the workflow YAML file")
    parser.add_argument("--timeout", type=_seconds, default=2.0, metavar="SECONDS",
                        help="connect timeout of each probe (default 2; reads may take 3 times longer)")
    parser.add_argument("--json", action="store_true", help="print one JSON document with every step at the end")
    return parser


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


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
        self._print(f"{step.endpoint} | {step.name} | {step.status} | {_ms(step.elapsed)} | {step.cause}")
        if step.remediation:
            self._print(f"    fix: {step.remediation}")

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
        self._print(self._row(step.endpoint, step.name, status, _ms(step.elapsed), step.cause, pad_status=False))
        if step.remediation:
            self._print(" " * (self.WIDTHS[0] + 1) + f"↳ {step.remediation}")

    def _row(self, endpoint: str, name: str, status: str, elapsed: str, cause: str, pad_status: bool = True) -> str:
        w_endpoint, w_name, w_status, w_time = self.WIDTHS
        status = status.ljust(w_status) if pad_status else status
        return f"{endpoint.ljust(w_endpoint)} {name.ljust(w_name)} {status} {elapsed.rjust(w_time)}  {cause}"


class JsonView(LineView):
    """Nothing while running; one document at the end, for scripts."""

    def step(self, step: CheckStep) -> None:
        return None

    def finish(self, report: CheckReport, elapsed: float) -> None:
        document = {"ok": report.ok, "steps": [dict(asdict(s), elapsed=round(s.elapsed, 4)) for s in report.steps]}
        self._print(json.dumps(document, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
