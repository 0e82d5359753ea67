"""Run a call that has no timeout of its own (MLflow's client, a database driver) under a deadline."""
from __future__ import annotations

import threading
from typing import Any, Callable


def within(seconds: float, action: Callable[[], Any]) -> Any:
    """`action()` in a helper thread; `TimeoutError` after `seconds`, the call's own error otherwise.

    A call that overruns is abandoned, not stopped (Python cannot stop a thread): its daemon thread
    ends when the call does, or with the process.
    """
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = action()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            result["error"] = exc

    worker = threading.Thread(target=run, name="deadline", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {seconds:.0f} s")
    if "error" in result:
        raise result["error"]
    return result.get("value")
