"""Step 3, Sink: send the models to OpenMetadata (optionally recording each run in one of its
ingestion pipelines), or write them to a JSON Lines file."""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll

from ..widgets.field import Field
from .base import Step


class SinkStep(Step):
    NAME = "sink"
    TITLE = "3  Sink"
    INTRO = ("metadata-rest sends each model to the OpenMetadata server of the next step; "
             "file writes the create requests as JSON Lines, for trying it without a server.")
    HELP = ("Where the models go: OpenMetadata (metadata-rest), optionally recording each run in one of its "
            "ingestion pipelines; or a JSON Lines file, to try it without a server.")
    HINTS = {"sinkFile": "Created or replaced at the end of a run",
             "pipelineFQN": "<service>.<pipeline>: each run shows in this pipeline's run history in "
                            "OpenMetadata (created if missing); leave empty not to record runs"}

    def body(self) -> ComposeResult:
        with VerticalScroll():
            yield self.field("sinkType")
            yield self.field("sinkFile")
            yield self.field("pipelineFQN")

    def on_mount(self) -> None:
        self._file_shown(self.draft.values["sinkType"])

    @on(Field.Edited, "#field-sinkType")
    def _type(self, event: Field.Edited) -> None:
        self._file_shown(event.value)

    def _file_shown(self, sink_type: str) -> None:
        self.query_one("#field-sinkFile", Field).display = sink_type == "file"
        self.query_one("#field-pipelineFQN", Field).display = sink_type != "file"
