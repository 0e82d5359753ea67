"""Start-up time: `metadata --help`, and the TUI's first frame in a real pseudo-terminal.

    .venv/bin/python -m benchmarks.startup [--runs 5]

The official CLI's `metadata --help` takes 5.3 s here (../shared/reference/measurements.md).
"""
from __future__ import annotations

import argparse
import os
import pty
import select
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

METADATA = str(Path(sys.executable).with_name("metadata"))


def help_time() -> float:
    started = time.perf_counter()
    subprocess.run([METADATA, "--help"], check=True, capture_output=True)
    return time.perf_counter() - started


def first_frame_time(marker: bytes = b"Step 1 of 8") -> float:
    """Seconds from exec to the first frame that shows the wizard, read from a pty at 80x24."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(TERM="xterm-256color", COLUMNS="80", LINES="24")
        os.execv(METADATA, [METADATA, "tui", "--new"])
    started = time.perf_counter()
    seen = b""
    try:
        while marker not in seen:
            ready, _, _ = select.select([fd], [], [], 10)
            if not ready:
                raise TimeoutError("no first frame within 10 s")
            seen += os.read(fd, 65536)
        return time.perf_counter() - started
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    helps = [help_time() for _ in range(runs)]
    frames = [first_frame_time() for _ in range(runs)]
    print(f"metadata --help: median {statistics.median(helps):.3f} s over {runs} runs")
    print(f"metadata tui first frame (80x24 pty): median {statistics.median(frames):.3f} s over {runs} runs")


if __name__ == "__main__":
    main()
