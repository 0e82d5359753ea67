"""How a failed connection is worded: which of the usual causes it was, and the setting to fix."""
from __future__ import annotations

import re

import requests

from ..errors import EndpointError

_NOT_TLS = re.compile(r"WRONG_VERSION_NUMBER|record layer failure|packet length too long|unknown protocol", re.I)
_NOT_HTTP = re.compile(r"RemoteDisconnected|BadStatusLine|Connection aborted|Connection reset", re.I)
_TLS_REASON = re.compile(r"certificate verify failed: ([^()'\"]+)")


def network_failure(exc: BaseException, what: str, url: str, *, tls_hint: str) -> EndpointError:
    """Tell apart the ways a connection fails, each with its own remediation."""
    text = str(exc)
    if "Could not find a suitable TLS CA certificate bundle" in text:
        return EndpointError(f"cannot verify {what} at {url}: no CA file at the path in sslConfig.caCertificate",
                             hint="give the path of the PEM file of the CA that signed the server certificate")
    if isinstance(exc, requests.exceptions.SSLError) or "CERTIFICATE_VERIFY_FAILED" in text:
        return EndpointError(f"TLS verification failed for {what} at {url}", hint=tls_hint)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return EndpointError(f"{what} at {url} did not accept a connection in time (timeout)",
                             hint="check the host and port, and any firewall or proxy between here and there")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return EndpointError(f"{what} at {url} accepted the connection but did not answer (timeout)",
                             hint="check that the process on that port is the right server and is not stuck")
    if isinstance(exc, requests.exceptions.ConnectionError):
        if any(s in text for s in ("Name or service not known", "nodename nor servname", "getaddrinfo failed",
                                   "Temporary failure in name resolution", "No address associated")):
            return EndpointError(f"{what} host name in {url} cannot be resolved (DNS)",
                                 hint="check the spelling of the host name")
        if "Connection refused" in text or "Errno 111" in text:
            return EndpointError(f"{what} at {url} refused the connection",
                                 hint="is the server running and listening on that port?")
        return EndpointError(f"cannot connect to {what} at {url}: {text[:200]}")
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)):
        return EndpointError(f"{what} URL {url} is not valid: {text[:200]}")
    return EndpointError(f"{what} at {url} failed: {type(exc).__name__}: {text[:200]}")


def transport_failure(exc: BaseException, what: str, url: str, *, tls_hint: str) -> EndpointError:
    """`network_failure`, plus the two protocol mix-ups it cannot tell from others (http vs https).
    `url` is the URL as shown to the user (its password masked)."""
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError) and _NOT_TLS.search(text):
        return EndpointError(f"{what} at {url} does not speak TLS (https)",
                             hint="use http:// in the URL, or enable TLS on the server")
    if isinstance(exc, requests.exceptions.ConnectionError) and url.startswith("http:") and _NOT_HTTP.search(text):
        return EndpointError(f"{what} at {url} closed the connection without an HTTP answer",
                             hint="if the server expects TLS, use https:// in the URL; else check it is the right port")
    error = network_failure(exc, what, url, tls_hint=tls_hint)
    reason = _TLS_REASON.search(text)
    if reason and error.message.startswith("TLS verification failed"):
        return EndpointError(f"{error.message}: {reason.group(1).strip()}", hint=error.hint)
    return error
