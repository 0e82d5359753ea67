"""Network addresses: a URL checked before any connection, and a TCP connect whose failure is worded
as `net.failures` words an HTTP one (with the setting to fix)."""
from __future__ import annotations

import socket
from urllib.parse import urlsplit

from ..errors import EndpointError
from ..document.redact import redact_uri

READ_TIMEOUT_FACTOR = 3
"""A server may take a moment to answer a search once connected, but not minutes."""


def check_http_url(uri: str, field: str, example: str) -> None:
    """Reject a URL requests would choke on, with the reason, before any connection is tried."""
    parts = urlsplit(uri)
    problem = None
    if not parts.hostname:
        problem = "it has no host name"
    else:
        try:
            parts.port
        except ValueError as exc:
            problem = f"{exc} (the port must be a number from 1 to 65535)"
    if problem:
        raise EndpointError(f"{field} {redact_uri(uri)!r} is not a valid URL: {problem}", hint=f"for example {example}")


def tcp_connect(what: str, host: str, port: int, timeout: float) -> None:
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise _socket_failure(exc, what, host, port) from None


def _socket_failure(exc: OSError, what: str, host: str, port: int) -> EndpointError:
    """The causes of a failed TCP connect, worded as `network_failure` words HTTP ones."""
    where = f"{host}:{port}"
    if isinstance(exc, socket.gaierror):
        return EndpointError(f"{what} host name {host!r} cannot be resolved (DNS)", hint="check the spelling of the host name")
    if isinstance(exc, ConnectionRefusedError):
        return EndpointError(f"{what} at {where} refused the connection",
                             hint="is the server running and listening on that port?")
    if isinstance(exc, TimeoutError):
        return EndpointError(f"{what} at {where} did not accept a connection in time (timeout)",
                             hint="check the host and port, and any firewall or proxy between here and there")
    return EndpointError(f"cannot connect to {what} at {where}: {exc}")
