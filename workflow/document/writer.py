"""Write a `Workflow` back as clean YAML: the seed's key order, no nulls, no default noise.

Secrets are written one of three ways: inline (the file is then created with mode 0600), as the
`${VAR}` reference they were loaded from or that the user chose, or masked (for previews).

Files are replaced atomically (`write_text_atomic`): a full disk or a read-only folder leaves the old
file as it was, and the error says so. Saving over a YAML file keeps what the user wrote in it (comments,
blank lines, key order, quoting) and changes only the values that differ (`_merged`).
"""
from __future__ import annotations

import difflib
import errno
import io
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

from .workflow_file import Workflow
from ..errors import UserError
from .loader import MAX_FILE_BYTES
from .paths import Path_
from .redact import is_secret_header, redact_uri, secret_fields


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
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100)


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, except that text holding a character YAML counts as a line break (U+0085,
    U+2028, U+2029) is written double-quoted, where it is escaped: in a plain or single-quoted scalar
    PyYAML writes it as a break, which reads back as a space (U+0085) or depends on indentation."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = '"' if any(c in text for c in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_text)


def has_inline_secret(config: Workflow, references: dict[Path_, str] | None = None) -> bool:
    """True when writing would put a secret value in the file (it then gets mode 0600): the secret walk's
    own rule (`SecretField.inline`), so a token in a URI, a header or `PW${X}` count as they do for a DAG."""
    return any(field.inline(references or {}) for field in secret_fields(config))


def write_workflow(
    path: str | os.PathLike[str],
    config: Workflow,
    *,
    references: dict[Path_, str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write atomically: a temp file in the same folder, then rename; never clobber unless asked."""
    target = Path(path)
    if os.path.lexists(target) and not overwrite:  # lexists: a dangling symlink is something there too
        raise UserError(f"{target} already exists", hint="choose another path, or confirm overwriting it")
    text = to_yaml(config, references=references)
    if target.suffix.lower() == ".json":  # the official CLI reads a .json file as JSON, not YAML
        text = json.dumps(yaml.safe_load(text), indent=2, ensure_ascii=False) + "\n"
    elif target.exists():
        text = _merged(target, text) or text
    private = has_inline_secret(config, references) or _is_private(target)
    write_text_atomic(target, text, mode=0o600 if private else 0o644)
    return target


def keeps_layout(path: str | os.PathLike[str], config: Workflow, references: dict[Path_, str] | None = None) -> bool:
    """True when `write_workflow` over the file at `path` keeps its comments and layout, False when it
    writes the file anew (a .json file, or one `_merged` cannot safely edit): the review step says so."""
    target = Path(path)
    return target.suffix.lower() != ".json" and _merged(target, to_yaml(config, references=references)) is not None


def _merged(target: Path, fresh: str) -> str | None:
    """`fresh` (what `to_yaml` renders) laid over the YAML file at `target`, keeping what the user wrote:
    comments, blank lines, key order, quoting. Only the values that differ are changed (`_update`).

    None, and the file is written anew, when editing it is not safe: it cannot be read as UTF-8 or is
    over the loader's size limit, it is not one block-style YAML mapping (JSON, a list, several
    documents, invalid YAML), it uses anchors, aliases or tags (an edit could change what an alias
    shares), or the edited text would not load as the same data as `fresh` (ruamel reads YAML 1.2,
    our loader YAML 1.1, which differ on values such as `yes` and `0777`).
    """
    try:
        with target.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
        text = raw.decode("utf-8-sig") if len(raw) <= MAX_FILE_BYTES else ""
        old = text.replace("\r\n", "\n")  # edited with \n; the file's \r\n are put back at the end
        events = list(yaml.parse(old))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not _block_mapping_without_anchors_or_tags(events):
        return None
    # ruamel drops what stands before `---` and from `...` on: those lines are kept as they are.
    start, end = events[1], events[-2]
    head = old[:old.find("\n", start.end_mark.index) + 1] if start.explicit else ""
    tail = old[end.start_mark.index:] if end.explicit else ""
    body = old[len(head):len(old) - len(tail)]
    try:
        rt = _round_trip_like(body)
        document = rt.load(body)
        _update(document, rt.load(fresh))
        out = io.StringIO()
        rt.dump(document, out)
        merged = head + out.getvalue() + tail
        if not _same(yaml.safe_load(merged), yaml.safe_load(fresh)):
            return None
    except Exception:  # noqa: BLE001 - ruamel refuses some files PyYAML reads (a bad date, deep nesting, ...)
        return None
    return merged.replace("\n", "\r\n") if "\r\n" in text else merged


_INDENTS = tuple((mapping, offset + 2, offset) for mapping in (2, 4, 3) for offset in (0, 2, 4))
"""(mapping, sequence, offset) indentations people write YAML with: 2-, 4- or 3-space mappings, and
`- item` flush under its key or indented by two or four."""


def _round_trip_like(body: str) -> Any:
    """A round-trip ruamel YAML (comments and key order kept) that indents as `body` does: the one of
    `_INDENTS` whose no-change dump gives back the most of its lines (ruamel writes one indentation)."""
    from ruamel.yaml import YAML  # imported here: it costs start-up time and only saving over a file needs it

    best, best_score = None, -1.0
    for mapping, sequence, offset in _INDENTS:
        rt = YAML()
        rt.preserve_quotes, rt.width = True, 4096  # a width that never re-wraps the user's long lines
        rt.indent(mapping=mapping, sequence=sequence, offset=offset)
        out = io.StringIO()
        rt.dump(rt.load(body), out)
        score = difflib.SequenceMatcher(None, body.splitlines(), out.getvalue().splitlines()).ratio()
        if score > best_score:
            best, best_score = rt, score
        if score == 1.0:
            break
    return best


def _block_mapping_without_anchors_or_tags(events: list[yaml.Event]) -> bool:
    """One document holding a block mapping, with nothing an edit could break: no anchor, alias or tag."""
    return (
        sum(isinstance(e, yaml.DocumentStartEvent) for e in events) == 1
        and isinstance(events[2], yaml.MappingStartEvent) and not events[2].flow_style
        and not any(isinstance(e, yaml.AliasEvent) or getattr(e, "anchor", None) or getattr(e, "tag", None)
                    for e in events)
    )


def _update(old: Any, new: Any) -> None:
    """Make the round-trip mapping `old` hold `new`, touching only what differs, so that what stays keeps
    its comments and style: keys gone are removed, new keys appended, changed values replaced.

    ruamel keeps the comment and blank lines below an entry with that entry, so before an entry is
    replaced or removed they are taken off it and put back below its new value or its neighbour, and
    an appended key takes them over from the entry that was last.
    """
    for key, value in new.items():
        if key not in old:
            lines = _take_lines_below(old, _last(old)) if old else ""
            old[key] = value
            _put_lines_below(old, key, lines)
        elif isinstance(value, dict) and value and isinstance(old[key], dict):
            _update(old[key], value)
        elif not _same(old[key], value):
            lines = _take_lines_below(old, key)
            old[key] = _styled_like(old[key], value)
            _put_lines_below(old, key, lines)
    for key in [k for k in old if k not in new]:  # after the appends, so that `old` is never left empty
        _remove(old, key)


def _remove(mapping: Any, key: Any) -> None:
    """Remove `key` and its own end-of-line comment; the lines below it go below the entry before it."""
    keys = list(mapping)
    lines = _take_lines_below(mapping, key)
    del mapping[key]
    mapping.ca.items.pop(key, None)
    at = keys.index(key)
    if at:
        _put_lines_below(mapping, keys[at - 1], lines)
    elif mapping and lines:  # it was the first key: the lines go above the new first one
        slots = mapping.ca.items.setdefault(keys[1], [None] * 4)
        slots[1] = [_comment(lines)] + (slots[1] or [])


def _styled_like(old: Any, new: Any) -> Any:
    """A replacing value written as the user wrote the old one: in its quotes, or a list in flow style."""
    if getattr(old, "style", None) in ("'", '"') and type(new) is str:
        return type(old)(new)
    if isinstance(old, list) and isinstance(new, list) and old.fa.flow_style():
        new.fa.set_flow_style()
    return new


def _comment_slot(node: Any, key: Any) -> tuple[list[Any], int]:
    """Where ruamel keeps the comment that ends entry `key` of `node` (its end-of-line comment and the
    lines below it): with the last scalar written, so deep inside a block collection."""
    value = node[key]
    if isinstance(value, (dict, list)) and value and not value.fa.flow_style():
        return _comment_slot(value, _last(value))
    return node.ca.items.setdefault(key, [None] * 4), 0 if isinstance(node, list) else 2


def _take_lines_below(node: Any, key: Any) -> str:
    """Detach the comment and blank lines below entry `key`, leaving its end-of-line comment."""
    slots, index = _comment_slot(node, key)
    token = slots[index]
    if token is None:
        return ""
    own, _, below = token.value.partition("\n")
    token.value = own + "\n"
    return below


def _put_lines_below(node: Any, key: Any, lines: str) -> None:
    if lines:
        slots, index = _comment_slot(node, key)
        if slots[index] is None:
            slots[index] = _comment("\n" + lines)
        else:
            slots[index].value += lines


def _comment(text: str) -> Any:
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    return CommentToken(text, CommentMark(0))


def _last(node: Any) -> Any:
    return len(node) - 1 if isinstance(node, list) else list(node)[-1]


def _same(a: Any, b: Any) -> bool:
    """Equal as YAML values, all the way down: Python's `1 == 1.0 == True` is not equal in a file."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same, a, b))
    return _kind(a) is _kind(b) and a == b


def _kind(value: Any) -> type:
    """The YAML type of a value (ruamel's scalars subclass Python's, and bool subclasses int)."""
    return next((kind for kind in (bool, int, float, str) if isinstance(value, kind)), type(value))


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
        return {k: MASK if secrets == "mask" and path[-1] == "extraHeaders" and is_secret_header(k, str(v))
                else _value(v, path + (k,), references, secrets) for k, v in value.items()}
    return value


def _literal(text: str) -> str:
    """A value as typed: `$` doubled, so loading does not take it for a variable reference."""
    return text.replace("$", "$$")

