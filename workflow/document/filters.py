"""Model name filters: the pattern model of the YAML (`mlModelFilterPattern`), whose regexes must compile,
and how a name is matched, with the official semantics: `re.match` (anchored at the start only),
case-insensitive, and an exclude always wins over an include."""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from ..errors import InvalidValue
from .rules import Strict


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise InvalidValue(f"invalid regular expression {pattern!r}: {exc}",
                           hint="patterns are Python regular expressions matched at the start of the model name: "
                                r"put a backslash before [ ] ( ) { } * + ? . to match the character itself") from None
    return pattern


Pattern = Annotated[str, AfterValidator(_compiles)]
"""A regex that must compile; checked one by one so an error points at the list item's line."""


class FilterPattern(Strict):
    """Regexes matched at the start of a name, case-insensitively; excludes win over includes."""

    includes: list[Pattern] | None = None
    excludes: list[Pattern] | None = None


def filtered_reason(name: str, pattern: FilterPattern | None) -> str | None:
    """Why a model is filtered out, or None when it passes."""
    verdict = filter_verdict(name, pattern)
    return verdict[0] if verdict else None


def filter_verdict(name: str, pattern: FilterPattern | None) -> tuple[str, str] | None:
    """(why a model is filtered out, the pattern that did it), or None when it passes: a plan names the
    exclude that matched, or the includes that all missed."""
    if pattern is None:
        return None
    for exclude in pattern.excludes or ():
        if re.match(exclude, name, re.IGNORECASE):
            return "MlModel name matches an exclude pattern", exclude
    if pattern.includes and not any(re.match(p, name, re.IGNORECASE) for p in pattern.includes):
        return "MlModel name matches no include pattern", ", ".join(pattern.includes)
    return None
