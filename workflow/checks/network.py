"""Network addresses and failures: a URL checked before any connection, a TCP connect, and the
cause of a failed connection worded for the user (with the setting to fix)."""
from __future__ import annotations

import re
import socket
from urllib.parse import urlsplit

import requests

from ..errors import EndpointError
from ..net.failures import network_failure
from ..document.redact import redact_uri

READ_TIMEOUT_FACTOR = 3
"""A server may take a moment to answer a search once connected, but not minutes."""

_NOT_TLS = re.compile(r"WRONG_VERSION_NUMBER|record layer failure|packet length too long|unknown protocol", re.I)
_NOT_HTTP = re.compile(r"RemoteDisconnected|BadStatusLine|Connection aborted|Connection reset", re.I)
_TLS_REASON = re.compile(r"certificate verify failed: ([^()'\"]+)")


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


def transport_failure(exc: BaseException, what: str, url: str, *, tls_hint: str) -> EndpointError:
    """`network_failure`, plus the two protocol mix-ups it cannot tell from others (http vs https)."""
    shown = redact_uri(url)
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError) and _NOT_TLS.search(text):
        return EndpointError(f"{what} at {shown} does not speak TLS (https)",
                             hint="use http:// in the URL, or enable TLS on the server")
    if isinstance(exc, requests.exceptions.ConnectionError) and url.startswith("http:") and _NOT_HTTP.search(text):
        return EndpointError(f"{what} at {shown} closed the connection without an HTTP answer",
                             hint="if the server expects TLS, use https:// in the URL; else check it is the right port")
    error = network_failure(exc, what, shown, tls_hint=tls_hint)
    reason = _TLS_REASON.search(text)
    if reason and error.message.startswith("TLS verification failed"):
        return EndpointError(f"{error.message}: {reason.group(1).strip()}", hint=error.hint)
    return error


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
