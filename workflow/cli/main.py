"""`metadata` (also `mlflow-om`): the headless face. Parses arguments, calls the engine, renders its events.

The official openmetadata-ingestion installs a `metadata` command too, and OpenMetadata's Airflow
images carry it. Where both packages are installed, `metadata` hands over to the official CLI
(except for this tool's own `tui`, `dag` and `test-connection`), whichever was installed last, so
their ingestion keeps working; this tool is then `mlflow-om`, the name the docs and DAGs use.

Exit codes: 0 success, 1 the workflow or a check failed, 2 bad usage or config, 128 + the signal when
stopped by one (130 for Ctrl-C / SIGINT, 143 for SIGTERM, 129 for SIGHUP), as shells and schedulers expect. Nothing
heavy is imported at start-up: mlflow loads only when a run starts, Textual only for `metadata tui`.
"""
from __future__ import annotations

import argparse
import importlib
import signal
import sys

from .. import UserError
from .check_report import report_error
from .process import EXIT_USAGE, Interrupted, exit_code_for, quiet_libraries, run_cancellable, seconds


OUR_COMMAND = "mlflow-om"
DISTRIBUTION = "mlflow-om-workflow"


def metadata_command() -> int:
    """The `metadata` console script: the official CLI where it is installed too, else this tool."""
    argv = sys.argv[1:]
    if official_cli_installed() and not (argv and argv[0] in PLUGGED_MODULES):
        from metadata.cmd import metadata  # openmetadata-ingestion's own entry point

        return metadata()
    return main(argv)


def mlflow_om_command() -> int:
    """The `mlflow-om` console script: always this tool."""
    return main(sys.argv[1:], prog=OUR_COMMAND)


def official_cli_installed() -> bool:
    """Whether openmetadata-ingestion is installed in this environment (its `metadata.cmd`)."""
    import importlib.util

    try:
        return importlib.util.find_spec("metadata.cmd") is not None
    except ModuleNotFoundError:
        return False


def main(argv: list[str] | None = None, prog: str = "metadata") -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] in PLUGGED_MODULES:  # its own parser takes every argument after the name
            return importlib.import_module(PLUGGED_MODULES[argv[0]]).main(argv[1:], prog=f"{prog} {argv[0]}")
        parser = build_parser(prog)
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


def build_parser(prog: str = "metadata") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Author, test and run OpenMetadata ingestion workflows for MLflow.",
        epilog=other_metadata_note(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=VersionAction, help="print the version and which `metadata` runs")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    ingest = commands.add_parser("ingest", help="run a workflow: MLflow registered models into OpenMetadata")
    ingest.add_argument("-c", "--config", required=True, metavar="FILE", help="the workflow YAML file")
    ingest.add_argument("--workers", type=worker_count, default=8,
                        help="models read from MLflow at once, 1 to 64 (default 8: about what a 2-worker "
                             "mlflow server can serve; more only helps a bigger server)")
    ingest.add_argument("--plan", action="store_true",
                        help="read MLflow and OpenMetadata as the run would and print what it would change "
                             "(new, changed, unchanged, marked deleted, left out, unreadable); writes nothing")
    ingest.add_argument("--json", action="store_true", help="with --plan: print the plan as one JSON document")
    ingest.add_argument("--max-deletions", type=deletion_limit, metavar="N|N%",
                        help="fail before writing anything when the run would mark more than N models "
                             "(or N%% of the service's models) deleted")
    ingest.add_argument("--full", action="store_true",
                        help="read every model and its run; by default a re-run reads only those that may have "
                             "changed since the last run into the same OpenMetadata service (the run of an "
                             "unchanged model: while it is going, and a day after it ended)")
    ingest.add_argument("--progress-every", type=seconds, default=10.0, metavar="SECONDS",
                        help="without a terminal (Airflow, CI, a log file): print how far the run got this often, "
                             "whether or not a model finished (default 10)")
    ingest.set_defaults(handler=_ingest)

    for name, help_text in PLUGGED_HELP.items():
        commands.add_parser(name, help=help_text, add_help=False)
    return parser


class VersionAction(argparse.Action):
    """`--version`, looked up only when asked for (importlib.metadata reads the installed files)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)  # type: ignore[arg-type]

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        print(version_text())
        parser.exit()


def version_text() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a checkout that is not installed
        number = "(not installed)"
    note = other_metadata_note()
    return f"{DISTRIBUTION} {number}" + (f"\n{note}" if note else "")


def other_metadata_note() -> str:
    """A word on which `metadata` the shell runs, when it is not this tool's."""
    import shutil

    found = shutil.which("metadata")
    if found is None:
        return ""
    try:
        ours = "workflow.cli" in open(found, encoding="utf-8", errors="replace").read(2000)
    except OSError:
        ours = False
    if not ours:
        return (f"Note: `metadata` on your PATH is {found}, another program\n(openmetadata-ingestion's, most "
                f"likely): run this tool as `{OUR_COMMAND}`.")
    if official_cli_installed():
        return (f"Note: openmetadata-ingestion is installed here too, so `metadata` runs its CLI\n(except tui, dag "
                f"and test-connection): run this tool as `{OUR_COMMAND}`.")
    return ""


def worker_count(text: str) -> int:
    """A concurrency in 1..64: each worker holds a connection to MLflow, a shared server has few."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"{value} is out of range: use 1 to 64")
    return value


def deletion_limit(text: str):  # noqa: ANN201 - a DeletionLimit, imported only when the option is given
    from .. import DeletionLimit

    try:
        return DeletionLimit.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# Commands whose parsers live with their code (`main(argv, prog) -> exit code`), imported only when
# used so that start-up stays fast (the TUI's module brings Textual).
PLUGGED_MODULES = {"test-connection": "workflow.cli.check", "tui": "tui.app", "dag": "workflow.cli.dag",
                   "demo": "workflow.cli.demo"}
PLUGGED_HELP = {
    "test-connection": "check both endpoints of a workflow, step by step",
    "tui": "open the terminal app to author, check, write and run a workflow",
    "dag": "write an Airflow DAG file that runs a workflow on a schedule",
    "demo": "keep the app's demo MLflow server running, to try the commands on it",
}


# ------------------------------------------------------------------------------------------- ingest


def _ingest(args: argparse.Namespace) -> int:
    from .. import Printer, ProgressView, known_secrets, load_workflow, run_workflow

    if args.json and not args.plan:
        raise UserError("--json goes with --plan: a run prints its progress and summary as text",
                        hint="metadata ingest -c FILE --plan --json")
    config = load_workflow(args.config).config
    quiet_libraries()
    if args.plan:
        from .plan import show_plan

        return show_plan(config, args)
    out = Printer(sys.stdout, known_secrets(config))
    view = ProgressView(out, every=args.progress_every, verbose=config.workflowConfig.loggerLevel.value == "DEBUG")

    def report(result: dict[str, object]) -> int:
        if "error" in result:
            return report_error(result["error"], out)
        summary = result["value"]
        out.summary(summary, config, total=view.total, stopped_by=result["stopped_by"])  # type: ignore[arg-type]
        return summary.exit_code  # type: ignore[union-attr]

    return run_cancellable(lambda cancel: run_workflow(config, view.handle, cancel=cancel, workers=args.workers,
                                                       max_deletions=args.max_deletions, full=args.full),
                           view.counts, report,
                           tick=view.tick)  # a steady line without a terminal, even while no model finishes


if __name__ == "__main__":
    sys.exit(main())
