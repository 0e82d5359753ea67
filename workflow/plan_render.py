"""A plan (`workflow.plan.RunPlan`) as text for people (the CLI, the app's Run step) or JSON for scripts.

Model names, descriptions and reasons come from MLflow and OpenMetadata, so in text every control
character is shown escaped (a name cannot move the cursor or recolour the terminal); JSON escapes
them itself. Long values are shortened in text, kept whole in JSON. Secrets are masked in both.
"""
from __future__ import annotations

import json
import unicodedata
from typing import Any

from .plan import ACTIONS, FieldChange, PlannedModel, RunPlan

SHORT = 60
"""Characters of a value shown in text; longer ones end with an ellipsis."""
TITLES = {"new": "New", "changed": "Changed", "unchanged": "Unchanged", "written": "To be written to the file",
          "deleted": "To be marked deleted", "filtered": "Left out by the filter", "unreadable": "Cannot be read"}
MARKS = {"new": "+", "changed": "~", "unchanged": "=", "written": "+", "deleted": "-", "filtered": ".",
         "unreadable": "!"}
COUNT_WORDS = {"new": "new", "changed": "changed", "unchanged": "unchanged", "written": "to be written",
               "deleted": "to be marked deleted", "filtered": "left out by the filter", "unreadable": "cannot be read"}


# ------------------------------------------------------------------------------------------- text


def plan_lines(plan: RunPlan, only: str = "") -> list[str]:
    """The plan for people: the models by what the run does to them, then the counts. With `only`,
    just the models whose name or action holds that text (case-insensitive), as the app filters."""
    lines = [f"Plan for service {printable(plan.service)!r}: MLflow {printable(plan.source)} -> {plan.sink} "
             "(nothing was written)"]
    if not plan.to_file and not plan.service_exists:
        lines.append("The service does not exist yet: the run creates it, and every model is new.")
    needle = only.strip().lower()
    for action in ACTIONS:
        models = [m for m in plan.of(action) if needle in m.name.lower() or needle in TITLES[action].lower()]
        if models:
            lines.append(f"{TITLES[action]} ({len(models)}):")
            for model in models:
                lines += _model_lines(model)
    if plan.warnings:
        lines.append(f"Warnings ({len(plan.warnings)}):")
        lines += [f"  {printable(w.name)}: {printable(w.reason)}" for w in plan.warnings]
    lines += plan_notes(plan)
    lines.append(f"Counts: {counts_text(plan)}")
    return lines


def counts_text(plan: RunPlan) -> str:
    """E.g. "1 new, 2 changed, 3 unchanged, 0 to be marked deleted, 0 left out by the filter, 0 cannot be read"."""
    counts = plan.counts
    return ", ".join(f"{counts[a]} {COUNT_WORDS[a]}" for a in ACTIONS if counts[a] or a != "written")


def _model_lines(model: PlannedModel) -> list[str]:
    head = f"  {MARKS[model.action]} {printable(model.name)}"
    if model.action == "filtered":
        return [f"{head}: {printable(model.reason)} ({printable(shorten(model.pattern))})"]
    if model.reason:
        return [f"{head}: {printable(model.reason)}"]
    return [head] + [f"      {_change_text(change)}" for change in model.changes]


def _change_text(change: FieldChange) -> str:
    if change.field in ("features", "hyperParameters"):
        key = "dataType" if change.field == "features" else "value"
        return f"{change.field}: {_items_diff(change.old or [], change.new or [], key)}"
    return f"{change.field}: {_value(change.old)} -> {_value(change.new)}"


def _items_diff(old: list[dict[str, Any]], new: list[dict[str, Any]], key: str) -> str:
    """Named items, compared by name: `+name=value`, `-name=value`, `name old -> new`."""
    before = {item.get("name"): item.get(key) for item in old}
    after = {item.get("name"): item.get(key) for item in new}
    parts = [f"+{_item(n, v)}" for n, v in after.items() if n not in before]
    parts += [f"{printable(str(n))} {_value(before[n])} -> {_value(v)}" for n, v in after.items()
              if n in before and before[n] != v]
    parts += [f"-{_item(n, v)}" for n, v in before.items() if n not in after]
    return "; ".join(parts) or "the same items in another order"


def _item(name: Any, value: Any) -> str:
    return printable(shorten(f"{name}={value}"))


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return str(value).lower()
    return printable(repr(shorten(str(value))))


def plan_notes(plan: RunPlan) -> list[str]:
    """What the counts do not say: no history (file sink), no deletions, the guard, an incomplete plan."""
    notes = []
    if plan.to_file:
        notes.append("The file sink keeps no history: every model that can be read is written again.")
    elif not plan.mark_deleted:
        notes.append("markDeletedMlModels is false: the run marks nothing deleted.")
    if plan.guard is not None:
        deleted, allowed = len(plan.of("deleted")), plan.guard.allowed
        if plan.guard_stops:
            notes.append(f"--max-deletions {plan.guard.limit} would stop this run before it writes anything: "
                         f"{deleted} to be marked deleted, {allowed} allowed.")
        else:
            notes.append(f"Within --max-deletions {plan.guard.limit}: {deleted} to be marked deleted, "
                         f"{allowed} allowed.")
    if plan.problem:
        notes.append(f"The plan is INCOMPLETE, so a run now would not be either: {printable(plan.problem)}")
    return notes


def shorten(text: str, limit: int = SHORT) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}


def printable(text: str) -> str:
    """Text from a server as a terminal can show it: control and bidi characters escaped (`\\x1b`)."""
    return "".join(ch.encode("unicode_escape").decode() if unicodedata.category(ch) == "Cc" or ch in _BIDI else ch
                   for ch in text)


# ------------------------------------------------------------------------------------------- JSON


def plan_json(plan: RunPlan) -> str:
    """One JSON document with stable keys (see the README): every model has every key."""
    guard = None
    if plan.guard is not None:
        guard = {"limit": str(plan.guard.limit), "live": plan.guard.live, "allowed": plan.guard.allowed,
                 "wouldStop": plan.guard_stops}
    document = {
        "service": plan.service,
        "serviceExists": plan.service_exists,
        "source": plan.source,
        "sink": plan.sink,
        "complete": plan.complete,
        "problem": plan.problem or None,
        "markDeleted": plan.mark_deleted,
        "counts": plan.counts,
        "models": [{"name": m.name, "action": m.action,
                    "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in m.changes],
                    "reason": m.reason or None, "pattern": m.pattern or None} for m in plan.models],
        "warnings": [{"name": w.name, "message": w.reason} for w in plan.warnings],
        "maxDeletions": guard,
    }
    return json.dumps(document, indent=2)
