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

from ..fields import SPECS, provider_tag
from ..widgets.field import Field
from ..widgets.secret import SecretField
from .base import Step


def _block_id(provider: str) -> str:
    return f"security-{provider_tag(provider) or 'none'}"


class OpenMetadataStep(Step):
    NAME = "openmetadata"
    TITLE = "4  OpenMetadata"
    INTRO = "The server the models go to, and how to sign in to it."
    HELP = ("The OpenMetadata server, its auth provider's own fields (secrets masked, or written as ${VAR} "
            "references) and TLS. ctrl+o shows or masks the secrets.")
    FILE_SINK_INTRO = ("With the file sink, nothing talks to this server: neither Test nor Run use it. It stays in "
                       "the file (the format needs it) for when you send the models to OpenMetadata.")
    HINTS = {
        "hostPort": "The API's URL, usually ending in /api",
        "caCertificate": "Needed when Verify TLS is validate",
        "sec-openmetadata-jwtToken": "The ingestion-bot token (Settings > Bots), or a path to a file holding it",
    }
    BINDINGS = [  # one key, two words: the footer says what pressing it will do
        Binding("ctrl+o", "show_secrets(True)", "Show secrets", tooltip="Show the secrets on this step",
                id="toggle-secrets"),
        Binding("ctrl+o", "show_secrets(False)", "Hide secrets", tooltip="Mask the secrets on this step again",
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

    def entered(self) -> None:
        to_file = self.draft.values["sinkType"] == "file"
        self.query_one(".step-intro", Static).update(self.FILE_SINK_INTRO if to_file else self.INTRO)

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

    def _secret_fields(self) -> list[SecretField]:
        block = self.query_one(ContentSwitcher).visible_content
        return list(block.query(SecretField)) if block else []

    def secrets_shown(self) -> bool:
        return any(not field.secret_input.password for field in self._secret_fields())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "show_secrets":
            return parameters[0] != self.secrets_shown()
        return True

    def action_show_secrets(self, show: bool) -> None:
        for field in self._secret_fields():
            field.show_secret(show)
        self.refresh_bindings()

    @on(SecretField.Toggled)
    def _toggled(self) -> None:
        self.refresh_bindings()
