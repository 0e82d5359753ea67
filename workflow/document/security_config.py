"""The `securityConfig` blocks of the OpenMetadata connection, one per `authProvider` (a bot JWT, or an SSO
provider's client credentials), and how a block is matched to its provider. Kept apart from the
connection itself because the identity providers (openmetadata/sso.py) and the app's forms need
exactly these blocks and the provider table.
"""
from __future__ import annotations

import re
from enum import Enum
from typing import Annotated, Any, Union
from urllib.parse import urlsplit

from pydantic import AfterValidator, Discriminator, Field, SecretStr, Tag, model_validator

from ..errors import InvalidValue
from .rules import Strict, url_space_problem


class AuthProvider(str, Enum):
    no_auth = "no-auth"
    basic = "basic"
    openmetadata = "openmetadata"
    auth0 = "auth0"
    azure = "azure"
    custom_oidc = "custom-oidc"
    google = "google"
    okta = "okta"
    aws_cognito = "aws-cognito"
    ldap = "ldap"
    saml = "saml"


PROVIDER_KEY = "__authProvider__"
"""Routing key the connection model adds to a securityConfig dict; each block drops it again."""


class SecurityBlock(Strict):
    @model_validator(mode="before")
    @classmethod
    def _drop_routing_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and PROVIDER_KEY in data:
            return {k: v for k, v in data.items() if k != PROVIDER_KEY}
        return data


class OpenMetadataJWTClientConfig(SecurityBlock):
    """A bot JWT, inline or as a path to a file holding it (as the official CLI)."""

    jwtToken: SecretStr


_HOST_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*")


def _identity_provider_url(value: str) -> str:
    """An identity provider's address: an http(s) URL, or one without its scheme (https:// is added)."""
    value = value.strip()
    if "://" in value and urlsplit(value).scheme not in ("http", "https"):
        raise InvalidValue(f"{value!r} is not an http(s) URL", hint="for example https://idp.example.com/oauth2/token")
    problem = url_space_problem(value)
    if problem:
        raise problem
    return value


def _domain(value: str) -> str:
    """Auth0's domain: a host name, which cannot hold a space. (A placeholder such as the docs'
    `<domain>` loads, so their example does; `host_name_problem` flags it while typing.)"""
    if any(c.isspace() for c in value.strip()):
        raise InvalidValue(f"{value.strip()!r} is not a domain name: it contains a space",
                           hint="your Auth0 tenant's domain, for example example.eu.auth0.com")
    return value.strip()


def host_name_problem(value: str) -> str | None:
    """Why an identity provider's address does not start with a host name, or None."""
    host = urlsplit(value if "://" in value else f"https://{value}").hostname or ""
    if _HOST_NAME.fullmatch(host) and ("." in host or host == "localhost"):
        return None
    return f"{value!r} does not start with a host name (for example example.eu.auth0.com)"


IdentityProviderUrl = Annotated[str, AfterValidator(_identity_provider_url)]


class Auth0SSOClientConfig(SecurityBlock):
    clientId: str
    secretKey: SecretStr
    domain: Annotated[str, AfterValidator(_domain)]


class AzureSSOClientConfig(SecurityBlock):
    clientSecret: SecretStr
    authority: IdentityProviderUrl
    clientId: str
    scopes: list[str]


class CustomOidcSSOClientConfig(SecurityBlock):
    clientId: str
    secretKey: SecretStr
    tokenEndpoint: IdentityProviderUrl


class GoogleSSOClientConfig(SecurityBlock):
    secretKey: SecretStr = Field(description="Service-account key file: a path or its JSON contents.")
    audience: str = "https://www.googleapis.com/oauth2/v4/token"


class OktaSSOClientConfig(SecurityBlock):
    clientId: str
    orgURL: IdentityProviderUrl
    privateKey: SecretStr
    email: str
    scopes: list[str] | None = None


SECURITY_CONFIGS: dict[str, type[SecurityBlock]] = {
    "openmetadata": OpenMetadataJWTClientConfig,
    "auth0": Auth0SSOClientConfig,
    "azure": AzureSSOClientConfig,
    "custom-oidc": CustomOidcSSOClientConfig,
    "google": GoogleSSOClientConfig,
    "okta": OktaSSOClientConfig,
}
"""Which securityConfig block each provider takes; providers not listed use a bot JWT."""


def security_config_class(provider: str) -> type[SecurityBlock]:
    return SECURITY_CONFIGS.get(provider, OpenMetadataJWTClientConfig)


def security_tag(block: Any) -> str | None:
    """The `SECURITY_CONFIGS` tag of a securityConfig block (a model or its class), None for anything else."""
    cls = block if isinstance(block, type) else type(block)
    return next((tag for tag, member in SECURITY_CONFIGS.items() if member is cls), None)


def _security_tag(value: Any) -> str:
    """Pick the securityConfig model: by its keys when one says so, else the provider's own.

    A bare `jwtToken` is a bot JWT whatever the provider, because the official 2.0.7 client accepts
    it under any provider (the provider is informational there).
    """
    if isinstance(value, dict):
        if "jwtToken" in value:
            return "openmetadata"
        return value.get(PROVIDER_KEY, "openmetadata")
    return security_tag(value) or "openmetadata"


SecurityConfig = Annotated[
    Union[tuple(Annotated[cls, Tag(tag)] for tag, cls in SECURITY_CONFIGS.items())],  # type: ignore[misc]
    Discriminator(_security_tag),
]
