"""What a command does with its process: exit codes, SIGINT / SIGTERM, and quieting libraries' logs.

Exit codes: 0 success, 1 the workflow or a check failed, 2 bad usage or config, 128 + the signal when
stopped by one (130 for Ctrl-C / SIGINT, 143 for SIGTERM, 129 for SIGHUP), as shells and schedulers expect.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import warnings
from contextlib import contextmanager, suppress
from typing import Callable, Iterator

from .. import discard_temp_files

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""SIGHUP (the terminal closed, or `kill -HUP`) ends a run as SIGTERM does: with a summary, and the file
sink's temp file removed, instead of Python's default of dying on the spot."""


def quiet_libraries() -> None:
    """MLflow and urllib3 log retries and deprecations at WARNING; the run reports failures itself."""
    warnings.filterwarnings("ignore")
    for name in ("mlflow", "urllib3", "alembic", "git"):
        logging.getLogger(name).setLevel(logging.ERROR)


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
    """Route SIGINT, SIGTERM and SIGHUP to `handler` inside the block; the previous handlers come back after.

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
            discard_temp_files()
            os._exit(exit_code_for(signum))
        self.signum = signum
        self.cancel.set()
        again = "Ctrl-C" if signum == signal.SIGINT else _name(signum)
        by = "" if signum == signal.SIGINT else f" on {_name(signum)}"
        self._say(f"Cancelling{by}: finishing the models in flight, then stopping ({again} again to quit at once)")

    def stopped_by(self) -> str | None:
        """What stopped the run, for its summary: None for Ctrl-C (the user), else the signal's name."""
        return None if self.signum in (None, signal.SIGINT) else _name(self.signum)

    def exit_code(self, code: int) -> int:
        """The run's own exit code, unless a signal stopped it."""
        return code if self.signum is None else exit_code_for(self.signum)

    @staticmethod
    def _say(text: str) -> None:
        with suppress(OSError, ValueError):  # no usable stdout: the summary still tells
            os.write(sys.stdout.fileno(), f"\n{text}\n".encode())


def _name(signum: int) -> str:
    return signal.Signals(signum).name


def run_cancellable(work: Callable[[threading.Event], object], progress: Callable[[], str],
                    report: Callable[[dict[str, object]], int], tick: Callable[[], None] = lambda: None) -> int:
    """Do `work(cancel)` in a thread while SIGINT and SIGTERM cancel it (a second quits at once);
    `report` gets {"value": ...} or {"error": ...}, with "stopped_by" (`StopRequests.stopped_by`), and
    gives the exit code, unless a signal's replaces it. `tick` is called every 0.2 s while waiting."""
    cancel = threading.Event()
    stop = StopRequests(cancel, progress)
    result: dict[str, object] = {}
    finished = threading.Event()  # not Thread.join: a signal inside join() can leave it returning early

    def target() -> None:
        try:
            result["value"] = work(cancel)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which reports or re-raises it
            result["error"] = exc
        finally:
            finished.set()

    with stop_signals(stop):
        threading.Thread(target=target, name="run", daemon=True).start()
        while not finished.wait(0.2):
            tick()
        result["stopped_by"] = stop.stopped_by()
        return stop.exit_code(report(result))


def seconds(text: str) -> float:
    """A command-line duration: a number of seconds, more than 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value
