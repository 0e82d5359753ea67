"""Workflows for the tests: the seed's YAML pointed at local servers, and a run cancelled at a chosen moment."""
from __future__ import annotations

from typing import Any, Callable

import yaml

from workflow.document.seed import SEED_YAML


def seed_config(tracking_uri: str, host_port: str, **changes: Any) -> dict[str, Any]:
    """The seed's YAML with only its URLs pointed at local servers, plus dotted-path changes."""
    data = yaml.safe_load(SEED_YAML)
    data["source"]["serviceConnection"]["config"]["trackingUri"] = tracking_uri
    data["source"]["serviceConnection"]["config"]["registryUri"] = tracking_uri
    data["workflowConfig"]["openMetadataServerConfig"]["hostPort"] = host_port
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return data


def run_cancelled_when(config: dict[str, Any], ready: Callable[[], bool], **options: Any) -> tuple[Any, float]:
    """`run_workflow` in a thread, cancelled (as Ctrl-C does) once `ready()` holds: the summary, and
    how many seconds the run took to end after the cancel."""
    import threading
    import time

    from workflow.document.workflow_file import Workflow
    from workflow.runner import run_workflow

    cancel, result = threading.Event(), {}

    def work() -> None:
        try:
            result["summary"] = run_workflow(Workflow.model_validate(config), cancel=cancel, **options)
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread below
            result["error"] = exc

    worker = threading.Thread(target=work)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while not ready() and worker.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ready(), "the run never got to the moment the test cancels it at"
    finally:
        cancel.set()  # also when the assert fails: no run goes on after the test
        asked = time.monotonic()
        worker.join(60)
    if "error" in result:
        raise result["error"]
    return result["summary"], time.monotonic() - asked
