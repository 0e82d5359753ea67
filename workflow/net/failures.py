"""How a failed connection is worded: which of the usual causes it was, and the setting to fix."""
from __future__ import annotations

import requests

from ..errors import EndpointError


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
