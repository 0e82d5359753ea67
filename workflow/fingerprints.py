"""What the last run saw of each model, so that a re-run reads again only what may have changed.

A model is skipped (reported `unchanged`, not read any further) only when all of these hold:

- the listing shows it as the last run saw it: the whole entry MLflow's listing answered (name,
  description, tags, aliases, timestamps, and the latest versions with their numbers, run ids,
  sources and timestamps), so a new version, a deleted one, an edit, a rename or a deletion shows;
- its highest version's run gives what the entity is built from as it did then: the params, the
  `mlflow.log-model.history` tag and the artifact root. A run's timestamps do not move when a param
  or tag is added to it later, so the run itself is compared; runs are read a hundred per call, so
  this costs about one call per hundred models;
- OpenMetadata still holds the entity, not deleted, with the `sourceHash` this tool last sent (an
  entity deleted or written by someone else since is sent again).

Not compared: the MLmodel file. MLflow writes it once, when the model is logged, and a version
points at it by its `source`, which is compared. `metadata ingest --full` reads everything.

A model the listing gives without its versions, one whose run was not read in a batch, and one
whose MLmodel file could not be read are never skipped. The last run's fingerprints are kept per
OpenMetadata server, service, MLflow server and filter in the user's cache directory, written
atomically with mode 0600; the file holds model names and digests only, never a URL or a secret.
With no such file every model is read.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Any

from .document.workflow_file import Workflow
from .document.redact import without_credentials
from .registry.records import RegisteredModel, Run

HISTORY_TAG = "mlflow.log-model.history"
Entry = tuple[str, str]
"""(fingerprint of what MLflow gave, sourceHash sent to OpenMetadata)"""


def digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def fingerprint(model: RegisteredModel, runs: dict[str, Run]) -> str | None:
    """What MLflow gives for this model, as one digest; None when it cannot be told without reading
    the model (no listing digest, or the run of its highest version was not read in a batch)."""
    if not model.listed:
        return None
    versions = [v for v in model.latest_versions if v.version.isdigit()]
    run_part: Any = None
    if versions:
        highest = max(versions, key=lambda v: int(v.version))
        if highest.run_id:
            run = runs.get(highest.run_id)
            if run is None:
                return None
            run_part = [run.params, run.tags.get(HISTORY_TAG), run.artifact_uri]
    return digest([model.listed, run_part])


def cache_path(config: Workflow) -> Path:
    """The file for this OpenMetadata server, service, MLflow server and filter."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = digest([without_credentials(config.openmetadata.hostPort), config.source.serviceName,
                  without_credentials(config.mlflow.trackingUri), without_credentials(config.mlflow.effective_registry_uri),
                  config.source_options.mlModelFilterPattern])
    return root / "mlflow-om-workflow" / "fingerprints" / f"{key[:32]}.json"


def load(path: Path) -> dict[str, Entry]:
    """The last run's entries; none when there is no file or it cannot be read (then all is read)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {name: (entry[0], entry[1]) for name, entry in data["models"].items()}
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return {}


def save(path: Path, entries: dict[str, Entry]) -> None:
    """Replace the file at once (a temp file renamed over it), readable by the user only. A cache
    that cannot be written costs the next run a full read, nothing else."""
    with suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temp = tempfile.mkstemp(prefix=".fingerprints.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:  # mkstemp made it 0600
                json.dump({"version": 1, "models": {name: list(entry) for name, entry in entries.items()}}, handle)
            os.replace(temp, path)
        except OSError:
            with suppress(OSError):
                os.unlink(temp)
