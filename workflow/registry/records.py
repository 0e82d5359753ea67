"""What the readers of an MLflow registry give back, however they read it (REST, a database,
MLflow's client): small records, the error a failed read raises, and the reads a run needs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Protocol

from ..errors import EndpointError


@dataclass(frozen=True)
class Version:
    name: str
    version: str
    run_id: str | None
    source: str | None


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    description: str | None
    latest_versions: tuple[Version, ...]
    listed: str = ""
    """A digest of the whole listing entry, to tell a model changed since the last run ("": unknown,
    as from the database and MLflow-client readers: their models are always read)."""


@dataclass(frozen=True)
class Run:
    params: dict[str, str]
    tags: dict[str, str]
    artifact_uri: str | None
    ended: bool = False
    """Whether the run had ended when read (FINISHED, FAILED or KILLED). False when the reader cannot
    tell: then a re-run reads it again."""


@dataclass(frozen=True)
class Page:
    models: list[RegisteredModel]
    token: str | None


class ReadError(Exception):
    """A read MLflow did not answer; `unreachable` when the server itself could not be reached.

    The message is a run's (a line per failed model); `explanation`, when the reader could tell, is
    the same failure for a person at a check: its cause and the setting to fix."""

    def __init__(self, message: str, *, unreachable: bool = False, explanation: EndpointError | None = None):
        super().__init__(message)
        self.unreachable = unreachable
        self.explanation = explanation

    def explained(self) -> EndpointError:
        return self.explanation or EndpointError(str(self))


class Registry(Protocol):
    def round_trip(self) -> float: ...

    def models_page(self, page_size: int, token: str | None) -> Page: ...

    def versions(self, name: str) -> Iterator[Version]: ...

    def run(self, run_id: str) -> Run: ...

    def runs(self, run_ids: list[str]) -> dict[str, Run]: ...

    def mlmodel_text(self, version: Version, run: Run | None = None) -> str | None:
        """The version's MLmodel file, None when it has none; `run`, the version's run when read,
        may tell where the file is."""

    def close(self) -> None: ...


def highest(versions: Iterable[Version]) -> Version | None:
    """The highest version number, as the official connector picks a model's version (stage and date ignored)."""
    numbered = [v for v in versions if str(v.version).isdigit()]
    return max(numbered, key=lambda v: int(v.version)) if numbered else None
