"""`metadata ingest --plan [--json]`: what a run would change, with progress on stderr; writes nothing."""
from __future__ import annotations

import sys
from typing import Any

from .. import events as ev
from .check_report import report_error
from .process import run_cancellable


def show_plan(config, args) -> int:  # noqa: ANN001 - a Workflow and the parsed arguments
    """Make the plan with progress on stderr, print it on stdout; 0 when it could be made, else 1."""
    from .. import Printer, ProgressView, known_secrets, plan_json, plan_lines, plan_workflow

    secrets = known_secrets(config)
    out = Printer(sys.stdout, secrets)
    view = ProgressView(Printer(sys.stderr, secrets), every=args.progress_every)

    def progress(event: ev.Event) -> None:
        if isinstance(event, ev.RunStarted):
            view.running = True  # its steady lines without a terminal, but no "Ingesting" line
        elif not isinstance(event, (ev.ModelsDeleted, ev.ModelWarning)):
            view.handle(event)

    def report(result: dict[str, Any]) -> int:
        if "error" in result:
            return report_error(result["error"], out)
        plan = result["value"]
        text = plan_json(plan) if args.json else "\n".join(plan_lines(plan))
        out.line(text)
        return 0 if plan.complete else 1

    return run_cancellable(lambda cancel: plan_workflow(config, progress, cancel=cancel, workers=args.workers,
                                                        max_deletions=args.max_deletions, full=args.full),
                           view.counts, report, tick=view.tick)
