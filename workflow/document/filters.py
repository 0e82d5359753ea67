"""Model name filtering with the official semantics: `re.match` (anchored at the start only),
case-insensitive, and an exclude always wins over an include."""
from __future__ import annotations

import re

from .config import FilterPattern


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
