"""How long a read of MLflow may take and how often it is sent: one policy for every reader (REST,
database, MLflow's client), with a run's values and a check's.

A run reads thousands of things from a server that may restart or be busy for a moment: it waits up
to 30 s for an answer (MLflow's own MLFLOW_HTTP_REQUEST_TIMEOUT when set) and sends a read again
twice. A check is a probe: its first answer is the finding, so it sends each read once and waits
only a few seconds; a refused port is reported in about a second.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..net.retry import MAX_ATTEMPTS

CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 30.0
CLIENT_CHECK_DEADLINE = 10.0
"""The least a check gives a call through MLflow's client: opening a folder of thousands of files,
or a plugin's login, takes more than a probe's few seconds."""


@dataclass(frozen=True)
class ReadPolicy:
    connect: float
    """Seconds to open a connection."""
    read: float
    """Seconds to wait for an answer once connected."""
    attempts: int
    """How many times a read is sent when its answer was lost or the server asked to come back (429, 5xx)."""
    deadline: float
    """Seconds a whole call that has no timeout of its own may take (MLflow's client, a database driver)."""

    @classmethod
    def for_run(cls) -> "ReadPolicy":
        read = _read_timeout()
        return cls(CONNECT_TIMEOUT, read, MAX_ATTEMPTS, read)

    @classmethod
    def for_check(cls, timeout: float, read_factor: float) -> "ReadPolicy":
        """`timeout` to connect, `read_factor` times more to answer, one attempt."""
        return cls(timeout, timeout * read_factor, 1, max(CLIENT_CHECK_DEADLINE, timeout * 5))


def _read_timeout() -> float:
    """MLflow's own MLFLOW_HTTP_REQUEST_TIMEOUT when the user set it, else `READ_TIMEOUT`."""
    try:
        return float(os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"])
    except (KeyError, ValueError):
        return READ_TIMEOUT
