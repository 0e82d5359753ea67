"""`metadata`: the headless face. Parses arguments, calls the engine, renders its events.

Exit codes: 0 success, 1 the workflow or a check failed, 2 bad usage or config, 128 + the signal when
stopped by one (130 for Ctrl-C / SIGINT, 143 for SIGTERM), as shells and schedulers expect. Nothing
heavy is imported at start-up: mlflow loads only when a run starts, Textual only for `metadata tui`.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
import time
import warnings
from contextlib import contextmanager, suppress
from typing import Callable, Iterator, TextIO

from ..errors import UserError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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
    except KeyboardInterrupt as exc:  # a signal before (or outside) a command's own handling of it
        print("\nCancelled.", file=sys.stderr)
        return exc.exit_code if isinstance(exc, Interrupted) else exit_code_for(signal.SIGINT)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metadata",
        description="Author, test and run OpenMetadata ingestion workflows for MLflow.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    ingest = commands.add_parser("ingest", help="run a workflow: MLflow registered models into OpenMetadata")
    ingest.add_argument("-c", "--config", required=True, metavar="FILE", help="the workflow YAML file")
    ingest.add_argument("--workers", type=worker_count, default=8,
                        help="models read from MLflow at once, 1 to 64 (default 8: about what a 2-worker "
                             "mlflow server can serve; more only helps a bigger server)")
    ingest.set_defaults(handler=_ingest)

    for name, help_text in PLUGGED_HELP.items():
        commands.add_parser(name, help=help_text, add_help=False)
    return parser


def worker_count(text: str) -> int:
    """A concurrency in 1..64: each worker holds a connection to MLflow, a shared server has few."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"{value} is out of range: use 1 to 64")
    return value


# Commands whose parsers live with their code (`main(argv, prog) -> exit code`), imported only when
# used so that start-up stays fast (the TUI's module brings Textual).
PLUGGED_MODULES = {"test-connection": "workflow.cli.check", "tui": "tui.app", "dag": "workflow.dags.dag_file"}
PLUGGED_HELP = {
    "test-connection": "check both endpoints of a workflow, step by step",
    "tui": "open the terminal app to author, check, write and run a workflow",
    "dag": "write an Airflow DAG file that runs a workflow on a schedule",
}


# ------------------------------------------------------------------------------------------- ingest


def _ingest(args: argparse.Namespace) -> int:
    from ..document.loader import load_workflow
    from ..document.redact import secret_values
    from ..runner import run_workflow

    config = load_workflow(args.config).config
    quiet_libraries()
    out = Printer(sys.stdout, secret_values(config))
    view = ProgressView(out, verbose=config.workflowConfig.loggerLevel.value == "DEBUG")
    cancel = threading.Event()
    stop = StopRequests(cancel, view.counts)
    result: dict[str, object] = {}
    finished = threading.Event()  # not Thread.join: a signal inside join() can leave it returning early

    def work() -> None:
        try:
            result["summary"] = run_workflow(config, view.handle, cancel=cancel, workers=args.workers)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which reports or re-raises it
            result["error"] = exc
        finally:
            finished.set()

    with stop_signals(stop):
        threading.Thread(target=work, name="run", daemon=True).start()
        while not finished.wait(0.2):
            pass
        return stop.exit_code(_report(result, config, out, view))


def _report(result: dict[str, object], config, out: "Printer", view: "ProgressView") -> int:  # noqa: ANN001
    """Print how the run ended and return its exit code (before any signal's code replaces it)."""
    from ..runner import ChecksFailed

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
    out.summary(summary, config, total=view.total)  # type: ignore[arg-type]
    return summary.exit_code  # type: ignore[union-attr]


def _print_failed_checks(report, out: "Printer") -> None:  # noqa: ANN001 - a checks.CheckReport
    """The steps that stopped the run, worded as `metadata test-connection` words them."""
    from .check import LineView, verdict

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
        from ..document.redact import scrub

        target = stream or self.stream
        print(scrub(text, self.secrets), file=target, flush=True)

    def summary(self, summary, config, total: int | None = None) -> None:  # noqa: ANN001 - RunSummary, Workflow
        from ..render import summary_lines

        for text in summary_lines(summary, config, total=total):
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
        from .. import events as ev

        if isinstance(event, ev.RunStarted):
            self.out.line(f"Ingesting MLflow {event.source} as service {event.service!r} into {event.sink}")
        elif isinstance(event, ev.TotalKnown):
            self.total = event.total
        elif isinstance(event, ev.ModelDone):
            self.done += 1
            if self.verbose:
                self._clear()
                self.out.line(f"  {event.outcome:<10}{event.name}")
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
        return f"  {self.counts()}"

    def counts(self) -> str:
        """How far the run got, e.g. "12/40 models handled, 1 failed"."""
        of = f"/{self.total}" if self.total is not None else ""
        return f"{self.done}{of} models handled, {self.failed} failed"

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


# ------------------------------------------------------------------------------------------ signals


def exit_code_for(signum: int) -> int:
    """The shell's convention for "stopped by a signal": 128 + its number (130 SIGINT, 143 SIGTERM)."""
    return 128 + signum


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM turned into an exception (see `raise_interrupted`), carrying its exit code.

    A KeyboardInterrupt, so that `except Exception` in libraries lets it through, as it does Ctrl-C.
    """

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return exit_code_for(self.signum)


def raise_interrupted(signum: int, frame: object) -> None:
    """A handler for commands that have nothing to finish (test-connection): stop where we are."""
    raise Interrupted(signum)


@contextmanager
def stop_signals(handler: Callable[[int, object], None]) -> Iterator[None]:
    """Route SIGINT and SIGTERM to `handler` inside the block; the previous handlers come back after.

    Without this SIGTERM (what schedulers, `timeout` and `kill` send) ends the process on the spot,
    with no summary. Signals can only be handled in the main thread, so elsewhere nothing changes,
    and a signal that was ignored when we started (a `nohup` or background job) stays ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS if signal.getsignal(sig) is not signal.SIG_IGN}
    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class StopRequests:
    """How `metadata ingest` takes SIGINT and SIGTERM: the first cancels the run, a second quits at once.

    The first sets `cancel`: the run thread finishes the models in flight and returns a summary of
    what was done. A second means "do not wait": the process ends there. Either is acknowledged at
    once, written straight to the file descriptor: a handler runs in the main thread between two
    bytecodes, maybe inside a print, where re-entering the buffered stream would fail. (Setting
    `cancel` is safe: the main thread never holds its lock, it waits on another event.)
    """

    def __init__(self, cancel: threading.Event, progress: Callable[[], str]):
        self.cancel = cancel
        self.progress = progress
        self.signum: int | None = None

    def __call__(self, signum: int, frame: object) -> None:
        if self.signum is not None:
            self._say(f"Quit at once on a second {_name(signum)} after {self.progress()}: the models in flight "
                      "were dropped and nothing was marked deleted.")
            sinks = sys.modules.get("workflow.sinks")  # loaded by the run; no import inside a handler
            if sinks is not None:
                sinks.discard_temp_files()
            os._exit(exit_code_for(signum))
        self.signum = signum
        self.cancel.set()
        again = "Ctrl-C" if signum == signal.SIGINT else _name(signum)
        by = "" if signum == signal.SIGINT else f" on {_name(signum)}"
        self._say(f"Cancelling{by}: finishing the models in flight, then stopping ({again} again to quit at once)")

    def exit_code(self, code: int) -> int:
        """The run's own exit code, unless a signal stopped it."""
        return code if self.signum is None else exit_code_for(self.signum)

    @staticmethod
    def _say(text: str) -> None:
        with suppress(OSError, ValueError):  # no usable stdout: the summary still tells
            os.write(sys.stdout.fileno(), f"\n{text}\n".encode())


def _name(signum: int) -> str:
    return signal.Signals(signum).name


if __name__ == "__main__":
    sys.exit(main())
