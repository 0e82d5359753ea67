"""The file sink: JSON Lines of the create requests, for users without an OpenMetadata server.

Light on purpose: the CLI's signal handler imports `discard_temp_files` at start-up."""
from __future__ import annotations

import json
import os
import tempfile
import threading
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EndpointError
from .base import SinkResult, source_hash

if TYPE_CHECKING:  # the MLflow reader imports requests
    from ..registry.mlflow_source import BuiltModel


OPEN_TEMP_FILES: set[str] = set()
"""The file sinks' temp files not yet renamed or removed, for a process that must end at once."""


def discard_temp_files() -> None:
    """Remove the temp files of file sinks still open: a run quit at once leaves its output as it was."""
    for path in list(OPEN_TEMP_FILES):
        with suppress(OSError):
            os.unlink(path)


class FileSink:
    """JSON Lines of the create requests, written to a temp file and renamed into place at the end.

    The file is replaced only by a run that completed and wrote every model: after a cancel, a
    failed listing or a failed write (a full disk), the last good output stays as it was.
    """

    name = "File sink"
    batch_size = 100

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._handle: Any = None
        self._temp: str | None = None
        self._write_error: str | None = None

    def open(self) -> list[str]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, self._temp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        except OSError as exc:
            raise EndpointError(f"cannot write to {self.path}: {exc.strerror}",
                                hint="choose a sink.config.filename in a folder you can write to") from None
        self._handle = os.fdopen(fd, "w", encoding="utf-8")
        OPEN_TEMP_FILES.add(self._temp)
        return []

    def write(self, batch: list[BuiltModel]) -> list[SinkResult]:
        with self._lock:
            try:
                for built in batch:
                    request = dict(built.request)
                    request["sourceHash"] = source_hash(request)
                    self._handle.write(json.dumps(request, ensure_ascii=False) + "\n")
            except OSError as exc:
                self._write_error = exc.strerror or str(exc)
                raise
        return [SinkResult(b.name, "written") for b in batch]

    def holds(self, name: str, sent_hash: str) -> bool:
        return False  # the file is written anew by every run

    def mark_deleted(self, seen: set[str]) -> list[str]:
        return []

    def close(self, complete: bool) -> list[str]:
        """Put the new file in place, or drop it and say why the old one was kept (an error when the
        models could not be written, a warning when the run did not complete)."""
        if self._handle is None:
            return []
        handle, self._handle = self._handle, None
        problem = None if complete else "the run did not complete"
        try:
            handle.flush()
            os.fsync(handle.fileno())
        except OSError as exc:
            self._write_error = exc.strerror or str(exc)
        finally:
            try:
                handle.close()
            except OSError as exc:
                self._write_error = self._write_error or exc.strerror or str(exc)
        OPEN_TEMP_FILES.discard(self._temp)
        if problem or self._write_error:
            os.unlink(self._temp)
        if self._write_error:
            raise EndpointError(f"writing {self.path} failed ({self._write_error}), so the file was left as it was",
                                hint="free some space or choose another sink.config.filename, then run again")
        if problem:
            return [f"{problem}, so {self.path} was left as it was"]
        os.chmod(self._temp, 0o644)
        os.replace(self._temp, self.path)
        return []
