"""The engine never imports a face, and nothing slow is imported at start-up (checked in a fresh
interpreter, since this test process has imported everything)."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest


def modules_after(code: str) -> set[str]:
    script = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


ROOT = Path(__file__).resolve().parents[1]


def engine_modules() -> list[str]:
    return sorted("workflow." + ".".join(p.relative_to(ROOT / "workflow").with_suffix("").parts)
                  for p in (ROOT / "workflow").rglob("*.py") if p.name != "__init__.py")


def test_engine_imports_no_face_and_no_mlflow():
    modules = engine_modules()
    assert "workflow.runner" in modules and "workflow.checks.openmetadata" in modules
    loaded = top_level(modules_after("\n".join(f"import {m}" for m in modules)))
    assert not loaded & {"textual", "tui", "mlflow"}


def test_the_tui_uses_no_private_engine_names_and_no_http_of_its_own():
    for path in (ROOT / "tui").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("workflow"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports private engine names {private}"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] in {"requests", "urllib3", "httpx", "mlflow"} for n in names), \
                    f"{path.name} talks to a server itself: {names}"


def test_cli_start_up_does_not_load_mlflow_or_textual():
    loaded = top_level(modules_after("from workflow.cli.main import build_parser; build_parser()"))
    assert not loaded & {"textual", "tui", "mlflow", "pandas"}


@pytest.mark.parametrize("module", ["workflow.checks", "workflow.cli.check", "workflow.dags.dag_file"])
def test_command_modules_do_not_load_mlflow_at_import(module):
    assert "mlflow" not in top_level(modules_after(f"import {module}"))
