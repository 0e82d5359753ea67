"""`$VAR` and `${VAR}` in the workflow's string values, expanded from the environment; `$$` is a dollar.
Where a DAG is written, `KeepUnsetReferences` leaves a reference that is not set here as written."""
from __future__ import annotations

import os
import re
import typing
from typing import Any, Iterator

from ..errors import Problem
from .paths import Path_, dotted

_VAR = re.compile(r"\$\$|\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""What a `${...}` may hold: the names a shell can export. Anything else is refused when loading, so a
reference name is always safe to write anywhere, a DAG's Python included."""


def expand_variables(
    data: Any, environ: typing.Mapping[str, str], path: Path_ = ()
) -> tuple[Any, dict[Path_, str], list[Problem]]:
    """Expand `$VAR` and `${VAR}` in string values; `$$` is a literal dollar sign."""
    references: dict[Path_, str] = {}
    problems: list[Problem] = []
    done: dict[int, Any] = {}  # a YAML alias is one object met many times: expand it once

    def walk(value: Any, here: Path_) -> Any:
        if isinstance(value, (dict, list)) and id(value) in done:
            return done[id(value)]
        if isinstance(value, dict):
            done[id(value)] = {k: walk(v, here + (k,)) for k, v in value.items()}
            return done[id(value)]
        if isinstance(value, list):
            done[id(value)] = [walk(v, here + (i,)) for i, v in enumerate(value)]
            return done[id(value)]
        if isinstance(value, str) and "$" in value:
            problems.extend(_bad_references(value, here))
            expanded, missing = expand_string(value, environ)
            for name in missing:
                problems.append(
                    Problem(
                        path=dotted(here),
                        message=f"environment variable {name} is not set",
                        hint=f"export {name}=... before running, or write $$ for a literal dollar sign",
                    )
                )
            if any(m.group(0) != "$$" for m in _VAR.finditer(value)):
                references[here] = value
            return expanded
        return value

    return walk(data, path), references, problems


def _bad_references(value: str, here: Path_) -> list[Problem]:
    """A `${...}` whose name is not a name, e.g. a shell default (`${X:-default}`) we do not support."""
    problems = []
    for match in _VAR.finditer(value):
        name = match.group(1)
        if name is None or _NAME.fullmatch(name):
            continue
        shown = repr(match.group(0)) if len(match.group(0)) <= 60 else repr(match.group(0)[:57]) + "..."
        default = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*):?[-=?+].*", name, re.DOTALL)
        if default:
            problems.append(Problem(dotted(here), f"{shown}: defaults and other shell forms are not supported "
                                    "in references", f"write ${{{default.group(1)}}} and set {default.group(1)} "
                                    "before running, or write the value itself"))
        else:
            problems.append(Problem(dotted(here), f"{shown} is not a variable reference: a name holds only letters, "
                                    "digits and _ and does not start with a digit",
                                    "fix the name, or write $$ for a literal dollar sign"))
    return problems


def expand_string(value: str, environ: typing.Mapping[str, str]) -> tuple[str, list[str]]:
    """`value` with its references replaced, and the names the environment lacks. A `${...}` that
    holds no name stays as written (loading refuses it: `_bad_references`)."""
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) if match.group(1) is not None else match.group(2)
        if not _NAME.fullmatch(name):
            return match.group(0)
        if name in environ:
            return environ[name]
        missing.append(name)
        return match.group(0)

    return _VAR.sub(substitute, value), missing


class KeepUnsetReferences(typing.Mapping[str, str]):
    """The environment, where a name it lacks expands to its own `${NAME}` text.

    A DAG resolves its references on the workers, so writing one must not need the production
    secrets on this machine. A reference in a checked field (hostPort must be a URL) still has to
    be set here, for the workflow to be validated.
    """

    def __getitem__(self, name: str) -> str:
        return os.environ.get(name, f"${{{name}}}")

    def __iter__(self) -> Iterator[str]:
        return iter(os.environ)

    def __len__(self) -> int:
        return len(os.environ)
