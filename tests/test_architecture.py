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
    assert not loaded & {"textual", "tui", "mlflow", "cryptography"}  # cryptography: 8 MB, for signing keys only


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


@pytest.mark.parametrize("module", ["workflow.checks", "workflow.cli.check", "workflow.cli.dag", "workflow.dags.dag_file"])
def test_command_modules_do_not_load_mlflow_at_import(module):
    assert "mlflow" not in top_level(modules_after(f"import {module}"))


# ------------------------------------------------------------------------- the direction of imports

ROLE_OF = {  # the first matching prefix names a module's role
    "workflow.errors": "leaves", "workflow.events": "leaves",
    "workflow.document": "document", "workflow.net": "net",
    "workflow.registry": "registry", "workflow.openmetadata": "openmetadata",
    "workflow.sinks": "sinks", "workflow.checks": "checks",
    "workflow.runner": "run", "workflow.run_setup": "run", "workflow.run_flow": "run", "workflow.run_tally": "run",
    "workflow.run_fingerprints": "run", "workflow.fingerprints": "run", "workflow.render": "run", "workflow.demo": "run",
    "workflow.plan": "run", "workflow.plan_render": "run", "workflow.deletion_guard": "run", "workflow.read_ahead": "run",
    "workflow.cli": "faces", "workflow.dags": "faces", "workflow.airflow_task": "faces",
}
BELOW = {  # the roles each role may import (besides its own)
    "leaves": set(),
    "document": {"leaves"},
    "net": {"leaves"},
    "registry": {"document", "net", "leaves"},
    "openmetadata": {"document", "net", "leaves"},
    "sinks": {"registry", "openmetadata", "document", "net", "leaves"},
    "checks": {"registry", "openmetadata", "document", "net", "leaves"},
    "run": {"checks", "sinks", "registry", "openmetadata", "document", "net", "leaves"},
    "faces": {"run", "checks", "sinks", "registry", "openmetadata", "document", "net", "leaves"},
}


def role(module: str) -> str:
    return next(r for prefix, r in ROLE_OF.items() if module == prefix or module.startswith(prefix + "."))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The modules of our own packages that a file imports, at the top or inside functions."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names if _is_module(f"{base}.{alias.name}")}
    return {m for m in found if m.split(".")[0] in {"workflow", "tui"}}


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def engine_graph() -> dict[str, set[str]]:
    graph = {}
    for path in (ROOT / "workflow").rglob("*.py"):
        name = module_name(path)
        if name != "workflow":  # the public API: lazy names for the faces, checked below
            graph[name] = {m for m in imports_of(path) if m != "workflow"}
    return graph


def test_engine_imports_point_down_the_roles():
    wrong = []
    for module, imported in engine_graph().items():
        for target in imported:
            if target.split(".")[0] != "workflow" or target == "workflow":
                wrong.append(f"{module} imports {target}")
            elif role(target) != role(module) and role(target) not in BELOW[role(module)]:
                wrong.append(f"{module} ({role(module)}) imports {target} ({role(target)})")
    assert not wrong, "imports against the direction faces -> run -> checks/sinks -> registry/openmetadata -> " \
                      "document/net -> errors/events:\n" + "\n".join(sorted(wrong))


def test_no_import_cycle_among_engine_modules():
    graph = engine_graph()
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                return path + [module, target]
            if target not in state and (cycle := visit(target, path + [module])):
                return cycle
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module, [])
            assert cycle is None, "import cycle: " + " -> ".join(cycle[cycle.index(cycle[-1]):])


@pytest.mark.parametrize("face", ["tui", "workflow/cli"])
def test_the_faces_import_only_the_public_api(face):
    """`workflow` (its lazy __init__) is the contract; the CLI's own modules may import each other."""
    own = face.replace("/", ".")
    wrong = [f"{module_name(path)} imports {target}"
             for path in (ROOT / face).rglob("*.py") for target in imports_of(path)
             if target != "workflow" and target.split(".")[0] != "tui" and not target.startswith(own + ".")
             and target != "workflow.events"]
    assert not wrong, "\n".join(sorted(wrong))


def test_the_public_api_names_resolve():
    import workflow

    missing = [name for name in workflow.__all__ if not hasattr(workflow, name)]
    assert not missing
