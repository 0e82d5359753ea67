"""Keys the user chose: a YAML file mapping binding ids to keys, applied with `App.set_keymap`.

Every binding of the app carries an id (as posting's do), so a key the terminal, tmux or screen takes
for itself can be moved without touching the code:

    # ~/.config/mlflow-om-workflow/keys.yaml
    back: ctrl+b          # give Back tmux's prefix key back, if your prefix is something else
    next: ctrl+n,alt+right

The file is optional; `MLFLOW_OM_KEYS` names another one. A mistake in it is reported in the app and
never stops it: the default keys stay.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import yaml
from textual.binding import Binding

ENV_VAR = "MLFLOW_OM_KEYS"


def keymap_path() -> Path:
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config_home / "mlflow-om-workflow" / "keys.yaml"


def load_keymap(known: Iterable[str], path: Path | None = None) -> tuple[dict[str, str], list[str]]:
    """The keymap in the file (ids the app knows only), and what is wrong with the file, if anything."""
    path = path or keymap_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, []
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return {}, [f"{path}: not read ({str(exc).splitlines()[0]}); the default keys are used"]
    if data is None:
        return {}, []
    if not isinstance(data, dict):
        return {}, [f"{path}: expected `binding-id: keys` lines; the default keys are used"]
    known = set(known)
    keymap, problems = {}, []
    for binding_id, keys in data.items():
        if binding_id not in known:
            problems.append(f"{path}: no binding has the id {binding_id!r} (ids: {', '.join(sorted(known))})")
        elif not isinstance(keys, str) or not keys.strip():
            problems.append(f"{path}: {binding_id}: write the keys as text, for example `{binding_id}: ctrl+n`")
        else:
            keymap[str(binding_id)] = keys.replace(" ", "")
    return keymap, problems


def binding_ids(classes: Iterable[type]) -> set[str]:
    """The ids of the bindings these classes declare."""
    return {b.id for cls in classes for b in getattr(cls, "BINDINGS", []) if isinstance(b, Binding) and b.id}
