"""The OpenMetadata connection's TLS settings (verifySSL, sslConfig), as requests takes them."""
from __future__ import annotations

from ..document.server_config import OpenMetadataConnection, VerifySSL


def verify_setting(connection: OpenMetadataConnection) -> bool | str:
    """`verifySSL` as requests wants it: True (verify), False (ignore) or a CA bundle path."""
    if connection.verifySSL is VerifySSL.ignore:
        return False
    if connection.verifySSL is VerifySSL.validate and connection.sslConfig and connection.sslConfig.caCertificate:
        return connection.sslConfig.caCertificate
    return True


def tls_warnings(connection: OpenMetadataConnection) -> list[str]:
    """What a run should report before it starts: `ignore` turns off verification for every call."""
    if connection.verifySSL is VerifySSL.ignore:
        return ["verifySSL is 'ignore': the certificates of OpenMetadata and of the token endpoint are not verified; "
                "set verifySSL: validate with sslConfig.caCertificate"]
    return []
