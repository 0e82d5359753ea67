"""Writing a file when the disk says no: a file size limit, a full file system, a read-only folder.

The old file must stay byte for byte, no temp file may be left beside it, and the message must name
the file and the cause and say that the old file is unchanged, without a traceback. Two faces write
files: the TUI's Write step (`write_workflow`, whose `UserError` message it shows) and
`metadata dag --force` (`write_text_atomic`, whose error the CLI prints); both run in a subprocess, so
a real kernel error hits a real process:

- a file size limit (`RLIMIT_FSIZE`, with SIGXFSZ ignored) makes writes past it fail with EFBIG
  ("File too large"); it needs no privilege, so it always runs;
- a small tmpfs filled to the last page gives the real ENOSPC ("No space left on device"); mounting
  needs root with CAP_SYS_ADMIN, so elsewhere that test is skipped and says why;
- a folder made 0555 gives EACCES ("Permission denied"). Permissions do not stop root, and running
  the writer as another user fails where the interpreter lives under /root (mode 0700), so as root
  the writer stays uid 0 but loses CAP_DAC_OVERRIDE (dropped from its bounding set before exec): the
  folder's mode bits then apply to it. Where that drop is not allowed the test is skipped, saying why.
"""
from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workflow.document.seed import SEED_YAML

OLD = b"# the old file, which must survive\nsource: {}\n"

# The TUI's Write step: `write_workflow`, then the UserError's message as the step shows it.
SAVE_WORKFLOW = """
import sys
from workflow.errors import UserError
from workflow.document.loader import load_workflow
from workflow.document.writer import write_workflow

source, target = sys.argv[1:3]
loaded = load_workflow(source)
try:
    write_workflow(target, loaded.config, references=loaded.references, overwrite=True)
except UserError as exc:
    print(exc.message)
    sys.exit(exc.exit_code)
"""

# `metadata dag --force`, printing its error as the CLI does.
WRITE_DAG = """
import sys
from pathlib import Path
from workflow.cli.main import main

source, target = sys.argv[1:3]
sys.exit(main(["dag", "-c", source, "-o", str(Path(target).parent), "--dag-id", "nightly", "--force"]))
"""

FACES = {"workflow": (SAVE_WORKFLOW, "workflow.yaml"), "dag": (WRITE_DAG, "nightly.py")}


def old_files(folder: Path, face: str) -> Path:
    """The source workflow and, at the face's target, the OLD file it must not damage."""
    (folder / "source.yaml").write_text(SEED_YAML)
    target = folder / FACES[face][1]
    target.write_bytes(OLD)
    return target


def write_over(target: Path, face: str, *, prelude: str = "", wrapper: tuple[str, ...] = ()) -> tuple[int, str]:
    """Have the face write a new file over `target` in a subprocess; (exit code, output)."""
    source = target.parent / "source.yaml"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, *wrapper, "-c", prelude + FACES[face][0], str(source), str(target)],
                          capture_output=True, text=True, timeout=60, env=env)
    return done.returncode, done.stdout + done.stderr


def size_limit(limit: int) -> str:
    """Code that makes every later write past `limit` bytes of a file fail with EFBIG, not a signal."""
    return (f"import resource, signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n")


def assert_old_file_kept(target: Path, code: int, output: str, cause: str) -> None:
    assert code == 1, output
    assert f"cannot write {target}: {cause}; the old file is unchanged" in output
    assert "Traceback" not in output
    assert target.read_bytes() == OLD
    assert [p.name for p in target.parent.iterdir() if p.name.startswith(".")] == []  # no temp file left


@pytest.mark.parametrize("face", FACES)
def test_a_file_size_limit_fails_the_write_and_keeps_the_old_file(tmp_path, face):
    target = old_files(tmp_path, face)
    code, output = write_over(target, face, prelude=size_limit(64))
    assert_old_file_kept(target, code, output, "File too large")
    if face == "dag":
        assert "hint: the file size limit (ulimit -f) is too low" in output


# ---------------------------------------------------------------------------------- a full disk


@pytest.fixture
def small_disk(tmp_path):
    """A 256 kB tmpfs, unmounted after the test; skipped where mounting is not allowed."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip() or 'needs root'}); "
                    "the file size limit test stands in for a full disk")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> None:
    """Take every free page of the file system with a filler file."""
    with open(folder / "filler", "wb", buffering=0) as handle:
        with pytest.raises(OSError) as full:
            while True:
                handle.write(b"\0" * 4096)
    assert full.value.errno == errno.ENOSPC


@pytest.mark.parametrize("face", FACES)
def test_a_full_disk_fails_the_write_and_keeps_the_old_file(small_disk, face):
    target = old_files(small_disk, face)
    fill(small_disk)
    code, output = write_over(target, face)
    assert_old_file_kept(target, code, output, "No space left on device")
    if face == "dag":
        assert "hint: free some disk space, then write again" in output


# ----------------------------------------------------------------------------- a read-only folder

# Drops root's power to ignore file permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) from the
# bounding set, then execs the same interpreter on the rest of argv: the new process has lost them.
WITHOUT_OVERRIDE = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for capability in (1, 2):
    if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
        sys.exit(f"cannot drop capability {capability}: {os.strerror(ctypes.get_errno())}")
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""


def bound_by_permissions() -> tuple[str, ...]:
    """The command line that runs the face with file permissions applying to it, even as root."""
    if os.geteuid() != 0:
        return ()
    probe = subprocess.run([sys.executable, "-c", WITHOUT_OVERRIDE, "-c", "pass"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"running as root and {probe.stderr.strip()}: a 0555 folder would not stop the writer")
    return ("-c", WITHOUT_OVERRIDE)


@pytest.mark.parametrize("face", FACES)
def test_a_read_only_folder_fails_the_write_and_keeps_the_old_file(tmp_path, face):
    wrapper = bound_by_permissions()
    target = old_files(tmp_path, face)
    tmp_path.chmod(0o555)
    try:
        code, output = write_over(target, face, wrapper=wrapper)
    finally:
        tmp_path.chmod(0o755)
    assert_old_file_kept(target, code, output, "Permission denied")
    if face == "dag":
        assert "hint: choose a folder you can write to" in output


@pytest.mark.parametrize("face", FACES)
def test_without_a_fault_the_same_write_replaces_the_old_file(tmp_path, face):
    """The control: the subprocesses above do write when nothing stops them."""
    target = old_files(tmp_path, face)
    code, output = write_over(target, face)
    assert code == 0, output
    assert target.read_bytes() != OLD
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
