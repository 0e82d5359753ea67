"""Security providers end to end: `metadata ingest -c FILE` against the seeded MLflow server, the
OpenMetadata stand-in, and a token-endpoint stand-in that checks what the real provider checks.

Every run goes through `ingest()`, which also asserts that no secret (client secret, private key, key
file, issued token, bot JWT) reached stdout, stderr or the log.
"""
from __future__ import annotations

import base64
import json
import logging
import secrets
import time
from pathlib import Path

import pytest

from tests.support.om_standin import OpenMetadataStandIn
from tests.support.token_standin import CLIENT_ASSERTION_TYPE, JWT_BEARER_GRANT, TokenStandIn, jwk, pem, rsa_key
from tests.support.workflows import seed_config
from workflow.cli import check as check_cli
from workflow.cli.main import main
from workflow.document.server_config import OpenMetadataConnection
from workflow.document.workflow_file import Workflow
from workflow.openmetadata.om_client import OpenMetadataClient
from workflow.openmetadata.sso import authenticator_for
from workflow.openmetadata.tokens import Token
from workflow.runner import run_workflow

CLIENT_ID = "ingestion-client"
SECRET = "client-secret-" + secrets.token_hex(8)
EMAIL = "ingestion@project.iam.gserviceaccount.com"
AUDIENCE = "https://om.example.com/iap"
PATHS = {
    "auth0": "/oauth/token",
    "custom-oidc": "/realms/ml/protocol/openid-connect/token",
    "azure": "/tenant-1/oauth2/v2.0/token",
    "okta": "/oauth2/default/v1/token",
    "google": "/token",
}
SCOPES = {"azure": ["api://openmetadata/.default"], "okta": ["metadata", "read"]}
PROVIDERS = list(PATHS)


@pytest.fixture(scope="module")
def key():
    return rsa_key()


@pytest.fixture(scope="module")
def other_key():
    return rsa_key()


# ------------------------------------------------------------------------------------------ helpers


def ingest(path: Path, capsys, caplog, *hidden: str, tokens: TokenStandIn | None = None) -> tuple[int, str]:
    """Run `metadata ingest -c path` in-process; assert that no secret was shown or logged.

    The secrets are the client secret, the `hidden` values and every token `tokens` issued in the run.
    """
    caplog.set_level(logging.DEBUG)
    code = main(["ingest", "-c", str(path)])
    captured = capsys.readouterr()
    output = captured.out + captured.err
    for value in (SECRET, *hidden, *(tokens.issued if tokens else ())):
        assert value not in output, "a secret reached the output"
        assert value not in caplog.text, "a secret reached the log"
    return code, output


def pem_body(key) -> str:
    """A line from the middle of the PEM: found in any text that leaked the key."""
    return pem(key).splitlines()[5]


def start_tokens(provider: str, key, **options) -> TokenStandIn:
    scope = " ".join(SCOPES[provider]) if provider in SCOPES else None
    tokens = TokenStandIn(path=PATHS[provider], client_id=CLIENT_ID, client_secret=SECRET,
                          public_key=key.public_key(), client_email=EMAIL, target_audience=AUDIENCE,
                          scope=scope, **options).start()
    if provider == "auth0":
        tokens.audience = tokens.root_url + "/api/v2/"
    return tokens


def google_key_file(tokens: TokenStandIn, key) -> dict:
    return {"type": "service_account", "project_id": "test", "private_key_id": "key-1", "private_key": pem(key),
            "client_email": EMAIL, "client_id": "1234", "token_uri": tokens.url}


def security_config(provider: str, tokens: TokenStandIn, key, folder: Path, *, secret: str = SECRET) -> dict:
    """The securityConfig block a user would write for this provider, pointed at the stand-in."""
    root = tokens.root_url
    if provider == "auth0":
        return {"clientId": CLIENT_ID, "secretKey": secret, "domain": root}
    if provider == "custom-oidc":
        return {"clientId": CLIENT_ID, "secretKey": secret, "tokenEndpoint": tokens.url}
    if provider == "azure":
        return {"clientId": CLIENT_ID, "clientSecret": secret, "authority": root + "/tenant-1", "scopes": SCOPES["azure"]}
    if provider == "okta":
        return {"clientId": CLIENT_ID, "orgURL": root + "/oauth2/default", "privateKey": pem(key),
                "email": "bot@example.com", "scopes": SCOPES["okta"]}
    key_path = folder / "service-account.json"
    key_path.write_text(json.dumps(google_key_file(tokens, key)))
    return {"secretKey": str(key_path), "audience": AUDIENCE}


def sso_workflow(mlflow_url: str, om: OpenMetadataStandIn, provider: str, security: dict, **changes) -> dict:
    return seed_config(mlflow_url, om.url, **{
        "workflowConfig.openMetadataServerConfig.authProvider": provider,
        "workflowConfig.openMetadataServerConfig.securityConfig": security,
        **changes,
    })


def bearer_tokens(om: OpenMetadataStandIn) -> list[str]:
    return [r.headers.get("authorization", "").removeprefix("Bearer ") for r in om.calls_beyond_probes()]


def fake_jwt(**claims) -> str:
    """A bot JWT as OpenMetadata issues it (the client never verifies the signature)."""
    part = lambda data: base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part({'sub': 'ingestion-bot', **claims})}.{secrets.token_hex(16)}"


# -------------------------------------------------------------------------------- no-auth, bot JWT


def test_no_auth_against_a_server_needing_a_token_says_how_to_get_one(mlflow_url, write_config, capsys, caplog):
    with OpenMetadataStandIn(token=fake_jwt()) as om:
        code, output = ingest(write_config(seed_config(mlflow_url, om.url)), capsys, caplog, om.token)
    assert code == 1
    assert "OpenMetadata requires credentials (HTTP 401" in output
    assert "set authProvider: openmetadata and securityConfig.jwtToken" in output and "ingestion-bot" in output
    assert "Traceback" not in output


@pytest.mark.parametrize("given_as", ["inline", "env", "file"])
def test_openmetadata_jwt_is_sent_on_every_call(given_as, mlflow_url, expected_models, write_config, tmp_path,
                                                monkeypatch, capsys, caplog):
    token = fake_jwt(exp=int(time.time()) + 3600)
    value = {"inline": token, "env": "${OM_TEST_BOT_JWT}", "file": str(tmp_path / "bot.jwt")}[given_as]
    monkeypatch.setenv("OM_TEST_BOT_JWT", token)
    (tmp_path / "bot.jwt").write_text(token + "\n")
    with OpenMetadataStandIn(token=token) as om:
        config = seed_config(mlflow_url, om.url, **{
            "workflowConfig.openMetadataServerConfig.authProvider": "openmetadata",
            "workflowConfig.openMetadataServerConfig.securityConfig": {"jwtToken": value}})
        code, output = ingest(write_config(config), capsys, caplog, token)
    assert code == 0, output
    assert {m["name"] for m in om.models.values()} == set(expected_models)
    assert om.requests and set(bearer_tokens(om)) == {token}


@pytest.mark.parametrize("token, message", [
    ("not-a-jwt", "securityConfig.jwtToken is not a JWT"),
    (fake_jwt(exp=int(time.time()) - 60), "securityConfig.jwtToken expired on"),
], ids=["not-a-jwt", "expired"])
def test_unusable_bot_jwt_is_reported_before_any_call(token, message, mlflow_url, write_config, capsys, caplog):
    with OpenMetadataStandIn(token=token) as om:
        config = seed_config(mlflow_url, om.url, **{
            "workflowConfig.openMetadataServerConfig.authProvider": "openmetadata",
            "workflowConfig.openMetadataServerConfig.securityConfig": {"jwtToken": token}})
        code, output = ingest(write_config(config), capsys, caplog, token)
    assert code == 2
    assert message in output and "Settings > Bots" in output
    assert om.calls_beyond_probes() == []


# ------------------------------------------------------------------------------------ SSO providers


@pytest.mark.parametrize("provider", PROVIDERS)
def test_provider_token_is_fetched_once_and_sent_on_every_call(provider, key, mlflow_url, expected_models,
                                                               write_config, tmp_path, capsys, caplog):
    tokens = start_tokens(provider, key)
    try:
        with OpenMetadataStandIn(token_validator=tokens.is_valid) as om:
            security = security_config(provider, tokens, key, tmp_path)
            code, output = ingest(write_config(sso_workflow(mlflow_url, om, provider, security)), capsys, caplog,
                                  pem_body(key), tokens=tokens)
    finally:
        tokens.stop()
    assert code == 0, output
    assert {m["name"] for m in om.models.values()} == set(expected_models)
    assert len(tokens.requests) == 1, "the token is cached for the whole run"
    assert set(bearer_tokens(om)) == {tokens.issued[0]}
    sent = tokens.requests[0]
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    expected_grant = JWT_BEARER_GRANT if provider == "google" else "client_credentials"
    assert sent.form["grant_type"] == expected_grant
    if provider == "okta":
        assert sent.form["client_assertion_type"] == CLIENT_ASSERTION_TYPE
        assert sent.form["scope"] == "metadata read"
    if provider == "azure":
        assert sent.form["scope"] == "api://openmetadata/.default"


def test_a_run_holds_one_client_and_authenticates_once(key, mlflow_url, expected_models, monkeypatch, tmp_path):
    """The stored connection, the checks, the sink and the pipeline status all go through one client."""
    with start_tokens("custom-oidc", key) as tokens, OpenMetadataStandIn(token_validator=tokens.is_valid) as om:
        security = security_config("custom-oidc", tokens, key, tmp_path)
        assert run_workflow(Workflow.model_validate(sso_workflow(mlflow_url, om, "custom-oidc", security))).exit_code == 0
        config = sso_workflow(mlflow_url, om, "custom-oidc", security, ingestionPipelineFQN="local_mlflow.nightly")
        del config["source"]["serviceConnection"]  # read from the service the first run stored
        clients = []
        built = OpenMetadataClient.__init__
        monkeypatch.setattr(OpenMetadataClient, "__init__",
                            lambda self, *args, **kwargs: clients.append(self) or built(self, *args, **kwargs))
        issued = len(tokens.requests)
        om.clear_requests()
        summary = run_workflow(Workflow.model_validate(config))
    assert summary.exit_code == 0 and summary.recorded_in.endswith("as success")
    assert summary.unchanged == len(expected_models)
    assert om.requests_to("GET", "/v1/services/mlmodelServices/name/local_mlflow"), "the stored connection was read"
    assert om.requests_to("GET", "/v1/services/testConnectionDefinitions/name/Mlflow.testConnectionDefinition")
    assert len(clients) == 1, "one OpenMetadata client for the whole run"
    assert len(tokens.requests) - issued == 1, "one token for the whole run"
    assert set(bearer_tokens(om)) == {tokens.issued[-1]}


@pytest.mark.parametrize("with_crt", [True, False], ids=["full-jwk", "jwk-without-crt-params"])
def test_okta_accepts_the_private_key_as_a_jwk(with_crt, key, mlflow_url, write_config, tmp_path, capsys, caplog):
    with start_tokens("okta", key) as tokens, OpenMetadataStandIn(token_validator=tokens.is_valid) as om:
        security = security_config("okta", tokens, key, tmp_path)
        security["privateKey"] = jwk(key, kid="okta-key-7", with_crt=with_crt)
        code, output = ingest(write_config(sso_workflow(mlflow_url, om, "okta", security)), capsys, caplog,
                              json.loads(security["privateKey"])["d"], tokens=tokens)
    assert code == 0, output
    header = json.loads(base64.urlsafe_b64decode(tokens.requests[0].form["client_assertion"].split(".")[0] + "=="))
    assert header == {"alg": "RS256", "typ": "JWT", "kid": "okta-key-7"}


def test_google_accepts_the_key_file_contents_inline(key, mlflow_url, write_config, tmp_path, capsys, caplog):
    with start_tokens("google", key) as tokens, OpenMetadataStandIn(token_validator=tokens.is_valid) as om:
        security = {"secretKey": json.dumps(google_key_file(tokens, key)), "audience": AUDIENCE}
        code, output = ingest(write_config(sso_workflow(mlflow_url, om, "google", security)), capsys, caplog,
                              pem_body(key), tokens=tokens)
    assert code == 0, output
    assert set(bearer_tokens(om)) == {tokens.issued[0]}


WRONG_CREDENTIALS = {
    "auth0": "auth0 rejected the client credentials (invalid_client): "
             "check securityConfig.clientId and securityConfig.secretKey",
    "custom-oidc": "custom-oidc rejected the client credentials (invalid_client): "
                   "check securityConfig.clientId and securityConfig.secretKey",
    "azure": "azure rejected the client credentials (invalid_client): "
             "check securityConfig.clientId and securityConfig.clientSecret",
    "okta": "okta rejected the client credentials (invalid_client): "
            "check securityConfig.clientId and securityConfig.privateKey",
    "google": "google rejected the client credentials (invalid_grant): check securityConfig.secretKey",
}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_wrong_credentials_name_the_provider_and_the_fields(provider, key, other_key, mlflow_url, write_config,
                                                            tmp_path, capsys, caplog):
    wrong_secret = "wrong-secret-" + secrets.token_hex(8)
    with start_tokens(provider, key) as tokens, OpenMetadataStandIn(token_validator=tokens.is_valid) as om:
        # The secret providers get a wrong secret; the key providers sign with a key Okta/Google do not know.
        security = security_config(provider, tokens, other_key, tmp_path, secret=wrong_secret)
        code, output = ingest(write_config(sso_workflow(mlflow_url, om, provider, security)), capsys, caplog,
                              wrong_secret, pem_body(other_key))
    assert code == 1
    assert WRONG_CREDENTIALS[provider] in output
    assert "said:" in output  # the provider's own explanation is passed on as the hint
    assert om.calls_beyond_probes() == [] and tokens.issued == []
    assert "Traceback" not in output


@pytest.mark.parametrize("provider", PROVIDERS)
def test_test_connection_accepts_right_and_names_wrong_credentials(provider, key, other_key, mlflow_url, write_config,
                                                                    tmp_path, capsys, caplog):
    """`metadata test-connection` (through the function `workflow.cli.main` delegates to) with each provider."""
    wrong_secret = "wrong-secret-" + secrets.token_hex(8)
    outputs = []
    with start_tokens(provider, key) as tokens, OpenMetadataStandIn(token_validator=tokens.is_valid) as om:
        for signing_key, secret in ((key, SECRET), (other_key, wrong_secret)):
            security = security_config(provider, tokens, signing_key, tmp_path, secret=secret)
            code = check_cli.main(["-c", str(write_config(sso_workflow(mlflow_url, om, provider, security)))])
            captured = capsys.readouterr()
            outputs.append((code, captured.out + captured.err))
    (right_code, right), (wrong_code, wrong) = outputs
    assert right_code == 0, right
    assert "Credentials accepted | pass" in right and f"the token {provider} issued is accepted" in right
    assert wrong_code == 1
    assert "Credentials accepted | fail" in wrong and WRONG_CREDENTIALS[provider] in wrong
    for value in (SECRET, wrong_secret, pem_body(key), pem_body(other_key), *tokens.issued):
        assert value not in right + wrong + caplog.text, "a secret was shown or logged"


def test_rejected_scopes_point_at_the_scopes_field(key, mlflow_url, write_config, tmp_path, capsys, caplog):
    with start_tokens("azure", key) as tokens, OpenMetadataStandIn(token_validator=tokens.is_valid) as om:
        security = dict(security_config("azure", tokens, key, tmp_path), scopes=["api://other/.default"])
        code, output = ingest(write_config(sso_workflow(mlflow_url, om, "azure", security)), capsys, caplog)
    assert code == 1
    assert "azure rejected the requested scopes (invalid_scope): check securityConfig.scopes" in output


def test_wrong_token_url_names_the_url_and_the_field(key, mlflow_url, write_config, tmp_path, capsys, caplog):
    with start_tokens("custom-oidc", key) as tokens, OpenMetadataStandIn(token_validator=tokens.is_valid) as om:
        security = dict(security_config("custom-oidc", tokens, key, tmp_path), tokenEndpoint=tokens.root_url + "/token")
        code, output = ingest(write_config(sso_workflow(mlflow_url, om, "custom-oidc", security)), capsys, caplog)
    assert code == 1
    assert f"no custom-oidc token endpoint at {tokens.root_url}/token (HTTP 404)" in output
    assert "check securityConfig.tokenEndpoint" in output


def test_unreachable_token_endpoint_names_the_url(key, mlflow_url, write_config, tmp_path, capsys, caplog):
    tokens = start_tokens("auth0", key)
    tokens.stop()
    with OpenMetadataStandIn(token_validator=tokens.is_valid) as om:
        security = security_config("auth0", tokens, key, tmp_path)
        code, output = ingest(write_config(sso_workflow(mlflow_url, om, "auth0", security)), capsys, caplog)
    assert code == 1
    assert f"the auth0 token endpoint at {tokens.url} refused the connection" in output
    assert "check securityConfig.domain" in output
    assert om.calls_beyond_probes() == []


@pytest.mark.parametrize("provider, security, message", [
    ("okta", {"privateKey": "not a key"}, "securityConfig.privateKey is not a usable RSA private key (PEM"),
    ("okta", {"privateKey": '{"kty": "EC", "d": "AA"}'}, "securityConfig.privateKey is not a usable RSA private key (JWK"),
    ("google", {"secretKey": "/nonexistent/key.json"}, "securityConfig.secretKey: cannot read the service-account key file"),
    ("google", {"secretKey": '{"type": "authorized_user"}'}, "securityConfig.secretKey is not a service-account key (no "),
], ids=["okta-not-pem", "okta-not-rsa-jwk", "google-no-file", "google-not-service-account"])
def test_unusable_keys_are_reported_before_any_call(provider, security, message, key, mlflow_url, write_config,
                                                    tmp_path, capsys, caplog):
    with start_tokens(provider, key) as tokens, OpenMetadataStandIn(token_validator=tokens.is_valid) as om:
        block = dict(security_config(provider, tokens, key, tmp_path), **security)
        code, output = ingest(write_config(sso_workflow(mlflow_url, om, provider, block)), capsys, caplog)
    assert code == 2
    assert message in output
    assert tokens.requests == [] and om.calls_beyond_probes() == []


# ------------------------------------------------------------------------------- expiry and refresh


def test_token_revoked_mid_run_is_refreshed_once_and_the_run_succeeds(key, mlflow_url, expected_models,
                                                                      write_config, tmp_path, capsys, caplog):
    with start_tokens("custom-oidc", key) as tokens, OpenMetadataStandIn(token_validator=tokens.is_valid) as om:
        tokens.first_token_uses = 3  # OpenMetadata revokes the first token after three calls
        security = security_config("custom-oidc", tokens, key, tmp_path)
        code, output = ingest(write_config(sso_workflow(mlflow_url, om, "custom-oidc", security)), capsys, caplog,
                              tokens=tokens)
    assert code == 0, output
    assert {m["name"] for m in om.models.values()} == set(expected_models)
    first, second = tokens.issued
    sent = bearer_tokens(om)
    assert sent[:4] == [first] * 4, "three accepted calls, then the 401"
    assert set(sent[4:]) == {second}, "the failed call is retried with the fresh token, and the run goes on with it"


def test_a_fresh_token_rejected_again_fails_with_a_clear_message(key, mlflow_url, write_config, tmp_path,
                                                                 capsys, caplog):
    with start_tokens("auth0", key) as tokens, \
            OpenMetadataStandIn(token_validator=lambda t: tokens.is_valid(t) and t == tokens.issued[0]) as om:
        tokens.first_token_uses = 3  # then OpenMetadata stops trusting this client: every token is refused
        security = security_config("auth0", tokens, key, tmp_path)
        code, output = ingest(write_config(sso_workflow(mlflow_url, om, "auth0", security)), capsys, caplog,
                              tokens=tokens)
    assert code == 1
    assert "OpenMetadata rejected the credentials (HTTP 401)" in output
    assert "auth0 issued a token, fetched again after the first 401, that OpenMetadata does not accept" in output
    assert len(tokens.issued) == 2, "one refresh, no loop"


def test_token_from_a_jwt_without_expires_in_is_used_until_its_exp(key, mlflow_url, write_config, tmp_path,
                                                                   capsys, caplog):
    with start_tokens("custom-oidc", key, jwt_tokens=True, send_expires_in=False) as tokens, \
            OpenMetadataStandIn(token_validator=tokens.is_valid) as om:
        security = security_config("custom-oidc", tokens, key, tmp_path)
        code, output = ingest(write_config(sso_workflow(mlflow_url, om, "custom-oidc", security)), capsys, caplog,
                              tokens=tokens)
    assert code == 0, output
    assert len(tokens.issued) == 1


def test_short_lived_token_is_cached_until_shortly_before_it_expires(key, tmp_path):
    with start_tokens("custom-oidc", key, lifetime=1) as tokens:
        connection = OpenMetadataConnection(hostPort="http://127.0.0.1:1/api", authProvider="custom-oidc",
                                            securityConfig=security_config("custom-oidc", tokens, key, tmp_path))
        auth = authenticator_for(connection)
        first = auth.header()
        assert auth.header() == first and len(tokens.requests) == 1
        time.sleep(0.8)  # a 1 s token is refreshed a quarter of its life before it ends
        second = auth.header()
        assert second != first and len(tokens.requests) == 2
        auth.invalidate()  # what the client does on a 401
        assert auth.header() != second and len(tokens.requests) == 3


def test_refresh_time_comes_from_the_jwt_exp_when_there_is_no_expires_in():
    exp = int(time.time()) + 3600
    token = Token.issued(fake_jwt(exp=exp), None)
    assert token.refresh_at == pytest.approx(exp - 60, abs=1)
    assert Token.issued("opaque", None).refresh_at is None, "no expiry known: kept until OpenMetadata answers 401"


def test_bare_domains_get_https_and_explicit_schemes_are_kept():
    def url(**security) -> str:
        connection = OpenMetadataConnection(hostPort="http://127.0.0.1:1/api", authProvider=security.pop("provider"),
                                            securityConfig=security)
        return authenticator_for(connection).endpoint.url

    assert url(provider="auth0", clientId="c", secretKey="s", domain="tenant.eu.auth0.com") \
        == "https://tenant.eu.auth0.com/oauth/token"
    assert url(provider="azure", clientId="c", clientSecret="s", authority="https://login.microsoftonline.com/t1/",
               scopes=["x"]) == "https://login.microsoftonline.com/t1/oauth2/v2.0/token"
    assert url(provider="custom-oidc", clientId="c", secretKey="s", tokenEndpoint="http://127.0.0.1:9/token") \
        == "http://127.0.0.1:9/token"
