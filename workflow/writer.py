"""Write a `Workflow` back as clean YAML: the seed's key order, no nulls, no default noise.

Secrets are written one of three ways: inline (the file is then created with mode 0600), as the
`${VAR}` reference they were loaded from or that the user chose, or masked (for previews).

Files are replaced atomically (`write_text_atomic`): a full disk or a read-only folder leaves the old
file as it was, and the error says so.
"""
from __future__ import annotations

import errno
import json
import os
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr

from .config import Workflow
from .errors import UserError
from .redact import redact_uri, secret_fields, uri_password

Path_ = tuple[Any, ...]

MASK = "**********"

# Keys written even when they hold their default: the seed shows them, and the official CLI needs them.
_ALWAYS = {
    ("source", "type"),
    ("source", "serviceConnection", "config", "type"),
    ("source", "serviceConnection", "config", "registryUri"),
    ("source", "sourceConfig"),
    ("source", "sourceConfig", "config"),
    ("source", "sourceConfig", "config", "type"),
    ("sink", "type"),
    ("sink", "config"),
    ("workflowConfig", "openMetadataServerConfig", "authProvider"),
}


def to_yaml(config: Workflow, *, secrets: str = "inline", references: dict[Path_, str] | None = None) -> str:
    """Render the workflow; `secrets` is "inline" or "mask"; `references` keeps `${VAR}` texts by path."""
    data = _plain(config, (), references or {}, secrets)
    if "serviceConnection" in data["source"]:
        registry = data["source"]["serviceConnection"]["config"]
        registry.setdefault("registryUri", registry["trackingUri"])
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100)


def has_inline_secret(config: Workflow, references: dict[Path_, str] | None = None) -> bool:
    """True when writing would put a secret value in the file (it then gets mode 0600)."""
    refs = references or {}
    return any(path not in refs or _literal_password(refs[path]) for path in (field.path for field in secret_fields(config)))


def _literal_password(reference: str) -> bool:
    """`http://bob:pw@${HOST}` still holds a password as typed; `http://bob:${PW}@host` does not."""
    password = uri_password(reference)
    return bool(password) and "$" not in password


def write_workflow(
    path: str | os.PathLike[str],
    config: Workflow,
    *,
    references: dict[Path_, str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write atomically: a temp file in the same folder, then rename; never clobber unless asked."""
    target = Path(path)
    if target.exists() and not overwrite:
        raise UserError(f"{target} already exists", hint="choose another path, or confirm overwriting it")
    text = to_yaml(config, references=references)
    if target.suffix.lower() == ".json":  # the official CLI reads a .json file as JSON, not YAML
        text = json.dumps(yaml.safe_load(text), indent=2, ensure_ascii=False) + "\n"
    private = has_inline_secret(config, references) or _is_private(target)
    write_text_atomic(target, text, mode=0o600 if private else 0o644)
    return target


@dataclass
class WriteFailed(UserError):
    """Writing a file failed (disk full, read-only folder, ...); the file that was there is untouched."""

    exit_code: int = 1


# What to do about the usual causes; anything else is reported with its cause alone.
_REMEDIES = {
    errno.ENOSPC: "free some disk space, then write again",
    errno.EDQUOT: "your disk quota is used up: free some space, then write again",
    errno.EFBIG: "the file size limit (ulimit -f) is too low for this file",
    errno.EACCES: "choose a folder you can write to, or change its permissions",
    errno.EPERM: "choose a folder you can write to, or change its permissions",
    errno.EROFS: "the folder is on a read-only file system: choose another one",
}


def write_text_atomic(target: Path, text: str, *, mode: int) -> None:
    """Write `text` to a temp file beside `target`, sync it, then rename it over `target`.

    A reader sees the old file or the new one, never a part: if anything fails before the rename, the
    temp file is removed and `WriteFailed` names the file, the cause and says the old file is unchanged.
    Failing to create the folder raises the plain `OSError` (there is no old file to speak of; callers
    word it as a bad output folder).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    existed = target.exists()
    try:
        _replace(target, text, mode)
    except OSError as exc:
        raise _write_failed(target, exc, existed) from None
    _sync_folder(target.parent)


def _replace(target: Path, text: str, mode: int) -> None:
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        with suppress(OSError):  # the write's own error is the one to report
            os.unlink(temp)
        raise


def _write_failed(target: Path, exc: OSError, existed: bool) -> WriteFailed:
    kept = "the old file is unchanged" if existed else "no file was written"
    cause = exc.strerror or str(exc)
    return WriteFailed(f"cannot write {target}: {cause}; {kept}", hint=_REMEDIES.get(exc.errno or 0, ""))


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable, so a crash right after cannot bring the old file back."""
    with suppress(OSError):  # some file systems cannot open or sync a folder; the file is written anyway
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _is_private(target: Path) -> bool:
    """Keep an existing file private if it was (it may be read by other tools with their secrets)."""
    try:
        return target.stat().st_mode & 0o077 == 0
    except FileNotFoundError:
        return False


def _plain(model: BaseModel, path: Path_, references: dict[Path_, str], secrets: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        here = path + (name,)
        if value is None:
            continue
        if here not in _ALWAYS and name not in model.model_fields_set and value == info.get_default(call_default_factory=True):
            continue
        out[name] = _value(value, here, references, secrets)
    return out


def _value(value: Any, path: Path_, references: dict[Path_, str], secrets: str) -> Any:
    if path in references:
        text = references[path]
        return redact_uri(text) if secrets == "mask" and "://" in text else text
    if isinstance(value, BaseModel):
        return _plain(value, path, references, secrets)
    if isinstance(value, SecretStr):
        return MASK if secrets == "mask" else _literal(value.get_secret_value())
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, str):
        return _literal(redact_uri(value) if secrets == "mask" and "://" in value else value)
    if isinstance(value, list):
        return [_value(v, path + (i,), references, secrets) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _value(v, path + (k,), references, secrets) for k, v in value.items()}
    return value


def _literal(text: str) -> str:
    """A value as typed: `$` doubled, so loading does not take it for a variable reference."""
    return text.replace("$", "$$")

