"""What every sink is: `open`, `write` batches of built models from several threads, `mark_deleted`,
`close`; one `SinkResult` per model written. `source_hash` is what a sink stores to tell, on the
next run, that a model has not changed."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..events import Outcome

if TYPE_CHECKING:  # the MLflow reader imports requests: not at the CLI's start-up, which imports the file sink
    from ..registry.mlflow_source import BuiltModel


@dataclass(frozen=True)
class SinkResult:
    name: str
    outcome: Outcome | None = None
    error: str | None = None


class Sink(Protocol):
    name: str
    batch_size: int

    def open(self) -> list[str]: ...

    def write(self, batch: list[BuiltModel]) -> list[SinkResult]: ...

    def holds(self, name: str, sent_hash: str) -> bool: ...

    def mark_deleted(self, seen: set[str]) -> list[str]: ...

    def close(self, complete: bool) -> list[str]: ...


def source_hash(request: dict[str, Any]) -> str:
    body = {k: v for k, v in request.items() if k != "sourceHash"}
    return hashlib.md5(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
