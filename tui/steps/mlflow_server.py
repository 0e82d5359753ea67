"""Step 1, MLflow: the service name and where the tracking server and model registry are."""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Input

from ..fields import BY_KEY
from ..widgets.field import Field
from .base import Step


class MlflowStep(Step):
    NAME = "mlflow"
    TITLE = "1  MLflow"
    INTRO = "Where the registered models come from, and the service they appear under in OpenMetadata."
    HELP = ("The service name the models appear under in OpenMetadata, and MLflow's tracking server (and its "
            "model registry, when that is elsewhere: a database URI, say).")
    HINTS = {
        "serviceName": "OpenMetadata creates the service if it is new",
        "trackingUri": "e.g. http://localhost:5000; ${VAR} is kept as typed",
        "registryUri": "Only when the registry is not the tracking server",
    }

    def body(self) -> ComposeResult:
        with VerticalScroll():
            yield self.field("serviceName")
            yield self.field("trackingUri")
            yield self.field("registrySame")
            yield self.field("registryUri")

    def on_mount(self) -> None:
        self._registry_follows(self.draft.values["registrySame"], self.draft.values["trackingUri"])

    # These run before the screen records the edit in the draft, so they take the new value from it.

    @on(Field.Edited, "#field-registrySame")
    def _same(self, event: Field.Edited) -> None:
        self._registry_follows(event.value, self.draft.values["trackingUri"])

    @on(Field.Edited, "#field-trackingUri")
    def _tracking(self, event: Field.Edited) -> None:
        self._registry_follows(self.draft.values["registrySame"], event.value)

    def _registry_follows(self, same: bool, tracking_uri: str) -> None:
        """While the registry is the tracking server, its field is off and shows that URI greyed; untick
        the box and it shows the registry URI typed before (the draft keeps it), or is empty."""
        field = self.query_one("#field-registryUri", Field)
        field.disabled = same
        field.show_value(tracking_uri if same else self.draft.values["registryUri"])
        self.query_one("#input-registryUri", Input).placeholder = BY_KEY["registryUri"].placeholder
