"""The identity providers (auth0, azure, custom-oidc, google, okta), and `authenticator_for`, which
picks the source of the OpenMetadata Authorization header for a connection.

The official 2.0.7 client only sends a bot JWT; the legacy one reached these providers through msal,
okta and google-auth, for what is one HTTP POST each. Here each provider is a small class that says
how to ask for a token; `tokens.py` keeps the token and makes the POST, `signing.py` signs the RS256
assertions Okta and Google want.

No message here ever holds a secret: errors name fields, not values.
"""
from __future__ import annotations

import json
import os
from typing import Any

from ..document.security_config import (
    Auth0SSOClientConfig,
    AzureSSOClientConfig,
    CustomOidcSSOClientConfig,
    GoogleSSOClientConfig,
    OktaSSOClientConfig,
    OpenMetadataJWTClientConfig,
)
from ..document.server_config import OpenMetadataConnection
from ..errors import UserError
from .auth import Authenticator, NoAuth, StaticJWT
from .signing import assertion_claims, load_rsa_key, sign_rs256
from .tls import verify_setting
from .tokens import Token, TokenAuthenticator, TokenEndpoint, client_credentials, with_scheme

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


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


def authenticator_for(connection: OpenMetadataConnection) -> Authenticator:
    """No header, the bot JWT, or a token fetched from the identity provider of `securityConfig`."""
    config = connection.securityConfig
    if connection.provider == "no-auth" or config is None:
        return NoAuth()
    if isinstance(config, OpenMetadataJWTClientConfig):
        return StaticJWT(connection.provider, config)
    return sso_authenticator(connection)
