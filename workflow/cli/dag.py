"""`metadata dag -c FILE -o DIR`: the command line of the Airflow export (workflow/dags/ writes the file).

Exit codes: 0 written, 2 bad usage or config, or a folder that cannot be written.
"""
from __future__ import annotations

import argparse
import datetime as dt
import errno
import re
import sys
from pathlib import Path

from .. import DAG_ID_MAX, DAG_MODES, DEFAULT_REQUIREMENT, DEFAULT_RETRIES, DEFAULT_SCHEDULE, EmbeddedWorkflow, \
    KeepUnsetReferences, UserError, embed_workflow, load_workflow, secrets_in, write_dag

_DAG_ID = re.compile(rf"[A-Za-z0-9_.-]{{1,{DAG_ID_MAX}}}")


def main(argv: list[str], prog: str = "metadata dag") -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        loaded = load_workflow(args.config, KeepUnsetReferences())
        path = write_dag(loaded, args.output, dag_id=args.dag_id, schedule=args.schedule, start_date=args.start_date,
                         mode=args.mode, requirements=args.requirement or [DEFAULT_REQUIREMENT],
                         retries=args.retries, force=args.force, max_deletions=args.max_deletions)
    except UserError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # the output folder cannot be made or written
        hint = ("pass a shorter --dag-id, or a shorter -o folder" if exc.errno == errno.ENAMETOOLONG else
                "choose a folder you can write to")
        print(f"Error: cannot write the DAG into {args.output}: {exc.strerror}\n    hint: {hint}", file=sys.stderr)
        return 2
    for line in report_lines(path, args, embed_workflow(loaded), secrets_in(path.read_text(encoding="utf-8"), loaded)):
        print(line)
    return 0


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Write an Airflow DAG file that runs a workflow with this tool's engine, on a schedule.",
    )
    parser.add_argument("-c", "--config", required=True, metavar="FILE", help="the workflow YAML file")
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="folder to write <dag-id>.py into")
    parser.add_argument("--dag-id", type=_dag_id, metavar="ID",
                        help="the DAG id and file name (default: <serviceName>_metadata_ingestion)")
    parser.add_argument("--schedule", type=_schedule, default=DEFAULT_SCHEDULE, metavar="CRON",
                        help="a cron expression, a preset such as @hourly, or 'none' for manual runs only "
                             f"(default {DEFAULT_SCHEDULE})")
    parser.add_argument("--start-date", type=_date, default=dt.date.today(), metavar="DATE",
                        help="first day the DAG is scheduled, YYYY-MM-DD (default today)")
    parser.add_argument("--mode", choices=DAG_MODES, default="python",
                        help="python: run in the Airflow workers' environment, which must have this package; "
                             "virtualenv: install it into a virtualenv at each run (default python)")
    parser.add_argument("--requirement", type=_requirement, action="append", metavar="REQ",
                        help="virtualenv mode: a pip requirement to install, repeatable "
                             f"(default {DEFAULT_REQUIREMENT}; add your registry's database driver if it needs one; "
                             f"a checkout: '{DEFAULT_REQUIREMENT} @ file:///path/to/it')")
    parser.add_argument("--retries", type=int, default=DEFAULT_RETRIES, metavar="N",
                        help=f"task retries, 5 minutes apart (default {DEFAULT_RETRIES})")
    parser.add_argument("--max-deletions", type=_deletion_limit, metavar="N|N%",
                        help="each run fails before writing anything when it would mark more than N models "
                             "(or N%% of the service's models) deleted")
    parser.add_argument("--force", action="store_true", help="overwrite an existing DAG file")
    return parser


def _dag_id(text: str) -> str:
    if len(text) > DAG_ID_MAX:
        raise argparse.ArgumentTypeError(f"{len(text)} characters is too long: use at most {DAG_ID_MAX}")
    if not _DAG_ID.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r}: use letters, digits, '_', '.' and '-' only")
    return text


def _schedule(text: str) -> str | None:
    """None means manual runs only; presets and cron expressions are checked fully by Airflow itself."""
    if text.lower() == "none":
        return None
    if text.startswith("@") or len(text.split()) in (5, 6):
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is neither a cron expression (5 fields), a preset like @daily, nor none")


def _requirement(text: str) -> str:
    """Airflow accepts only PEP 508 requirements: a bare path fails the task, so it fails here."""
    if text.startswith(("/", ".", "~")):
        path = Path(text).expanduser().resolve()
        raise argparse.ArgumentTypeError(f"{text!r} is a path; write it as '{DEFAULT_REQUIREMENT} @ {path.as_uri()}'")
    return text


def _deletion_limit(text: str) -> str:
    """Checked here, kept as written: the task parses it again when it runs."""
    from .main import deletion_limit

    return str(deletion_limit(text))


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-01-31") from None


def install_command() -> str:
    """A command that installs this tool on a worker: from this checkout, or a wheel built from it."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file():
        return (f"pip install {checkout} (or build a wheel to copy there: pip wheel --no-deps -w dist {checkout}, "
                "then pip install dist/mlflow_om_workflow-*.whl)")
    return ("pip install the wheel this environment was installed from (pip wheel --no-deps -w dist <checkout> "
            "builds one)")


def report_lines(path: Path, args: argparse.Namespace, embedded: "EmbeddedWorkflow", leaked: list[str]) -> list[str]:
    """What the user must do next: above all, which variables the workers need."""
    schedule = args.schedule or "none (manual runs only)"
    lines = [f"Wrote {path}: DAG {path.stem!r}, schedule {schedule}, {args.mode} mode"]
    if leaked:
        lines.append(f"Warning: the value of {', '.join(leaked)} also stands elsewhere in the workflow, so the DAG "
                     "holds it: the file is private (0600); choose a password unlike the rest of the workflow")
    if embedded.lifted:
        lines.append(f"Secrets inline in {Path(args.config).name} are not copied into the DAG; "
                     "it reads them from variables:")
        lines += [f"  {where} -> ${{{name}}}" for where, name in embedded.lifted]
    if embedded.dropped_run_id:
        lines.append(f"pipelineRunId of {Path(args.config).name} is not copied into the DAG: each DAG run is "
                     "recorded as a run of its own in ingestionPipelineFQN's run history")
    if embedded.variables:
        lines.append("Set these on the Airflow workers (environment variables) or as Airflow Variables of that name:")
        lines.append("  " + " ".join(embedded.variables))
    if args.mode == "python":
        lines.append(f"The workers need this package (it is not on PyPI): {install_command()}")
    else:
        lines.append(f"Each run installs {', '.join(args.requirement or [DEFAULT_REQUIREMENT])} into a fresh virtualenv.")
    if args.max_deletions:
        limit = args.max_deletions
        what = f"{limit} of the service's models" if limit.endswith("%") else f"{limit} model(s)"
        lines.append(f"Each run fails before writing anything if it would mark more than {what} deleted.")
    lines.append("Then copy the file into your Airflow dags folder.")
    return lines
