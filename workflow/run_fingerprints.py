"""The fingerprints one run reads and keeps: which models it may skip, and what it leaves for the next run.

`fingerprints` holds the file and how a model is fingerprinted; this is the bookkeeping around a run:
the last run's fingerprints read at the start, each model's followed from its read to its write (a
model's fingerprint is kept only once OpenMetadata has taken it), and the lot saved at the end.
"""
from __future__ import annotations

import time
from dataclasses import replace

from . import fingerprints
from .document.workflow_file import Workflow
from .events import Issue
from .fingerprints import Seen
from .registry.mlflow_source import BuiltModel
from .registry.records import RegisteredModel, Run
from .sinks.base import Sink, source_hash


class RunFingerprints:
    """Kept only for a run into OpenMetadata: for any other sink, every model is read and nothing is saved."""

    def __init__(self, config: Workflow, *, full: bool, remember: bool):
        self.file = fingerprints.cache_path(config) if config.sink.type == "metadata-rest" else None
        self.last_seen: dict[str, Seen] = {}
        """The last run's fingerprints: empty for a first or `full` run, or a sink that is not OpenMetadata."""
        if self.file and not full:
            self.last_seen = fingerprints.load(self.file)
        self.remember = remember
        """Whether this run's fingerprints are saved for the next (never for a plan)."""
        self.started = time.time()
        """When the runs this run reads count as read: its start, so an ended run is read again a
        little early, never late."""
        self.now_seen: dict[str, Seen] = {}
        self.reading: dict[str, tuple[str, str | None, float | None]] = {}
        """What the models being built were listed and read as (listing, run, when the run was read)."""
        self.writing: dict[str, Seen] = {}
        """Fingerprints of the models being written, with the sourceHash they are sent with."""

    def unchanged_listed(self, model: RegisteredModel, sink: Sink) -> bool:
        """Whether the listing alone shows the model as the last run left it, in MLflow and in
        OpenMetadata (`sink`), and its run need not be read again yet: then it is not read at all."""
        last = self._as_last_left(model, sink)
        if last is None or last.run_due(self.started):
            return False
        self.now_seen[model.name] = last
        return True

    def unchanged(self, model: RegisteredModel, runs: dict[str, Run], sink: Sink) -> bool:
        """Whether the model, its run now read (in `runs`), is as the last run left it: then it need
        not be read any further. Else its fingerprint waits for its build."""
        if not self.file or not model.listed:
            return False
        read = fingerprints.run_fingerprint(model, runs)
        if read is None:
            return False
        run, ended = read
        read_at = self.started if ended else None
        last = self._as_last_left(model, sink)
        if last and last.run == run:
            self.now_seen[model.name] = replace(last, run_read_at=read_at)
            return True
        self.reading[model.name] = (model.listed, run, read_at)
        return False

    def _as_last_left(self, model: RegisteredModel, sink: Sink) -> Seen | None:
        """The last run's fingerprint, if the model's listing entry and its entity are as it left them."""
        last = self.last_seen.get(model.name)
        if self.file and last and model.listed and last.listed == model.listed and sink.holds(model.name, last.sent):
            return last
        return None

    def built(self, name: str, built: BuiltModel | None) -> None:
        """The model's build ended (`built` is None when it failed or was dropped); a fully read model's
        fingerprint waits for its write."""
        read = self.reading.pop(name, None)
        if built is not None and read and built.fully_read:
            listed, run, read_at = read
            self.writing[name] = Seen(listed, run, source_hash(built.request), read_at)

    def written(self, name: str, ok: bool) -> None:
        """The sink answered for the model: its fingerprint is kept if the write went through."""
        written = self.writing.pop(name, None)
        if ok and written:
            self.now_seen[name] = written

    def save(self, finished: bool, failures: list[Issue]) -> None:
        """Keep this run's fingerprints for the next; after a run that did not finish, also the last
        run's for the models it did not reach. A model that failed is read again next time."""
        if not self.file or not self.remember:
            return
        kept = self.now_seen if finished else {**self.last_seen, **self.now_seen}
        for failure in failures:
            kept.pop(failure.name, None)
        fingerprints.save(self.file, kept)
