"""The live list of endpoint checks: one row per step as it finishes, with why and what to do.

Both endpoints are checked at once, so steps arrive interleaved; each endpoint gets its own section
(MLflow first, as in the workflow) and rows land in theirs. A failed step shows its cause and
remediation in full, since that is the point of testing.
"""
from __future__ import annotations

from typing import Any

from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

GLYPHS = {"pass": "✓", "fail": "✗", "warn": "!", "skipped": "–"}
STYLES = {"pass": "$text-success", "fail": "$text-error", "warn": "$text-warning", "skipped": "dim"}
ORDER = ("MLflow", "OpenMetadata", "File sink")


class CheckList(VerticalScroll):
    DEFAULT_CSS = """
    CheckList { height: 1fr; }
    CheckList > .endpoint { height: auto; padding: 0 1; margin-top: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.steps: dict[str, list[Any]] = {}
        self.sections: dict[str, Static] = {}

    def clear(self) -> None:
        self.remove_children()
        self.steps = {}
        self.sections = {}

    def add(self, step: Any) -> None:
        """Append a `workflow.checks.CheckStep` to its endpoint's section."""
        endpoint = step.endpoint
        if endpoint not in self.sections:
            later = sorted((e for e in self.sections if _rank(e) > _rank(endpoint)), key=_rank)
            self.sections[endpoint] = Static(classes="endpoint")
            self.steps[endpoint] = []
            self.mount(self.sections[endpoint], before=self.sections[later[0]] if later else None)
        self.steps[endpoint].append(step)
        self.sections[endpoint].update(_render(endpoint, self.steps[endpoint]))


    def as_text(self) -> str:
        """Every check with its cause and what to do, as plain text (for the clipboard)."""
        return "\n\n".join(_render(e, self.steps[e]).plain for e in sorted(self.steps, key=_rank))


def _render(endpoint: str, steps: list[Any]) -> Content:
    lines = [Content.styled(endpoint, "bold")]
    for step in steps:
        optional = "" if step.mandatory else " (optional)"
        took = "" if step.status == "skipped" else f"  {step.elapsed:.2f} s"
        style = STYLES.get(step.status, "")
        lines.append(Content.styled(f"{GLYPHS.get(step.status, '?')} {step.name}{optional}{took}", style))
        if step.cause:
            lines.append(Content.styled(f"  {step.cause}", style if step.status != "pass" else "dim"))
        if step.remediation and step.status != "pass":
            lines.append(Content.styled(f"  → {step.remediation}", style))
    return Content("\n").join(lines)


def _rank(endpoint: str) -> int:
    return ORDER.index(endpoint) if endpoint in ORDER else len(ORDER)

