"""The fingerprints one run reads and keeps: which models it may skip, and what it leaves for the next run.

`fingerprints` holds the file and how a model is fingerprinted; this is the bookkeeping around a run:
the last run's fingerprints read at the start, each model's followed from its read to its write (a
model's fingerprint is kept only once OpenMetadata has taken it), and the lot saved at the end.
"""
from __future__ import annotations

from . import fingerprints
from .document.workflow_file import Workflow
from .events import Issue
from .registry.mlflow_source import BuiltModel
from .registry.records import RegisteredModel, Run
from .sinks.base import Sink, source_hash


class RunFingerprints:
    """Kept only for a run into OpenMetadata: for any other sink, every model is read and nothing is saved."""

    def __init__(self, config: Workflow, *, full: bool, remember: bool):
        self.file = fingerprints.cache_path(config) if config.sink.type == "metadata-rest" else None
        self.last_seen: dict[str, fingerprints.Entry] = {}
        """The last run's fingerprints: empty for a first or `full` run, or a sink that is not OpenMetadata."""
        if self.file and not full:
            self.last_seen = fingerprints.load(self.file)
        self.remember = remember
        """Whether this run's fingerprints are saved for the next (never for a plan)."""
        self.now_seen: dict[str, fingerprints.Entry] = {}
        self.reading: dict[str, str] = {}
        """Fingerprints of the models being built."""
        self.writing: dict[str, fingerprints.Entry] = {}
        """Fingerprints of the models being written, with the sourceHash they are sent with."""

    def unchanged(self, model: RegisteredModel, runs: dict[str, Run], sink: Sink) -> bool:
        """Whether the model is as the last run left it, in MLflow and in OpenMetadata (`sink`): then
        it need not be read any further. Else its fingerprint waits for its build."""
        if not self.file:
            return False
        now = fingerprints.fingerprint(model, runs)
        last = self.last_seen.get(model.name)
        if now and last and last[0] == now and sink.holds(model.name, last[1]):
            self.now_seen[model.name] = last
            return True
        if now:
            self.reading[model.name] = now
        return False

    def built(self, name: str, built: BuiltModel | None) -> None:
        """The model's build ended (`built` is None when it failed or was dropped); a fully read model's
        fingerprint waits for its write."""
        fingerprint = self.reading.pop(name, None)
        if built is not None and fingerprint and built.fully_read:
            self.writing[name] = (fingerprint, source_hash(built.request))

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
