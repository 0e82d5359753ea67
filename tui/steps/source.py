"""Step 2, Source: which registered models to ingest, with a live preview of what the patterns select.

The preview lists the registry's names once per registry URI (in a worker) and then re-applies the
patterns locally on every keystroke with the engine's own `filtered_reason`, so what it shows is
exactly what a run will filter.
"""
from __future__ import annotations

from pydantic import ValidationError
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from workflow import MAX_RESULTS, FilterPattern, UserError, filtered_reason, redact_uri, shown

from ..draft import Report
from ..messages import ModelNames
from .base import Step

MAX_SHOWN = 200


class SourceStep(Step):
    NAME = "source"
    TITLE = "2  Source"
    INTRO = "Patterns are regular expressions matched at the start of a name, ignoring case; excludes win."
    HELP = ("Which registered models to ingest: include and exclude patterns, previewed live against the "
            "registry's names; whether models deleted in MLflow are marked deleted in OpenMetadata.")
    HINTS = {"includes": "Only matching models (none: all)", "excludes": "Never these"}
    BINDINGS = [
        Binding("ctrl+l", "reload", "Reload models", tooltip="List the registry's models again", id="reload"),
    ]

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - Step's own
        super().__init__(*args, **kwargs)
        self.names: list[str] | None = None
        self.listed_uri: str | None = None
        self.listing_error = ""
        self.pattern: FilterPattern | None = None

    def body(self) -> ComposeResult:
        with VerticalScroll():
            yield self.field("markDeleted")
            with Horizontal(id="patterns"):
                yield self.field("includes")
                yield self.field("excludes")
            yield Static("", id="preview-head", markup=False)
            yield Static("", id="preview")

    def show_report(self, report: Report) -> None:
        super().show_report(report)
        values = self.draft.values
        try:
            self.pattern = FilterPattern(includes=values["includes"] or None, excludes=values["excludes"] or None)
            stale = False
        except ValidationError:
            stale = True
        self._render_preview(stale)

    def entered(self) -> None:
        if self._registry_uri() != self.listed_uri:
            self.action_reload()

    def endpoint_ready(self) -> None:
        if self.listed_uri is not None:
            self.action_reload()

    def _registry_uri(self) -> str | None:
        """Where a run lists the models (the registry, which defaults to the tracking server), or None
        while the MLflow step has an error."""
        if self.report is None or {"trackingUri", "registryUri"} & set(self.report.errors):
            return None
        if not self.draft.values["registrySame"] and self.draft.resolved("registryUri"):
            return self.draft.resolved("registryUri")
        return self.draft.resolved("trackingUri")

    def action_reload(self) -> None:
        uri = self._registry_uri()
        if not uri:
            return
        self.listed_uri = uri
        self.names = None
        self.query_one("#preview-head", Static).update(f"Listing the registered models at {redact_uri(uri)} …")
        self._list(self.listed_uri)

    @work(thread=True, exclusive=True, group="preview", exit_on_error=False)
    def _list(self, registry_uri: str) -> None:
        try:
            self.post_message(ModelNames(registry_uri, self.services.list_models(registry_uri)))
        except UserError as exc:
            self.post_message(ModelNames(registry_uri, [], error=exc.message))

    @on(ModelNames)
    def _listed(self, message: ModelNames) -> None:
        if message.registry_uri != self.listed_uri:
            return
        self.names = message.names
        self.listing_error = message.error
        self._render_preview()

    def _render_preview(self, stale: bool = False) -> None:
        head = self.query_one("#preview-head", Static)
        body = self.query_one("#preview", Static)
        if self.names is None:
            if self.listed_uri is None:
                head.update("The preview appears when MLflow answers.")
            return
        if self.listing_error:
            head.update(f"No preview: {shown(self.listing_error)}")
            body.update("")
            return
        verdicts = [(name, filtered_reason(name, self.pattern)) for name in self.names]
        kept = sum(reason is None for _, reason in verdicts)
        note = " (fix the pattern: showing the last valid one)" if stale else ""
        listed = f"the first {len(self.names)}" if len(self.names) >= MAX_RESULTS else str(len(self.names))
        head.update(f"{kept} of {listed} registered models at {redact_uri(self.listed_uri)} match{note}:")
        lines = [
            Content.styled(f"✓ {shown(name)}", "$text-success") if reason is None
            else Content.styled(f"✗ {shown(name)}  ({reason.lower()})", "dim")
            for name, reason in verdicts[:MAX_SHOWN]
        ]
        if len(verdicts) > MAX_SHOWN:
            lines.append(Content(f"… and {len(verdicts) - MAX_SHOWN} more"))
        body.update(Content("\n").join(lines) if lines else "The registry has no models.")
