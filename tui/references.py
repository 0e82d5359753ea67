"""`${VAR}` references as the form shows and writes them: a secret field can hold a variable's
name instead of the secret, and these say which name to suggest and how a name becomes `${NAME}`.

Apart from the `Draft` because the secret widget uses them too, and they hold no state.
"""
from __future__ import annotations

import re

from .fields import BY_KEY


def suggested_variable(key: str) -> str:
    """An environment variable name for a secret field: `jwtToken` -> `OM_JWT_TOKEN`."""
    name = BY_KEY[key].path[-1]
    return "OM_" + re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def reference_text(name_or_text: str) -> str:
    """What a `${VAR}` secret writes: `${NAME}` for a bare name, else the text as typed."""
    text = name_or_text.strip()
    return f"${{{text}}}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) else text


def variable_name(reference: str) -> str:
    """The bare name inside `${NAME}` / `$NAME`, or the reference text when it is more than that."""
    match = re.fullmatch(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", reference)
    return (match.group(1) or match.group(2)) if match else reference
