"""TLS for the OpenMetadata connection: `verifySSL` and `sslConfig.caCertificate` apply to every
OpenMetadata call and every token call. Real TLS servers on loopback (the OpenMetadata stand-in and the
token stand-in) use a certificate for 127.0.0.1 signed by a CA generated here.
"""
from __future__ import annotations

import logging
import secrets
from pathlib import Path

import pytest
import requests

from tests.support.om_standin import OpenMetadataStandIn
from tests.support.token_standin import TokenStandIn, make_tls_files
from tests.support.workflows import seed_config
from workflow.cli.main import main
from workflow.document.server_config import OpenMetadataConnection
from workflow.openmetadata.tls import tls_warnings

CLIENT_ID = "ingestion-client"
SECRET = "client-secret-" + secrets.token_hex(8)
TOKEN_PATH = "/oauth2/token"


@pytest.fixture(autouse=True)
def ca_bundle_in_environment(monkeypatch):
    """Many machines set REQUESTS_CA_BUNDLE; requests then overrides a session's own `verify` with it."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", requests.certs.where())


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    return make_tls_files(tmp_path_factory.mktemp("other-tls"), name="other")


def ingest(path: Path, capsys, caplog, tokens: TokenStandIn | None = None) -> tuple[int, str]:
    """Run `metadata ingest -c path` in-process; assert no secret or token was shown or logged."""
    caplog.set_level(logging.DEBUG)
    code = main(["ingest", "-c", str(path)])
    captured = capsys.readouterr()
    output = captured.out + captured.err
    for value in (SECRET, *(tokens.issued if tokens else ())):
        assert value not in output and value not in caplog.text, "a secret was shown or logged"
    return code, output


def workflow(mlflow_url: str, om: OpenMetadataStandIn, tokens: TokenStandIn | None, **connection) -> dict:
    """The seed workflow; with `tokens`, authenticated by custom-oidc at the token stand-in."""
    changes = {f"workflowConfig.openMetadataServerConfig.{k}": v for k, v in connection.items()}
    if tokens is not None:
        changes["workflowConfig.openMetadataServerConfig.authProvider"] = "custom-oidc"
        changes["workflowConfig.openMetadataServerConfig.securityConfig"] = {
            "clientId": CLIENT_ID, "secretKey": SECRET, "tokenEndpoint": tokens.url}
    return seed_config(mlflow_url, om.url, **changes)


def tls_token_standin(tls) -> TokenStandIn:
    return TokenStandIn(path=TOKEN_PATH, client_id=CLIENT_ID, client_secret=SECRET, ssl_context=tls.server_context())


def test_validate_with_the_ca_file_verifies_openmetadata_and_the_token_endpoint(tls, mlflow_url, expected_models,
                                                                                write_config, capsys, caplog):
    with tls_token_standin(tls) as tokens, \
            OpenMetadataStandIn(token_validator=tokens.is_valid, ssl_context=tls.server_context()) as om:
        config = workflow(mlflow_url, om, tokens, verifySSL="validate", sslConfig={"caCertificate": str(tls.ca_file)})
        code, output = ingest(write_config(config), capsys, caplog, tokens)
    assert om.url.startswith("https://") and tokens.url.startswith("https://")
    assert code == 0, output
    assert {m["name"] for m in om.models.values()} == set(expected_models)
    assert len(tokens.requests) == 1


def test_a_private_ca_for_openmetadata_and_a_publicly_trusted_identity_provider_both_verify(
        tls, other_ca, mlflow_url, expected_models, write_config, capsys, caplog, monkeypatch):
    """caCertificate signed OpenMetadata's certificate; the identity provider's is signed by a CA of the
    usual bundle (REQUESTS_CA_BUNDLE stands for it here). Each is verified, neither needs a merged file."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other_ca.ca_file))
    with tls_token_standin(other_ca) as tokens, \
            OpenMetadataStandIn(token_validator=tokens.is_valid, ssl_context=tls.server_context()) as om:
        config = workflow(mlflow_url, om, tokens, verifySSL="validate", sslConfig={"caCertificate": str(tls.ca_file)})
        code, output = ingest(write_config(config), capsys, caplog, tokens)
    assert code == 0, output
    assert {m["name"] for m in om.models.values()} == set(expected_models)
    assert len(tokens.requests) == 1


def test_an_identity_provider_signed_by_neither_ca_fails_naming_both_places_to_trust(
        tls, other_ca, mlflow_url, write_config, capsys, caplog):
    with tls_token_standin(other_ca) as tokens, \
            OpenMetadataStandIn(token_validator=tokens.is_valid, ssl_context=tls.server_context()) as om:
        config = workflow(mlflow_url, om, tokens, verifySSL="validate", sslConfig={"caCertificate": str(tls.ca_file)})
        code, output = ingest(write_config(config), capsys, caplog, tokens)
    assert code == 1
    assert f"TLS verification failed for the custom-oidc token endpoint at {tokens.url}" in output
    assert "REQUESTS_CA_BUNDLE" in output and "sslConfig.caCertificate" in output
    assert tokens.requests == [] and om.calls_beyond_probes() == []


def test_without_the_ca_openmetadata_verification_fails_with_a_hint(tls, mlflow_url, write_config, capsys, caplog):
    with OpenMetadataStandIn(ssl_context=tls.server_context()) as om:
        code, output = ingest(write_config(workflow(mlflow_url, om, None)), capsys, caplog)
    assert code == 1
    assert f"TLS verification failed for OpenMetadata at {om.url}" in output
    assert "sslConfig.caCertificate" in output
    assert om.calls_beyond_probes() == []


def test_without_the_ca_the_token_endpoint_verification_fails_naming_it(tls, mlflow_url, write_config, capsys, caplog):
    with tls_token_standin(tls) as tokens, OpenMetadataStandIn(token_validator=tokens.is_valid) as om:
        code, output = ingest(write_config(workflow(mlflow_url, om, tokens)), capsys, caplog, tokens)
    assert code == 1
    assert f"TLS verification failed for the custom-oidc token endpoint at {tokens.url}" in output
    assert "check securityConfig.tokenEndpoint" in output
    assert tokens.requests == [] and om.calls_beyond_probes() == []


def test_a_ca_that_did_not_sign_the_certificate_fails(tls, other_ca, mlflow_url, write_config, capsys, caplog):
    with tls_token_standin(tls) as tokens, \
            OpenMetadataStandIn(token_validator=tokens.is_valid, ssl_context=tls.server_context()) as om:
        config = workflow(mlflow_url, om, tokens, verifySSL="validate",
                          sslConfig={"caCertificate": str(other_ca.ca_file)})
        code, output = ingest(write_config(config), capsys, caplog, tokens)
    assert code == 1
    assert f"TLS verification failed for OpenMetadata at {om.url}" in output  # the first server the checks meet
    assert om.calls_beyond_probes() == [] and tokens.requests == []


def test_ignore_skips_verification_everywhere_and_warns_once(tls, mlflow_url, expected_models, write_config,
                                                             capsys, caplog):
    with tls_token_standin(tls) as tokens, \
            OpenMetadataStandIn(token_validator=tokens.is_valid, ssl_context=tls.server_context()) as om:
        config = workflow(mlflow_url, om, tokens, verifySSL="ignore")
        code, output = ingest(write_config(config), capsys, caplog, tokens)
    assert code == 0, output
    assert {m["name"] for m in om.models.values()} == set(expected_models)
    connection = OpenMetadataConnection(hostPort=om.url, verifySSL="ignore")
    [warning] = tls_warnings(connection)
    assert "verifySSL is 'ignore'" in warning and "not verified" in warning


@pytest.mark.parametrize("verify", ["no-ssl", "validate"])
def test_verifying_settings_give_no_warning(verify, tls):
    connection = OpenMetadataConnection(hostPort="https://127.0.0.1:1/api", verifySSL=verify,
                                        sslConfig={"caCertificate": str(tls.ca_file)})
    assert tls_warnings(connection) == []


def test_a_missing_ca_file_is_named(tls, tmp_path, mlflow_url, write_config, capsys, caplog):
    with OpenMetadataStandIn(ssl_context=tls.server_context()) as om:
        config = workflow(mlflow_url, om, None, verifySSL="validate",
                          sslConfig={"caCertificate": str(tmp_path / "missing-ca.pem")})
        code, output = ingest(write_config(config), capsys, caplog)
    assert code == 1
    assert f"cannot verify OpenMetadata at {om.url}: no CA file at the path in sslConfig.caCertificate" in output
