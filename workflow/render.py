"""Plain-text renderings of engine results, shared by the CLI and the Airflow task."""
from __future__ import annotations

from .document.config import Workflow
from .events import Issue, RunSummary
from .sinks import describe_sink

MAX_LISTED = 50


def summary_lines(summary: RunSummary, config: Workflow, *, total: int | None = None) -> list[str]:
    """The end-of-run report: counts like the official CLI's, then each failure by model and reason.

    `total` is how many models the registry listed, when the listing finished (a `TotalKnown` event).
    """
    lines = [
        "",
        f"Workflow summary: service {config.source.serviceName!r} -> {describe_sink(config)}",
        f"  Processed:  {summary.processed}{_breakdown(summary)}",
        f"  Warnings:   {len(summary.warnings)}",
        f"  Filtered:   {len(summary.filtered)}",
        f"  Errors:     {len(summary.failures)}",
    ]
    if summary.deleted:
        lines.append(f"  Marked deleted: {len(summary.deleted)}")
    elif summary.cancelled and config.source_options.markDeletedMlModels and config.sink.type == "metadata-rest":
        lines.append("  Marked deleted: none (the run was cancelled, so models it did not reach are not stale)")
    lines.append(f"  Success %:  {summary.success_percent} (threshold {summary.success_threshold})")
    if summary.recorded_in:
        lines.append(f"  Recorded:   {summary.recorded_in}")
    lines += _issues("Failures", summary.failures)
    lines += _issues("Warnings", summary.warnings)
    lines.append(f"Finished in {summary.elapsed_seconds:.2f} s: {verdict(summary, total=total)}")
    return lines


def verdict(summary: RunSummary, *, total: int | None = None) -> str:
    if summary.cancelled:
        return _cancelled(summary, total)
    if summary.incomplete:
        return f"FAILED: {summary.incomplete}"
    if summary.changed_nothing:
        return f"nothing changed: all {summary.processed} model(s) were already up to date"
    if not summary.failures:
        return "success"
    if summary.succeeded:
        if summary.below_threshold:
            return "finished with failures (raiseOnError is false, so this counts as success)"
        return "finished with failures, above the success threshold"
    return "FAILED: success % is below the threshold"


def _cancelled(summary: RunSummary, total: int | None) -> str:
    """How far a cancelled run got, so the user knows what a re-run still has to do.

    Models reached = done + failed + filtered; without `total` the listing had not finished, so the
    registry's size is unknown (MLflow's search does not count).
    """
    reached = summary.processed + len(summary.failures) + len(summary.filtered)
    where = f"{reached} of {total} model(s)" if total is not None else \
        f"{reached} model(s), before the registry listing finished"
    return f"cancelled by the user after {where}: {summary.processed} done, {len(summary.failures)} failed"


def _breakdown(summary: RunSummary) -> str:
    parts = [(summary.created, "created"), (summary.updated, "updated"), (summary.unchanged, "unchanged"),
             (summary.written, "written")]
    shown = [f"{n} {label}" for n, label in parts if n]
    return f" ({', '.join(shown)})" if shown else ""


def _issues(title: str, issues: tuple[Issue, ...]) -> list[str]:
    if not issues:
        return []
    lines = [f"{title}:"]
    lines += [f"  - {i.name}: {i.reason}" for i in issues[:MAX_LISTED]]
    if len(issues) > MAX_LISTED:
        lines.append(f"  ... and {len(issues) - MAX_LISTED} more")
    return lines
