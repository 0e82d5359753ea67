"""Model name filtering with the official semantics: `re.match` (anchored at the start only),
case-insensitive, and an exclude always wins over an include."""
from __future__ import annotations

import re

from .config import FilterPattern


def filtered_reason(name: str, pattern: FilterPattern | None) -> str | None:
    """Why a model is filtered out, or None when it passes."""
    if pattern is None:
        return None
    if pattern.excludes and any(re.match(p, name, re.IGNORECASE) for p in pattern.excludes):
        return "MlModel name matches an exclude pattern"
    if pattern.includes and not any(re.match(p, name, re.IGNORECASE) for p in pattern.includes):
        return "MlModel name matches no include pattern"
    return None
