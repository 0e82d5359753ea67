"""What the last run saw of each model, so that a re-run reads again only what may have changed.

A model is skipped (reported `unchanged`, not read any further) only when all of these hold:

- the listing shows it as the last run saw it: the whole entry MLflow's listing answered (name,
  description, tags, aliases, timestamps, and the latest versions with their numbers, run ids,
  sources and timestamps), so a new version, a deleted one, an edit, a rename or a deletion shows;
- OpenMetadata still holds the entity, not deleted, with the `sourceHash` this tool last sent (an
  entity deleted or written by someone else since is sent again);
- the run of its highest version gives what the entity is built from (its params, the
  `mlflow.log-model.history` tag and the artifact root) as it did when last read. A run's
  timestamps do not move when a param is added to it later, so the listing cannot show that: the
  run is read again on every run while it is still going, and once a day after it has ended (MLflow
  still lets a param be added then, which is rare). Runs are read a hundred per call.

So an unchanged re-run costs the listing alone, and a param added to an ended run arrives within a
day, or at once with `metadata ingest --full`, which reads everything. Not compared: the MLmodel
file. MLflow writes it once, when the model is logged, and a version points at it by its `source`,
which the listing gives.

A model the listing gives without its versions, one whose run was not read in a batch, and one
whose MLmodel file could not be read are never skipped. The last run's fingerprints are kept per
OpenMetadata server, service, MLflow server and filter in the user's cache directory, written
atomically with mode 0600; the file holds model names, digests and times only, never a URL or a
secret. With no such file (or one of an older format) every model is read.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .document.workflow_file import Workflow
from .document.redact import without_credentials
from .registry.records import RegisteredModel, Run, highest

HISTORY_TAG = "mlflow.log-model.history"
RUN_READ_AGAIN_AFTER = 24 * 3600
"""Seconds after which an ended run is read again, in case a param was added to it since."""
FORMAT = 2
"""The file's format; a file of another is not read (the next run reads every model)."""


@dataclass(frozen=True, slots=True)
class Seen:
    """What a run saw of one model, and sent for it."""

    listed: str
    """The digest of its listing entry."""
    run: str | None
    """The digest of what the entity takes from the run of its highest version (None: no such run)."""
    sent: str
    """The sourceHash sent to OpenMetadata."""
    run_read_at: float | None
    """When that run was read, having ended (None: still going, so read it on the next run)."""

    def run_due(self, now: float) -> bool:
        """Whether the run must be read before the model can be skipped."""
        if self.run is None:
            return False
        return self.run_read_at is None or not 0 <= now - self.run_read_at <= RUN_READ_AGAIN_AFTER


def digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def run_fingerprint(model: RegisteredModel, runs: dict[str, Run]) -> tuple[str | None, bool] | None:
    """(what the entity takes from the run of the model's highest version, as a digest; whether that
    run has ended). (None, True) when its highest version has no run; None when that cannot be told
    without reading the model: the listing gave no versions, or the run was not read in a batch."""
    version = highest(model.latest_versions)
    if version is None:
        return None
    if not version.run_id:
        return None, True
    run = runs.get(version.run_id)
    if run is None:
        return None
    return digest([run.params, run.tags.get(HISTORY_TAG), run.artifact_uri]), run.ended


def cache_path(config: Workflow) -> Path:
    """The file for this OpenMetadata server, service, MLflow server and filter."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = digest([without_credentials(config.openmetadata.hostPort), config.source.serviceName,
                  without_credentials(config.mlflow.trackingUri), without_credentials(config.mlflow.effective_registry_uri),
                  config.source_options.mlModelFilterPattern])
    return root / "mlflow-om-workflow" / "fingerprints" / f"{key[:32]}.json"


def load(path: Path) -> dict[str, Seen]:
    """The last run's; none when there is no file, or it cannot be read or is of another format
    (then all is read)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["format"] != FORMAT:
            return {}
        return {name: _seen(entry) for name, entry in data["models"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _seen(entry: dict[str, Any]) -> Seen:
    """One model's entry, its types checked: a file edited by hand must not break a run later."""
    seen = Seen(**entry)
    if not (isinstance(seen.listed, str) and isinstance(seen.sent, str) and isinstance(seen.run, (str, type(None)))
            and isinstance(seen.run_read_at, (int, float, type(None))) and not isinstance(seen.run_read_at, bool)):
        raise ValueError(f"an entry of the wrong types: {entry!r}")
    return seen


def save(path: Path, seen: dict[str, Seen]) -> None:
    """Replace the file at once (a temp file renamed over it), readable by the user only. A cache
    that cannot be written costs the next run a full read, nothing else."""
    with suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temp = tempfile.mkstemp(prefix=".fingerprints.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:  # mkstemp made it 0600
                json.dump({"format": FORMAT, "models": {name: asdict(entry) for name, entry in seen.items()}}, handle)
            os.replace(temp, path)
        except OSError:
            with suppress(OSError):
                os.unlink(temp)
