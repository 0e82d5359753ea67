"""Key paths into the workflow document: a tuple of keys and list indexes, and the dotted form a
message shows (`source.serviceConnection.config.trackingUri`)."""
from __future__ import annotations

from typing import Any

Path_ = tuple[Any, ...]


def dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path)
