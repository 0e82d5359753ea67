"""RS256 client assertions (a compact JWS signed with `cryptography`, installed with mlflow, which
spares a pyjwt dependency), and the RSA keys they are signed with, from PEM or a JWK.

`cryptography` is imported where a key is used, not with this module: it costs 8 MB of memory,
which every run would pay and only the identity providers that sign an assertion need."""
from __future__ import annotations

import base64
import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from ..errors import UserError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa


ASSERTION_LIFETIME = 300
"""Seconds a signed client assertion is valid: it is used once, right away (Okta allows up to 1 h)."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_rs256(claims: dict[str, Any], key: rsa.RSAPrivateKey, kid: str | None = None) -> str:
    """A compact JWS (RFC 7515) over the claims: RSASSA-PKCS1-v1_5 with SHA-256, what RS256 means."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    header = {"alg": "RS256", "typ": "JWT", **({"kid": kid} if kid else {})}
    signing_input = ".".join(b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def assertion_claims(issuer: str, audience: str, **extra: Any) -> dict[str, Any]:
    """A short-lived, single-use client assertion: the issuer is also the subject."""
    now = int(time.time())
    return {"iss": issuer, "sub": issuer, "aud": audience, "iat": now, "exp": now + ASSERTION_LIFETIME,
            "jti": str(uuid.uuid4()), **extra}


def load_rsa_key(text: str, field: str) -> tuple[rsa.RSAPrivateKey, str | None]:
    """An RSA private key from PEM or from a JWK (JSON, as Okta hands out), with the JWK's kid."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    text = text.strip()
    try:
        if text.startswith("{"):
            return _rsa_from_jwk(json.loads(text))
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError, KeyError) as exc:
        kind = "JWK" if text.startswith("{") else "PEM"
        raise UserError(f"{field} is not a usable RSA private key ({kind}: {type(exc).__name__})",
                        hint="give the private key as PEM (-----BEGIN PRIVATE KEY-----) or as a JWK JSON object") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise UserError(f"{field} is not an RSA private key", hint="RS256 needs an RSA key")
    return key, None


def _rsa_from_jwk(jwk: dict[str, Any]) -> tuple[rsa.RSAPrivateKey, str | None]:
    from cryptography.hazmat.primitives.asymmetric import rsa

    if jwk.get("kty") != "RSA" or "d" not in jwk:
        raise ValueError("not an RSA private JWK")
    n, e, d = (_jwk_int(jwk[name]) for name in ("n", "e", "d"))
    if all(name in jwk for name in ("p", "q", "dp", "dq", "qi")):
        p, q, dmp1, dmq1, iqmp = (_jwk_int(jwk[name]) for name in ("p", "q", "dp", "dq", "qi"))
    else:
        p, q = rsa.rsa_recover_prime_factors(n, e, d)
        dmp1, dmq1, iqmp = rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q)
    numbers = rsa.RSAPrivateNumbers(p, q, d, dmp1, dmq1, iqmp, rsa.RSAPublicNumbers(e, n))
    return numbers.private_key(), jwk.get("kid")


def _jwk_int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")
