"""Step 4, OpenMetadata: the server, how to authenticate, and TLS.

The provider choice swaps in exactly the fields of that provider's `securityConfig` block (they come
from the engine's `SECURITY_CONFIGS` models, so a new provider there appears here). Secrets are
masked; each can be written as a `${VAR}` reference instead of inline.
"""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Static

from ..draft import SPECS, provider_tag
from ..widgets.field import Field
from ..widgets.secret import SecretField
from .base import Step


def _block_id(provider: str) -> str:
    return f"security-{provider_tag(provider) or 'none'}"


class OpenMetadataStep(Step):
    NAME = "openmetadata"
    TITLE = "4  OpenMetadata"
    INTRO = "The server the models go to (a file sink only needs it for Test)."
    HINTS = {
        "hostPort": "The API's URL, usually ending in /api",
        "caCertificate": "Needed when Verify TLS is validate",
        "sec-openmetadata-jwtToken": "The ingestion-bot token (Settings > Bots), or a path to a file holding it",
    }
    BINDINGS = [
        Binding("ctrl+o", "toggle_secrets", "Show secrets", tooltip="Show or mask the secrets on this step",
                id="toggle-secrets"),
    ]

    def body(self) -> ComposeResult:
        with VerticalScroll():
            yield self.field("hostPort")
            yield self.field("authProvider")
            provider = self.draft.values["authProvider"]
            with ContentSwitcher(initial=_block_id(provider), id="security"):
                yield self._block(provider)
            yield self.field("verifySSL")
            yield self.field("caCertificate")

    def _block(self, provider: str) -> Widget:
        """One provider's fields; built when first chosen (there are dozens of fields in all)."""
        tag = provider_tag(provider)
        if tag is None:
            return Static("No credentials are sent: the server must allow anonymous access.",
                          id=_block_id(provider), classes="security-note")
        return Vertical(*(self.field(s.key) for s in SPECS if s.provider == tag), id=_block_id(provider),
                        classes="security-block")

    @on(Field.Edited, "#field-authProvider")
    async def _provider(self, event: Field.Edited) -> None:
        switcher = self.query_one(ContentSwitcher)
        block_id = _block_id(event.value)
        if not switcher.query_children(f"#{block_id}"):
            await switcher.mount(self._block(event.value))
        switcher.current = block_id
        if self.report is not None:
            self.show_report(self.report)

    def action_toggle_secrets(self) -> None:
        block = self.query_one(ContentSwitcher).visible_content
        for field in block.query(SecretField) if block else ():
            field.toggle_shown()
