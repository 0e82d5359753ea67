"""An in-process stand-in for an identity provider's OAuth2 token endpoint, plus test keys and certificates.

It checks what a real provider checks before it issues a token:

* client credentials (auth0, azure, custom-oidc): the client id and secret, the grant type, the
  audience and scope when the stand-in is told to expect them;
* a private-key JWT client assertion (okta): the RS256 signature against the registered public key,
  iss = sub = client id, aud = the token URL, an unexpired exp and a jti never seen before;
* a JWT-bearer grant (google): the signature, iss = sub = the service-account email, aud = the token
  URL, target_audience, exp; it answers with an `id_token` instead of an `access_token`.

Errors are OAuth error bodies (`{"error": "invalid_client", "error_description": ...}`) with the status
codes providers use. Issued tokens are random strings, or JWTs carrying `exp` (`jwt_tokens=True`);
`is_valid` is what the OpenMetadata stand-in calls (`token_validator=tokens.is_valid`), so OpenMetadata
only accepts tokens this endpoint issued, unexpired and not revoked. Every request is recorded.

Standard library plus `cryptography`: a ThreadingHTTPServer in a daemon thread, optionally behind TLS.
"""
from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import secrets
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


# ------------------------------------------------------------------------------------------- keys


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _b64int(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def jwk(key: rsa.RSAPrivateKey, kid: str = "test-key", *, with_crt: bool = True) -> str:
    """The key as a private JWK JSON string, as Okta's admin console generates it."""
    numbers = key.private_numbers()
    data = {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "e": _b64int(numbers.public_numbers.e),
            "n": _b64int(numbers.public_numbers.n), "d": _b64int(numbers.d)}
    if with_crt:
        data.update(p=_b64int(numbers.p), q=_b64int(numbers.q), dp=_b64int(numbers.dmp1),
                    dq=_b64int(numbers.dmq1), qi=_b64int(numbers.iqmp))
    return json.dumps(data)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class BadAssertion(Exception):
    """A client assertion a provider would refuse; the message is the provider's error_description."""


def verify_rs256(token: str, public_key: rsa.RSAPublicKey) -> tuple[dict, dict]:
    """(header, claims) of a compact JWS after checking its RS256 signature; raises BadAssertion."""
    try:
        header_part, claims_part, signature_part = token.split(".")
        header = json.loads(_b64decode(header_part))
        claims = json.loads(_b64decode(claims_part))
        signature = _b64decode(signature_part)
    except ValueError:
        raise BadAssertion("The assertion is not a well-formed JWT.") from None
    if header.get("alg") != "RS256":
        raise BadAssertion(f"The assertion alg {header.get('alg')!r} is not RS256.")
    try:
        public_key.verify(signature, f"{header_part}.{claims_part}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise BadAssertion("Invalid JWT signature.") from None
    return header, claims


# ---------------------------------------------------------------------------------------- TLS


@dataclass(frozen=True)
class TlsFiles:
    """A test CA and a server certificate it signed for 127.0.0.1 (IP SAN), as PEM files."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_tls_files(folder: Path, name: str = "test") -> TlsFiles:
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, server_key = rsa_key(), rsa_key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
              .issuer_name(ca_name).public_key(server_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                             critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    files = TlsFiles(folder / f"{name}-ca.pem", folder / f"{name}-server.pem", folder / f"{name}-server.key")
    files.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files.key_file.write_text(pem(server_key))
    return files


# ------------------------------------------------------------------------------------ the stand-in


@dataclass(frozen=True)
class TokenRequest:
    """One request as received: path, lower-cased headers, and the form (or JSON) fields."""

    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]


class _OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str):
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


class TokenStandIn:
    """A fake token endpoint at `url` (= root + `path`); configure what it expects, then point a config at it.

        with TokenStandIn(client_id="bot", client_secret="s3cret", path="/oauth/token") as tokens:
            with OpenMetadataStandIn(token_validator=tokens.is_valid) as om:
                ...
    """

    def __init__(self, *, path: str = "/oauth/token", client_id: str = "ingestion-client",
                 client_secret: str | None = None, public_key: rsa.RSAPublicKey | None = None,
                 client_email: str | None = None, target_audience: str | None = None,
                 audience: str | None = None, scope: str | None = None, lifetime: float = 3600,
                 send_expires_in: bool = True, jwt_tokens: bool = False, ssl_context: ssl.SSLContext | None = None):
        self.path = path
        self.client_id = client_id
        self.client_secret = client_secret
        self.public_key = public_key
        self.client_email = client_email
        self.target_audience = target_audience
        self.audience = audience
        self.scope = scope
        self.lifetime = lifetime
        self.send_expires_in = send_expires_in
        self.jwt_tokens = jwt_tokens
        self.ssl_context = ssl_context

        self.requests: list[TokenRequest] = []
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.uses: dict[str, int] = {}
        self.first_token_uses: int | None = None
        self._expiry: dict[str, float] = {}
        self._jtis: set[str] = set()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._port: int | None = None

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> "TokenStandIn":
        """Bind a free loopback port and serve in a daemon thread (idempotent)."""
        if self._server is not None:
            return self
        stand_in = self

        class Handler(_Handler):
            owner = stand_in

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self.ssl_context is not None:
            self._server.socket = self.ssl_context.wrap_socket(self._server.socket, server_side=True)
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         name=f"token-standin-{self._port}", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving; `url` stays valid, so later calls fail like an unreachable endpoint."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> "TokenStandIn":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self._port}"

    @property
    def url(self) -> str:
        return self.root_url + self.path

    # ---- what OpenMetadata asks -----------------------------------------------------------

    def is_valid(self, token: str) -> bool:
        """True for a token issued here, unexpired and not revoked; counts each accepted use.

        With `first_token_uses` set, the first token is revoked once it has been accepted that many
        times: the server revoking a token in the middle of a run.
        """
        with self._lock:
            if token not in self._expiry or token in self.revoked or time.time() >= self._expiry[token]:
                return False
            self.uses[token] = self.uses.get(token, 0) + 1
            if self.first_token_uses is not None and token == self.issued[0] and self.uses[token] > self.first_token_uses:
                self.revoked.add(token)
                return False
            return True

    def revoke(self, token: str) -> None:
        with self._lock:
            self.revoked.add(token)

    # ---- answering ------------------------------------------------------------------------

    def _answer(self, request: TokenRequest) -> tuple[int, dict]:
        with self._lock:
            self.requests.append(request)
        if request.method != "POST" or request.path != self.path:
            return 404, {"error": "not_found", "error_description": f"no endpoint at {request.path}"}
        try:
            return 200, self._grant(request.form)
        except _OAuthError as err:
            return err.status, {"error": err.error, "error_description": err.description}

    def _grant(self, form: dict[str, str]) -> dict:
        grant = form.get("grant_type")
        if grant == JWT_BEARER_GRANT:
            self._check_service_account(form.get("assertion", ""))
            return {"id_token": self._issue(jwt=True)}
        if grant != "client_credentials":
            raise _OAuthError(400, "unsupported_grant_type", f"Grant type {grant!r} is not supported.")
        if "client_assertion" in form:
            self._check_client_assertion(form)
        else:
            self._check_client_secret(form)
        if self.scope is not None and form.get("scope") != self.scope:
            raise _OAuthError(400, "invalid_scope", "One or more scopes are not configured for the authorization server.")
        if self.audience is not None and form.get("audience") != self.audience:
            raise _OAuthError(403, "access_denied", f"Service not found: {form.get('audience')}")
        answer = {"access_token": self._issue(jwt=self.jwt_tokens), "token_type": "Bearer"}
        if self.send_expires_in:
            answer["expires_in"] = self.lifetime
        return answer

    def _check_client_secret(self, form: dict[str, str]) -> None:
        if form.get("client_id") != self.client_id or self.client_secret is None \
                or form.get("client_secret") != self.client_secret:
            raise _OAuthError(401, "invalid_client", "Client authentication failed.")

    def _check_client_assertion(self, form: dict[str, str]) -> None:
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            raise _OAuthError(400, "invalid_request", "client_assertion_type is not the jwt-bearer type.")
        claims = self._verified_claims(form["client_assertion"], "invalid_client", 401)
        if not (claims.get("iss") == claims.get("sub") == self.client_id):
            raise _OAuthError(401, "invalid_client", "The client_assertion iss and sub must be the client_id.")

    def _check_service_account(self, assertion: str) -> None:
        claims = self._verified_claims(assertion, "invalid_grant", 400)
        if not (claims.get("iss") == claims.get("sub") == self.client_email):
            raise _OAuthError(400, "invalid_grant", "Invalid grant: account not found")
        if claims.get("target_audience") != self.target_audience:
            raise _OAuthError(400, "invalid_request", "Invalid target_audience.")

    def _verified_claims(self, assertion: str, error: str, status: int) -> dict:
        """Signature, audience, expiry and single use: what every assertion must pass."""
        if self.public_key is None:
            raise _OAuthError(status, error, "No public key is registered for this client.")
        try:
            _, claims = verify_rs256(assertion, self.public_key)
        except BadAssertion as exc:
            raise _OAuthError(status, error, str(exc)) from None
        now = time.time()
        if claims.get("aud") != self.url:
            raise _OAuthError(status, error, f"The audience {claims.get('aud')!r} is not the token endpoint.")
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now:
            raise _OAuthError(status, error, "The assertion has expired.")
        if not isinstance(claims.get("iat"), (int, float)) or claims["iat"] > now + 60:
            raise _OAuthError(status, error, "The assertion iat is in the future.")
        with self._lock:
            if not claims.get("jti") or claims["jti"] in self._jtis:
                raise _OAuthError(status, error, "The jti claim is missing or was already used.")
            self._jtis.add(claims["jti"])
        return claims

    def _issue(self, *, jwt: bool) -> str:
        expiry = time.time() + self.lifetime
        token = secrets.token_urlsafe(32)
        if jwt:
            claims = {"iss": self.root_url, "sub": self.client_email or self.client_id, "exp": int(expiry)}
            token = ".".join([_b64url(b'{"alg":"RS256","typ":"JWT"}'), _b64url(json.dumps(claims).encode()), token])
        with self._lock:
            self.issued.append(token)
            self._expiry[token] = expiry
        return token


class _Handler(BaseHTTPRequestHandler):
    owner: TokenStandIn
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in self.headers.items()}
        if headers.get("content-type", "").startswith("application/json"):
            form = {k: str(v) for k, v in json.loads(body or "{}").items()}
        else:
            form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        self._send(*self.owner._answer(TokenRequest("POST", self.path, headers, form)))

    def do_GET(self) -> None:  # noqa: N802
        self._send(*self.owner._answer(TokenRequest("GET", self.path, {}, {})))

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet in tests
        return None
