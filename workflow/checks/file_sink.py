"""The file sink's one step: the run can write its output file."""
from __future__ import annotations

import os
from pathlib import Path

from ..document.sink import FileSink
from ..errors import EndpointError
from .steps import FILE_SINK, Outcome, Plan, Step, passed


def file_sink_plan(sink: FileSink) -> Plan:
    path = sink.config.filename
    return Plan(FILE_SINK, [Step("Output file is writable", lambda: _file_writable(Path(path)))])


def _file_writable(path: Path) -> Outcome:
    """The run writes a temp file next to `path` and renames it; that needs the folder, not the file."""
    path = path.expanduser()
    if path.is_dir():
        raise EndpointError(f"sink.config.filename {path} is a folder", hint="name a file, for example ./mlmodels.jsonl")
    folder = path.parent.resolve()
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise EndpointError(f"cannot write {path}: {existing} is a file, not a folder",
                            hint="choose a sink.config.filename in a folder you can write to")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise EndpointError(f"cannot write in the folder {existing} (permission denied)",
                            hint="choose a sink.config.filename in a folder you can write to")
    if existing != folder:
        return passed(f"the folder {folder} will be created in {existing}, which is writable")
    return passed(f"the folder {folder} is writable")
