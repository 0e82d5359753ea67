"""`metadata`: the headless face. Parses arguments, calls the engine, renders its events.

Exit codes: 0 success, 1 the workflow or a check failed, 2 bad usage or config. Nothing heavy is
imported at start-up: mlflow loads only when a run starts, Textual only for `metadata tui`.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
import threading
import time
import warnings
from typing import TextIO

from .errors import UserError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] in PLUGGED_MODULES:  # its own parser takes every argument after the name
            return importlib.import_module(PLUGGED_MODULES[argv[0]]).main(argv[1:], prog=f"metadata {argv[0]}")
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_help()
            return EXIT_USAGE
        return args.handler(args)
    except UserError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metadata",
        description="Author, test and run OpenMetadata ingestion workflows for MLflow.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    ingest = commands.add_parser("ingest", help="run a workflow: MLflow registered models into OpenMetadata")
    ingest.add_argument("-c", "--config", required=True, metavar="FILE", help="the workflow YAML file")
    ingest.add_argument("--workers", type=int, default=8, help="models read from MLflow at once (default 8)")
    ingest.set_defaults(handler=_ingest)

    for name, help_text in PLUGGED_HELP.items():
        commands.add_parser(name, help=help_text, add_help=False)
    return parser


# Commands whose parsers live with their code (`main(argv, prog) -> exit code`), imported only when
# used so that start-up stays fast (the TUI's module brings Textual).
PLUGGED_MODULES = {"test-connection": "workflow.check_cli", "tui": "tui.app", "dag": "workflow.dag"}
PLUGGED_HELP = {
    "test-connection": "check both endpoints of a workflow, step by step",
    "tui": "open the terminal app to author, check, write and run a workflow",
    "dag": "write an Airflow DAG file that runs a workflow on a schedule",
}


# ------------------------------------------------------------------------------------------- ingest


def _ingest(args: argparse.Namespace) -> int:
    from .loader import load_workflow
    from .redact import secret_values
    from .runner import ChecksFailed, run_workflow

    config = load_workflow(args.config).config
    quiet_libraries()
    out = Printer(sys.stdout, secret_values(config))
    view = ProgressView(out, verbose=config.workflowConfig.loggerLevel.value == "DEBUG")
    cancel = threading.Event()
    result: dict[str, object] = {}
    finished = threading.Event()  # not Thread.join: a Ctrl-C inside join() can leave it returning early

    def work() -> None:
        try:
            result["summary"] = run_workflow(config, view.handle, cancel=cancel, workers=args.workers)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which reports or re-raises it
            result["error"] = exc
        finally:
            finished.set()

    threading.Thread(target=work, name="run", daemon=True).start()
    try:
        while not finished.wait(0.2):
            pass
    except KeyboardInterrupt:
        cancel.set()
        out.line("\nCancelling: finishing the models in flight, then stopping (Ctrl-C again to quit at once)")
        try:
            finished.wait()
        except KeyboardInterrupt:
            return EXIT_FAILED
    error = result.get("error")
    if isinstance(error, ChecksFailed) and error.report is not None:
        _print_failed_checks(error.report, out)
        return EXIT_FAILED
    if isinstance(error, UserError):
        out.line(f"Error: {error}", stream=sys.stderr)
        return error.exit_code
    if error is not None:
        raise error  # a bug, not a user mistake: keep its traceback
    summary = result["summary"]
    out.summary(summary, config)  # type: ignore[arg-type]
    return summary.exit_code  # type: ignore[union-attr]


def _print_failed_checks(report, out: "Printer") -> None:  # noqa: ANN001 - a checks.CheckReport
    """The steps that stopped the run, worded as `metadata test-connection` words them."""
    from .check_cli import LineView, verdict

    view = LineView(out.stream)
    for step in report.steps:
        if step.status in ("fail", "warn"):
            view.step(step)
    out.line(verdict(report, sum(step.elapsed for step in report.steps)))


def quiet_libraries() -> None:
    """MLflow and urllib3 log retries and deprecations at WARNING; the run reports failures itself."""
    warnings.filterwarnings("ignore")
    for name in ("mlflow", "urllib3", "alembic", "git"):
        logging.getLogger(name).setLevel(logging.ERROR)


class Printer:
    """Writes lines with every secret of the config scrubbed out."""

    def __init__(self, stream: TextIO, secrets: list[str]):
        self.stream = stream
        self.secrets = secrets
        self.tty = stream.isatty()

    def line(self, text: str = "", *, stream: TextIO | None = None) -> None:
        from .redact import scrub

        target = stream or self.stream
        print(scrub(text, self.secrets), file=target, flush=True)

    def summary(self, summary, config) -> None:  # noqa: ANN001 - RunSummary, Workflow
        from .render import summary_lines

        for text in summary_lines(summary, config):
            self.line(text)


class ProgressView:
    """Live progress: one rewritten line on a terminal, a plain line every few seconds otherwise."""

    def __init__(self, out: Printer, every: float = 5.0, verbose: bool = False):
        self.out = out
        self.verbose = verbose
        self.every = every
        self.total: int | None = None
        self.done = 0
        self.failed = 0
        self.last = 0.0

    def handle(self, event) -> None:  # noqa: ANN001 - an events.Event
        from . import events as ev

        if isinstance(event, ev.RunStarted):
            self.out.line(f"Ingesting MLflow {event.source} as service {event.service!r} into {event.sink}")
        elif isinstance(event, ev.TotalKnown):
            self.total = event.total
        elif isinstance(event, ev.ModelDone):
            self.done += 1
            if self.verbose:
                self._clear()
                self.out.line(f"  {event.outcome:<9}{event.name}")
        elif isinstance(event, ev.ModelFiltered):
            self.done += 1
            if self.verbose:
                self._clear()
                self.out.line(f"  filtered {event.name}: {event.reason}")
        elif isinstance(event, ev.ModelFailed):
            self.done += 1
            self.failed += 1
            self._clear()
            self.out.line(f"  failed   {event.name}: {event.reason}")
        elif isinstance(event, ev.ModelWarning):
            self._clear()
            self.out.line(f"  warning  {event.name}: {event.message}")
        elif isinstance(event, ev.ModelsDeleted):
            self._clear()
            self.out.line(f"  marked deleted: {', '.join(event.names)}")
        elif isinstance(event, ev.RunFinished):
            self._clear()
            return
        self._progress()

    def _text(self) -> str:
        of = f"/{self.total}" if self.total is not None else ""
        return f"  {self.done}{of} models handled, {self.failed} failed"

    def _progress(self) -> None:
        now = time.monotonic()
        if self.out.tty:
            self.out.stream.write("\r" + self._text() + "\033[K")
            self.out.stream.flush()
        elif now - self.last >= self.every and self.done:
            self.last = now
            self.out.line(self._text())

    def _clear(self) -> None:
        if self.out.tty:
            self.out.stream.write("\r\033[K")


if __name__ == "__main__":
    sys.exit(main())
