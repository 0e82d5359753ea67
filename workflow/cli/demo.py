"""`metadata demo`: the app's demo MLflow server, kept running to try the headless commands on it.

`metadata tui` runs the demo server only while the app is open, on a new port each time. This keeps
it up until Ctrl-C, on a port of your choice, and writes a workflow for it next to its files, so
`metadata ingest`, `metadata test-connection` and `metadata tui -c` can be tried on real models.
"""
from __future__ import annotations

import argparse
import sys
import threading

from .. import Demo, UserError, prepare_demo, write_workflow
from .process import stop_signals

DEFAULT_PORT = 5055


def main(argv: list[str], prog: str = "metadata demo") -> int:
    parser = argparse.ArgumentParser(prog=prog, description="Run the demo MLflow server, with sample models, "
                                                            "until Ctrl-C; print the commands to try on it.")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"its port on 127.0.0.1 (default {DEFAULT_PORT})")
    args = parser.parse_args(argv)
    demo = Demo(prepare_demo().folder, args.port)
    stop = threading.Event()
    try:
        with stop_signals(lambda signum, frame: stop.set()):
            demo.start(on_status=lambda text: print(f"demo: {text}", flush=True))
            workflow = demo.folder / f"workflow-{args.port}.yaml"
            write_workflow(workflow, demo.config(), overwrite=True)  # the demo's own file, for this port
            command = prog.rsplit(" ", 1)[0]
            print(f"The demo MLflow server is at {demo.url}, with sample models. Try, in another terminal:\n"
                  f"  {command} ingest -c {workflow}\n"
                  f"  {command} test-connection -c {workflow}\n"
                  f"  {command} tui -c {workflow}\n"
                  "Ctrl-C stops the server.", flush=True)
            while not stop.wait(0.5):
                pass
    except UserError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        demo.stop()
    print("The demo server stopped.")
    return 0
