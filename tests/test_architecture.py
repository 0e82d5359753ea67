"""The engine never imports a face, and nothing slow is imported at start-up (checked in a fresh
interpreter, since this test process has imported everything)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest


def modules_after(code: str) -> set[str]:
    script = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_engine_imports_no_face_and_no_mlflow():
    loaded = top_level(modules_after(
        "import workflow, workflow.cli, workflow.runner, workflow.sinks, workflow.loader, workflow.writer"))
    assert not loaded & {"textual", "tui", "mlflow"}


def test_cli_start_up_does_not_load_mlflow_or_textual():
    loaded = top_level(modules_after("from workflow.cli import build_parser; build_parser()"))
    assert not loaded & {"textual", "tui", "mlflow", "pandas"}


@pytest.mark.parametrize("module", ["workflow.checks", "workflow.check_cli", "workflow.dag"])
def test_command_modules_do_not_load_mlflow_at_import(module):
    assert "mlflow" not in top_level(modules_after(f"import {module}"))
