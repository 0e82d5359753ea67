"""YAML whose aliases cannot blow up memory: ours (a workflow file) and other people's (MLmodel files).

YAML's aliases let a few hundred bytes stand for millions of values (`b: [*a, *a, ...]`, seven levels
deep): PyYAML builds them as shared objects, cheaply, but everything that copies the data (validation,
JSON encoding, the YAML writer) pays for each use. So a document's size is counted the way a copy would
see it, on the parsed node tree and before anything is built, and refused above `MAX_VALUES`.
"""
from __future__ import annotations

from typing import Any

import yaml

MAX_VALUES = 200_000
"""A workflow holds a few dozen values; an MLmodel file with 10,000 features as YAML about 70,000."""


class TooManyValues(ValueError):
    """A YAML document that would hold more than `MAX_VALUES` values once its aliases are expanded."""


def expanded_size(node: yaml.Node, limit: int = MAX_VALUES) -> int:
    """How many values the node stands for, each alias counted every time it is used; counting stops
    just above `limit`. Each node is counted once (memoised), so this is linear in the file's size."""
    sizes: dict[int, int] = {}

    def size(current: yaml.Node) -> int:
        key = id(current)
        if key in sizes:
            return sizes[key]
        sizes[key] = limit + 1  # a node met again while being counted contains itself: no end to it
        if isinstance(current, yaml.SequenceNode):
            total = 1 + sum(size(item) for item in current.value)
        elif isinstance(current, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in current.value)
        else:
            total = 1
        sizes[key] = min(total, limit + 1)
        return sizes[key]

    return size(node)


def check_size(node: yaml.Node | None, limit: int = MAX_VALUES) -> None:
    if node is not None and expanded_size(node, limit) > limit:
        raise TooManyValues(f"its aliases (*name) expand to more than {limit:,} values")


SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser where PyYAML has it: a run parses an MLmodel file per model, five times faster."""


def load_bounded(text: str, limit: int = MAX_VALUES) -> Any:
    """`yaml.safe_load`, refusing (`TooManyValues`) a document that expands past `limit` values."""
    loader = SAFE_LOADER(text)
    try:
        node = loader.get_single_node()
        check_size(node, limit)
        return loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
