"""Installing this tool: the command `metadata dag` says installs it on a worker, and this tool beside
the official openmetadata-ingestion in one environment, where both own a `metadata` command.

Here `metadata` is the official CLI whichever package pip installed last (ours hands over to it,
but for our own `tui`, `dag` and `test-connection`), this tool is `mlflow-om`, and `--version` says
which `metadata` the shell finds. The venv is built with pip from the official wheel and this
checkout; their dependencies come from the peer venv (`OM_PEER_PYTHON`, built by
../shared/tools/peer_venv.sh) through a .pth file, so it takes about a minute, not a full install.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from workflow.cli.main import main

ROOT = Path(__file__).resolve().parents[1]


def test_version_names_the_package_and_warns_of_another_metadata_on_the_path(tmp_path, monkeypatch, capsys):
    other = tmp_path / "metadata"
    other.write_text("#!/bin/sh\necho the official one\n")
    other.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("mlflow-om-workflow ")
    assert f"`metadata` on your PATH is {other}, another program" in out and "`mlflow-om`" in out


def test_the_dag_install_hint_is_a_command_that_installs_this_package(tmp_path, write_config, capsys):
    """Friction 9: `pip install mlflow-om-workflow` finds nothing on PyPI; the hint names this checkout."""
    from workflow.document.seed import SEED_YAML

    assert main(["dag", "-c", str(write_config(SEED_YAML)), "-o", str(tmp_path / "dags")]) == 0
    [hint] = [line for line in capsys.readouterr().out.splitlines() if "The workers need this package" in line]
    command = hint.split(": ", 1)[1].split(" (or ")[0].split()
    assert command[:2] == ["pip", "install"] and Path(command[2]) == ROOT
    dry = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--report", "-",
                          "-q", command[2]], capture_output=True, text=True, timeout=240)
    assert dry.returncode == 0, dry.stderr
    assert '"name": "mlflow-om-workflow"' in dry.stdout


def _peer() -> Path:
    python = os.environ.get("OM_PEER_PYTHON")
    if not python:
        pytest.skip("set OM_PEER_PYTHON to a Python with openmetadata-ingestion 2.0.7 (../shared/tools/peer_venv.sh)")
    return Path(os.path.abspath(python)).parents[1]  # the venv (resolving would follow python to its install)


def _run(venv: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "PYTHONWARNINGS": "ignore"}
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.mark.peer
@pytest.mark.timeout(600)
def test_both_clis_work_from_one_environment_in_either_install_order(tmp_path):
    peer = _peer()
    wheel = next((peer / ".wheels").glob("openmetadata_ingestion-*.whl"))
    source = tmp_path / "checkout"  # a copy: building in place would leave build/ in the worktree
    source.mkdir()
    for part in ("pyproject.toml", "README.md", "workflow", "tui"):
        copy = shutil.copytree if (ROOT / part).is_dir() else shutil.copy
        copy(ROOT / part, source / part, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                             if (ROOT / part).is_dir() else {}))
    for order in ("ours-last", "theirs-last"):
        venv = tmp_path / order
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path"
                                    "('purelib'))"], capture_output=True, text=True, check=True).stdout.strip())
        peer_site = Path(sysconfig.get_path("purelib", vars={"base": str(peer), "platbase": str(peer)}))
        ours_site = Path(sysconfig.get_path("purelib"))  # textual, ruamel.yaml: what this tool adds
        (site / "deps.pth").write_text(f"{peer_site}\n{ours_site}\n")
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-compile"]
        installs = [[*pip, str(wheel)], [*pip, str(source)]]
        for command in installs if order == "ours-last" else installs[::-1]:
            subprocess.run(command, check=True, capture_output=True)

        official = _run(venv, "metadata", "--help")
        assert official.returncode == 0 and "Ingestion Framework" in official.stdout, order
        ours = _run(venv, "mlflow-om", "--version")
        assert ours.returncode == 0 and ours.stdout.startswith("mlflow-om-workflow "), order
        assert "openmetadata-ingestion is installed here too" in ours.stdout
        ours_help = _run(venv, "mlflow-om", "ingest", "--help")
        assert "--workers" in ours_help.stdout  # this tool's ingest, not the official one
        assert "usage: metadata dag" in _run(venv, "metadata", "dag", "--help").stdout  # ours: the official has none

    # Uninstalling this tool takes the `metadata` file with it (pip removes what it installed);
    # reinstalling the official wheel brings its command back.
    venv = tmp_path / "theirs-last"
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "uninstall", "-y", "-q", "mlflow-om-workflow"],
                   check=True, capture_output=True)
    assert not (venv / "bin" / "mlflow-om").exists()
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-compile", "--force-reinstall",
                    str(wheel)], check=True, capture_output=True)
    assert "Ingestion Framework" in _run(venv, "metadata", "--help").stdout
