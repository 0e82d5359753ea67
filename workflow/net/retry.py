"""When and how long to wait before sending a call again: one policy for both servers' clients.

A call is sent again only when that is safe (reads, and OpenMetadata's idempotent writes) and the
failure may pass: rate limiting, a server or proxy error, a lost answer.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
"""Answers worth another try: rate limiting, and a server or a proxy in front of it that failed."""

MAX_ATTEMPTS = 3
BACKOFF = 0.5
"""Seconds before the second attempt, doubled before the third: 1.5 s in all when the server gives no
Retry-After, so a brief hiccup (a restart, a proxy timeout) is ridden out without slowing a run much."""

RETRY_AFTER_CAP = 10.0
"""The longest a Retry-After is honoured. A server asking for minutes would hold a sink thread, and so
the whole run, that long; after at most twice this the batch's models fail with the server's answer,
and the next run sends only them (the unchanged ones are skipped by their hash)."""


def retry_wait(attempt: int, retry_after: str | None = None) -> float:
    """Seconds to wait after attempt number `attempt` failed: the server's Retry-After, capped at
    `RETRY_AFTER_CAP`, when it sent a readable one; else `BACKOFF`, doubled for each attempt."""
    asked = parse_retry_after(retry_after)
    if asked is None:
        return BACKOFF * 2 ** (attempt - 1)
    return min(asked, RETRY_AFTER_CAP)


def parse_retry_after(value: str | None) -> float | None:
    """A Retry-After header in seconds: a number, or an HTTP date (RFC 9110 10.2.3); None if absent or
    unreadable. A date in the past is 0."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return max(seconds, 0.0) if math.isfinite(seconds) else None
