"""Writing a file atomically: a temp file beside it, synced, then renamed over it, with the mode asked
for (0600 for a file holding a secret) and never more access than the old file gave. A full disk or
a read-only folder leaves the old file as it was, and the error (`WriteFailed`) says so. Used for
workflow files and DAG files alike.
"""
from __future__ import annotations

import errno
import os
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError


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
    errno.ENAMETOOLONG: "choose a shorter file name",
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
    fd, temp = tempfile.mkstemp(prefix=f".{target.name[:200]}.", dir=target.parent)  # a name has 255 bytes at most
    try:
        _keep_owner(fd, target, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        with suppress(OSError):  # the write's own error is the one to report
            os.unlink(temp)
        raise


def _keep_owner(fd: int, target: Path, mode: int) -> None:
    """Give the new file the old one's owner and group where we may (as root), and never more access
    than the old file gave: replacing another user's 0640 file leaves theirs, 0640, not root's 0644."""
    try:
        old = os.stat(target)
    except OSError:
        os.fchmod(fd, mode)
        return
    os.fchmod(fd, mode & old.st_mode & 0o777)
    if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
        with suppress(OSError):  # only root may give a file away; others keep it as their own
            os.fchown(fd, old.st_uid, old.st_gid)


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
