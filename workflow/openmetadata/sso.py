"""Tokens from an identity provider for the OpenMetadata Authorization header.

The official 2.0.7 client only sends a bot JWT; the legacy one reached auth0, azure, custom-oidc, okta
and google through msal, okta and google-auth, for what is one HTTP POST each. Here each provider is a
small class that says how to ask for a token, `TokenAuthenticator` keeps the token until shortly before
it expires, and `TokenEndpoint` makes the POST with the connection's TLS settings and turns every
failure into a message naming the provider and the `securityConfig` field to fix. Assertions are RS256
JWS signed with `cryptography` (installed with mlflow), which spares a pyjwt dependency.

No message here ever holds a secret: errors name fields, not values, and what a provider says back is
scrubbed of the config's secrets before it is shown.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .auth import unverified_claims
from ..document.config import (
    Auth0SSOClientConfig,
    AzureSSOClientConfig,
    CustomOidcSSOClientConfig,
    GoogleSSOClientConfig,
    OktaSSOClientConfig,
    OpenMetadataConnection,
)
from ..errors import EndpointError, UserError
from .om_client import network_failure, verify_setting
from ..document.redact import redact_uri, scrub

log = logging.getLogger(__name__)

TIMEOUT = (5.0, 30.0)
"""(connect, read) seconds for a token call: identity providers answer fast or not at all."""
REFRESH_MARGIN = 60.0
"""Fetch a new token this long before the old one expires (at most a quarter of its lifetime)."""
ASSERTION_LIFETIME = 300
"""Seconds a signed client assertion is valid: it is used once, right away (Okta allows up to 1 h)."""
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
REJECTED_CREDENTIALS = {"invalid_client", "unauthorized_client", "access_denied", "invalid_grant"}
"""OAuth error codes that mean: who you say you are, or your proof of it, was not accepted."""


# ------------------------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class Token:
    """A bearer token and when to stop using it (None: until the server answers 401)."""

    value: str
    refresh_at: float | None

    @classmethod
    def issued(cls, value: str, expires_in: Any) -> "Token":
        """Expiry from the answer's `expires_in`, else from the token's own `exp` when it is a JWT."""
        now = time.time()
        lifetime = _seconds(expires_in)
        expiry = now + lifetime if lifetime is not None else _seconds((unverified_claims(value) or {}).get("exp"))
        if expiry is None:
            return cls(value, None)
        margin = min(REFRESH_MARGIN, max(expiry - now, 0) / 4)
        return cls(value, expiry - margin)

    def stale(self) -> bool:
        return self.refresh_at is not None and time.time() >= self.refresh_at


def _seconds(value: Any) -> float | None:
    """A number of seconds as providers send it (some send expires_in as a string), else None."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class TokenAuthenticator:
    """Base of the identity-provider authenticators: the `Authenticator` protocol over `fetch()`.

    The token is fetched on first use, not at start-up, so building a client never touches the
    network. Several threads send at once: the lock makes one fetch serve all of them.
    """

    provider: str

    def __init__(self, endpoint: "TokenEndpoint"):
        self.endpoint = endpoint
        self._token: Token | None = None
        self._lock = threading.Lock()

    def header(self) -> dict[str, str]:
        with self._lock:
            if self._token is None or self._token.stale():
                self._token = self.fetch()
                left = "" if self._token.refresh_at is None else f", refresh in {self._token.refresh_at - time.time():.0f} s"
                log.debug("fetched a token from %s at %s%s", self.provider, redact_uri(self.endpoint.url), left)
            return {"Authorization": f"Bearer {self._token.value}"}

    def invalidate(self) -> None:
        """Forget the token: OpenMetadata answered 401, so the next call fetches a fresh one."""
        with self._lock:
            self._token = None

    def fetch(self) -> Token:
        raise NotImplementedError


# ----------------------------------------------------------------------------------------- endpoint


@dataclass
class TokenEndpoint:
    """One provider's token URL, and what to tell the user when it fails.

    `url_field` and `credential_fields` are the settings a message points at; `secrets` are scrubbed
    from anything the provider sends back before it reaches a message.
    """

    provider: str
    url: str
    url_field: str
    credential_fields: tuple[str, ...]
    verify: bool | str
    secrets: tuple[str, ...]
    scopes_field: str | None = None

    def post(self, form: dict[str, str], token_key: str = "access_token") -> Token:
        """POST the form (as RFC 6749 wants) and return the token in the answer's `token_key`."""
        try:
            with requests.Session() as session:
                if isinstance(self.verify, str):
                    session.mount("https://", _AlsoUsualCAs())
                response = session.post(self.url, data=form, headers={"Accept": "application/json"},
                                        timeout=TIMEOUT, verify=self.verify, allow_redirects=False)
        except (requests.RequestException, OSError) as exc:
            raise self._unreachable(exc) from None
        answer = _json_object(response)
        if not response.ok:
            raise self._refused(response.status_code, answer)
        token = answer.get(token_key) if answer else None
        if not isinstance(token, str) or not token:
            raise EndpointError(f"the {self.provider} token endpoint at {self._shown_url} answered without an {token_key}",
                                hint=f"check {self.url_field}: it must lead to the provider's token endpoint")
        return Token.issued(token, answer.get("expires_in"))

    @property
    def _shown_url(self) -> str:
        return redact_uri(self.url)

    def _unreachable(self, exc: BaseException) -> EndpointError:
        tls_hint = ("the token endpoint's certificate must be signed by a CA of the usual bundle (the system's, "
                    "certifi's or REQUESTS_CA_BUNDLE) or by sslConfig.caCertificate (with verifySSL: validate)")
        error = network_failure(exc, f"the {self.provider} token endpoint", self._shown_url, tls_hint=tls_hint)
        error.message = scrub(error.message, self.secrets)
        error.hint = f"check {self.url_field}; {error.hint}" if error.hint else f"check {self.url_field}"
        return error

    def _refused(self, status: int, answer: dict[str, Any] | None) -> EndpointError:
        """A non-2xx answer, by the OAuth `error` code when there is one (RFC 6749 section 5.2)."""
        error = str((answer or {}).get("error") or "")
        said = self._provider_said(answer)
        if error == "invalid_scope" and self.scopes_field:
            return EndpointError(f"{self.provider} rejected the requested scopes (invalid_scope): check {self.scopes_field}",
                                 hint=said)
        if error in REJECTED_CREDENTIALS or (status == 401 and answer is not None):
            fields = " and ".join(self.credential_fields)
            return EndpointError(f"{self.provider} rejected the client credentials ({error or f'HTTP {status}'}): "
                                 f"check {fields}", hint=said)
        if answer is None or status in (404, 405):
            return EndpointError(f"no {self.provider} token endpoint at {self._shown_url} (HTTP {status})",
                                 hint=f"check {self.url_field}")
        if status >= 500:
            return EndpointError(f"the {self.provider} token endpoint at {self._shown_url} failed with HTTP {status}",
                                 hint=said or "the identity provider has a problem; retry later")
        return EndpointError(f"the {self.provider} token endpoint at {self._shown_url} refused the request "
                             f"(HTTP {status}{' ' + error if error else ''})", hint=said or f"check {self.url_field}")

    def _provider_said(self, answer: dict[str, Any] | None) -> str:
        description = str((answer or {}).get("error_description") or "").strip()
        return f"{self.provider} said: {scrub(description, self.secrets)[:300]}" if description else ""


class _AlsoUsualCAs(HTTPAdapter):
    """HTTPS that trusts the usual CAs as well as the request's `verify` file (sslConfig.caCertificate).

    The CA file is there for OpenMetadata, often behind a private CA, while the identity provider
    (Auth0, Okta, Azure, Google) has a public certificate: the official client's provider libraries
    verify it with the usual bundle. Trusting both serves either setup without a merged CA file.
    urllib3 adds the request's CA file to this context when it connects.
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        context = ssl.create_default_context()  # the system's CAs, then the bundle requests would use
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or requests.certs.where()
        context.load_verify_locations(**{"capath" if os.path.isdir(bundle) else "cafile": bundle})
        super().init_poolmanager(*args, ssl_context=context, **kwargs)


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    """The answer as a JSON object, or None (an HTML error page, a proxy's text, nothing)."""
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def with_scheme(value: str) -> str:
    """A URL as given when it has a scheme (how a local endpoint is reached over http), else https://."""
    value = value.strip().rstrip("/")
    return value if "://" in value else f"https://{value}"


def client_credentials(client_id: str, secret: str, **extra: str) -> dict[str, str]:
    """The client-credentials grant with the secret in the body (client_secret_post)."""
    return {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, **extra}


# ---------------------------------------------------------------------------------------- RS256 JWS


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_rs256(claims: dict[str, Any], key: rsa.RSAPrivateKey, kid: str | None = None) -> str:
    """A compact JWS (RFC 7515) over the claims: RSASSA-PKCS1-v1_5 with SHA-256, what RS256 means."""
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


# ---------------------------------------------------------------------------------------- providers


class Auth0(TokenAuthenticator):
    """An Auth0 machine-to-machine application: client credentials at https://<domain>/oauth/token.

    The audience is the tenant's Management API, as the legacy OpenMetadata client asked for it, so a
    tenant set up for that client works unchanged.
    """

    provider = "auth0"

    def __init__(self, config: Auth0SSOClientConfig, verify: bool | str):
        base = with_scheme(config.domain)
        super().__init__(TokenEndpoint(
            self.provider, f"{base}/oauth/token", "securityConfig.domain",
            ("securityConfig.clientId", "securityConfig.secretKey"), verify, (config.secretKey.get_secret_value(),)))
        self._config = config
        self._audience = f"{base}/api/v2/"

    def fetch(self) -> Token:
        secret = self._config.secretKey.get_secret_value()
        return self.endpoint.post(client_credentials(self._config.clientId, secret, audience=self._audience))


class CustomOidc(TokenAuthenticator):
    """Any OpenID Connect provider: client credentials at its `tokenEndpoint`."""

    provider = "custom-oidc"

    def __init__(self, config: CustomOidcSSOClientConfig, verify: bool | str):
        super().__init__(TokenEndpoint(
            self.provider, with_scheme(config.tokenEndpoint), "securityConfig.tokenEndpoint",
            ("securityConfig.clientId", "securityConfig.secretKey"), verify, (config.secretKey.get_secret_value(),)))
        self._config = config

    def fetch(self) -> Token:
        return self.endpoint.post(client_credentials(self._config.clientId, self._config.secretKey.get_secret_value()))


class Azure(TokenAuthenticator):
    """An Azure AD (Entra ID) app registration: client credentials at <authority>/oauth2/v2.0/token.

    The scopes are usually the API's `.default` scope (api://<app-id>/.default), space-joined as the
    v2.0 endpoint wants them.
    """

    provider = "azure"

    def __init__(self, config: AzureSSOClientConfig, verify: bool | str):
        super().__init__(TokenEndpoint(
            self.provider, f"{with_scheme(config.authority)}/oauth2/v2.0/token", "securityConfig.authority",
            ("securityConfig.clientId", "securityConfig.clientSecret"), verify,
            (config.clientSecret.get_secret_value(),), scopes_field="securityConfig.scopes"))
        self._config = config

    def fetch(self) -> Token:
        secret = self._config.clientSecret.get_secret_value()
        return self.endpoint.post(client_credentials(self._config.clientId, secret, scope=" ".join(self._config.scopes)))


class Okta(TokenAuthenticator):
    """An Okta service app with private-key JWT client authentication (`private_key_jwt`).

    Okta service apps prove who they are with an assertion signed by a key whose public half is
    registered in Okta; the key is parsed at start-up so a bad one is reported before any call.
    `orgURL` is the authorization server (https://<org>.okta.com/oauth2/default); a value that already
    ends in /v1/token, as the legacy docs showed it, is taken as the token URL itself.
    """

    provider = "okta"

    def __init__(self, config: OktaSSOClientConfig, verify: bool | str):
        base = with_scheme(config.orgURL)
        url = base if base.endswith("/v1/token") else f"{base}/v1/token"
        secret = config.privateKey.get_secret_value()
        super().__init__(TokenEndpoint(
            self.provider, url, "securityConfig.orgURL", ("securityConfig.clientId", "securityConfig.privateKey"),
            verify, (secret,), scopes_field="securityConfig.scopes"))
        self._config = config
        self._key, self._kid = load_rsa_key(secret, "securityConfig.privateKey")

    def fetch(self) -> Token:
        assertion = sign_rs256(assertion_claims(self._config.clientId, self.endpoint.url), self._key, self._kid)
        form = {"grant_type": "client_credentials", "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": assertion}
        if self._config.scopes:
            form["scope"] = " ".join(self._config.scopes)
        return self.endpoint.post(form)


class Google(TokenAuthenticator):
    """A Google service account: a signed JWT exchanged for an ID token for `audience` (IAP, Cloud Run).

    The key file (a path, or its JSON contents) gives the account's email, its private key and the
    token URL; it is read at start-up so a bad one is reported before any call.
    """

    provider = "google"

    def __init__(self, config: GoogleSSOClientConfig, verify: bool | str):
        key_file = read_service_account(config.secretKey.get_secret_value())
        super().__init__(TokenEndpoint(
            self.provider, with_scheme(key_file["token_uri"]), "token_uri in the key file of securityConfig.secretKey",
            ("securityConfig.secretKey",), verify, (config.secretKey.get_secret_value(), key_file["private_key"])))
        self._email = key_file["client_email"]
        self._audience = config.audience
        self._key, _ = load_rsa_key(key_file["private_key"], "the private_key in securityConfig.secretKey")
        self._kid = key_file.get("private_key_id")

    def fetch(self) -> Token:
        claims = assertion_claims(self._email, self.endpoint.url, target_audience=self._audience)
        form = {"grant_type": JWT_BEARER_GRANT, "assertion": sign_rs256(claims, self._key, self._kid)}
        return self.endpoint.post(form, token_key="id_token")


SERVICE_ACCOUNT_FIELDS = ("client_email", "private_key", "token_uri")


def read_service_account(value: str) -> dict[str, Any]:
    """The service-account key: JSON contents as given, or the JSON of the file at that path."""
    field = "securityConfig.secretKey"
    text = value.strip()
    if not text.startswith("{"):
        try:
            with open(os.path.expanduser(text), encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not a text file"
            raise UserError(f"{field}: cannot read the service-account key file ({reason})",
                            hint="give the path of the JSON key file of the service account, or its contents") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise UserError(f"{field} is not a service-account key (not JSON)",
                        hint="download a JSON key for the service account in Google Cloud: IAM > Service accounts > Keys") from None
    missing = [name for name in SERVICE_ACCOUNT_FIELDS if not isinstance(data, dict) or not data.get(name)]
    if missing:
        raise UserError(f"{field} is not a service-account key (no {', '.join(missing)})",
                        hint="use the JSON key of a service account (type service_account), not another kind of credential")
    return data


PROVIDERS: dict[type, type[TokenAuthenticator]] = {
    Auth0SSOClientConfig: Auth0,
    AzureSSOClientConfig: Azure,
    CustomOidcSSOClientConfig: CustomOidc,
    GoogleSSOClientConfig: Google,
    OktaSSOClientConfig: Okta,
}


def sso_authenticator(connection: OpenMetadataConnection) -> TokenAuthenticator:
    """The authenticator for a securityConfig that is one of an identity provider's blocks."""
    config = connection.securityConfig
    return PROVIDERS[type(config)](config, verify_setting(connection))
