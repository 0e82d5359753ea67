"""`metadata test-connection -c FILE`: check both endpoints of a workflow and say why one fails.

Each step is printed as it completes (a table on a terminal, plain lines otherwise); `--json` prints
one document at the end instead. Exit codes: 0 every mandatory step passed, 1 a check failed,
2 bad usage or config, 130 / 143 stopped by SIGINT (Ctrl-C) / SIGTERM: the checks only read, so a
signal stops them at once.
"""
from __future__ import annotations

import argparse
import signal
import sys
import time

from .. import UserError, known_secrets, load_workflow, run_checks, scrub, shown, with_stored_connection
from .check_report import JsonView, LineView, TableView
from .process import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Interrupted, exit_code_for, quiet_libraries, raise_interrupted, \
    seconds, stop_signals


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
    except UserError as exc:  # e.g. the stored connection could not be read: the server's words, scrubbed
        print(f"Error: {shown(scrub(str(exc), known_secrets(config)))}", file=sys.stderr)
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
    parser.add_argument("--timeout", type=seconds, default=2.0, metavar="SECONDS",
                        help="connect timeout of each probe (default 2; reads may take 3 times longer)")
    parser.add_argument("--json", action="store_true", help="print one JSON document with every step at the end")
    return parser


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
