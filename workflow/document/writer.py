"""Write a `Workflow` to a file: as JSON for a .json file (what the official CLI reads there), laid over
the file's own YAML when one is there (keep_comments.py), else as the rendered YAML (yaml_text.py);
atomically (atomic_write.py), never over an existing file unless asked, and with mode 0600 when the
file holds a secret inline or was private already.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from ..errors import UserError
from .atomic_write import write_text_atomic
from .keep_comments import merged
from .paths import Path_
from .workflow_file import Workflow
from .yaml_text import has_inline_secret, to_yaml


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
        text = merged(target, text) or text
    private = has_inline_secret(config, references) or _is_private(target)
    write_text_atomic(target, text, mode=0o600 if private else 0o644)
    return target


def keeps_layout(path: str | os.PathLike[str], config: Workflow, references: dict[Path_, str] | None = None) -> bool:
    """True when `write_workflow` over the file at `path` keeps its comments and layout, False when it
    writes the file anew (a .json file, or one `merged` cannot safely edit): the review step says so."""
    target = Path(path)
    return target.suffix.lower() != ".json" and merged(target, to_yaml(config, references=references)) is not None


def _is_private(target: Path) -> bool:
    """Keep an existing file private if it was (it may be read by other tools with their secrets)."""
    try:
        return target.stat().st_mode & 0o077 == 0
    except FileNotFoundError:
        return False
