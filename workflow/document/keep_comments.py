"""Saving over a YAML file keeps what the user wrote in it (comments, blank lines, key order, quoting) and
changes only the values that differ: the freshly rendered text is laid over the file with ruamel.yaml's
round trip (`merged`). Apart from rendering, because it is the one part that edits a user's own text,
and the only one that needs ruamel (imported only when a file is saved over: start-up time matters).
"""
from __future__ import annotations

import difflib
import io
from pathlib import Path
from typing import Any

import yaml

from .loader import MAX_FILE_BYTES


def merged(target: Path, fresh: str) -> str | None:
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
