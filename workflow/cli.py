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
from typing import Callable, TextIO

from .errors import UserError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    try:
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

    for name, module, help_text in PLUGGED_COMMANDS:
        command = commands.add_parser(name, help=help_text, add_help=False)
        command.add_argument("rest", nargs=argparse.REMAINDER)
        command.set_defaults(handler=_delegate(module, name))
    return parser


# Commands whose parsers live with their code (`main(argv) -> exit code`), imported only when used.
PLUGGED_COMMANDS: list[tuple[str, str, str]] = [
    ("test-connection", "workflow.check_cli", "check both endpoints of a workflow, step by step"),
    ("tui", "tui.app", "open the terminal app to author, check, write and run a workflow"),
    ("dag", "workflow.dag", "write an Airflow DAG file that runs a workflow on a schedule"),
]


def _delegate(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        return importlib.import_module(module).main(args.rest, prog=f"metadata {name}")

    return handler


# ------------------------------------------------------------------------------------------- ingest


def _ingest(args: argparse.Namespace) -> int:
    from .loader import load_workflow
    from .redact import secret_values
    from .runner import run_workflow

    loaded = load_workflow(args.config)
    config = loaded.config
    _quiet_libraries()
    out = Printer(sys.stdout, secret_values(config))
    view = ProgressView(out)
    cancel = threading.Event()
    result: dict[str, object] = {}
    finished = threading.Event()  # not Thread.join: a Ctrl-C inside join() can leave it returning early

    def work() -> None:
        try:
            result["summary"] = run_workflow(config, view.handle, cancel=cancel, workers=args.workers)
        except UserError as exc:
            result["error"] = exc
        finally:
            finished.set()

    thread = threading.Thread(target=work, name="run", daemon=True)
    thread.start()
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
    if "error" in result:
        error = result["error"]
        out.line(f"Error: {error}", stream=sys.stderr)
        return error.exit_code  # type: ignore[union-attr]
    summary = result["summary"]
    out.summary(summary, config)  # type: ignore[arg-type]
    return summary.exit_code  # type: ignore[union-attr]


def _quiet_libraries() -> None:
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

    def __init__(self, out: Printer, every: float = 5.0):
        self.out = out
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
        elif isinstance(event, ev.ModelFailed):
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
        return f"  {self.done}{of} models done, {self.failed} failed"

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
