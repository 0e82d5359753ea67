"""Listings that come in pages, as every reader of a server asks for them: MLflow's filter for one
model's versions, and the page tokens of a listing, which must not go round in a loop."""
from __future__ import annotations

from ..document.redact import redact_uri
from .records import ReadError


def version_filter(name: str) -> str:
    """MLflow's filter for one model's versions: its parser takes no backslash escapes, so a name
    with an apostrophe goes in double quotes."""
    return f'name="{name}"' if "'" in name else f"name='{name}'"


class PageTokens:
    """The page tokens of one listing: one sent twice means the server's paging loops, which would list
    the same models for ever, so the listing ends there with an error naming the server."""

    def __init__(self, server: str):
        self.server = server
        self.seen: set[str] = set()

    def next(self, token: str | None) -> str | None:
        if token and token in self.seen:
            raise ReadError(f"MLflow at {redact_uri(self.server)} sent the same next_page_token twice "
                            f"(after {len(self.seen)} pages): its paging loops, so the listing stops here")
        if token:
            self.seen.add(token)
        return token
