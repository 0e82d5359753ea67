"""`metadata test-connection` and `workflow.checks`, against a real MLflow server and the OpenMetadata
stand-in: every cause told apart, with its remediation, fast, and without leaking secrets."""
from __future__ import annotations

import base64
import datetime
import io
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import yaml

from tests.support.mlflow_server import ADMIN_PASSWORD, ADMIN_USERNAME, free_port, start_mlflow_server
from tests.support.om_standin import OpenMetadataStandIn
from tests.support.workflows import seed_config
from workflow.checks import FILE_SINK, MLFLOW, OPENMETADATA, CheckReport, CheckStep, iter_checks, run_checks
from workflow.cli import check as check_cli
from workflow.cli import main as cli
from workflow.cli.check_report import TableView
from workflow.document.workflow_file import Workflow
from workflow.document.seed import SEED_YAML

REPO = Path(__file__).resolve().parent.parent
MLFLOW_ENV = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN",
              "MLFLOW_TRACKING_INSECURE_TLS", "MLFLOW_TRACKING_SERVER_CERT_PATH", "MLFLOW_TRACKING_CLIENT_CERT_PATH")
OM_CONFIG = "workflowConfig.openMetadataServerConfig"


@pytest.fixture(autouse=True)
def no_mlflow_credentials(monkeypatch):
    """Each test states the MLflow environment it needs."""
    for name in MLFLOW_ENV:
        monkeypatch.delenv(name, raising=False)


# ------------------------------------------------------------------------------------------ helpers


def check(data: dict, timeout: float = 2.0) -> CheckReport:
    return run_checks(Workflow.model_validate(data), timeout=timeout)


def step(report: CheckReport, name: str) -> CheckStep:
    """The step whose name starts with `name`."""
    return next(s for s in report.steps if s.name.startswith(name))


def statuses(report: CheckReport, endpoint: str) -> list[str]:
    return [s.status for s in report.steps if s.endpoint == endpoint]


def run_cli(write_config, capsys, data: dict, *args: str) -> tuple[int, str, str]:
    """`metadata test-connection -c FILE ...` in process, through the function `workflow.cli.main` delegates to."""
    code = check_cli.main(["-c", str(write_config(data)), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def make_jwt(subject: str = "ingestion-bot", expires_in: int = 3600) -> str:
    """A well-formed, unsigned-looking JWT: header.payload.signature, base64url without padding."""
    def part(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = part(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    payload = part(json.dumps({"sub": subject, "iss": "open-metadata.org", "exp": int(time.time()) + expires_in}).encode())
    return f"{header}.{payload}.{part(os.urandom(32))}"


def with_token(tracking: str, host_port: str, token: str) -> dict:
    return seed_config(tracking, host_port, **{f"{OM_CONFIG}.authProvider": "openmetadata",
                                                f"{OM_CONFIG}.securityConfig": {"jwtToken": token}})


@pytest.fixture
def refused_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def silent_url():
    """A port that accepts connections (the kernel's backlog) but never answers: nobody reads it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert.pem doubles as its own CA file) and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_om(certificate):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, certificate))
    with OpenMetadataStandIn(ssl_context=context) as standin:
        yield standin


@pytest.fixture(scope="module")
def secured_mlflow(tmp_path_factory):
    """`mlflow server --app-name basic-auth` holding one registered model."""
    server = start_mlflow_server(tmp_path_factory.mktemp("mlflow-auth"), app_name="basic-auth")
    try:
        requests.post(f"{server.url}/api/2.0/mlflow/registered-models/create", json={"name": "secured-model"},
                      auth=(ADMIN_USERNAME, ADMIN_PASSWORD), timeout=30).raise_for_status()
        yield server
    finally:
        server.stop()


# ------------------------------------------------------------------------------------------ all green


def test_all_green(mlflow_url, om):
    report = check(seed_config(mlflow_url, om.url))

    assert report.ok and not report.failures
    assert [s.name for s in report.steps if s.endpoint == MLFLOW] == [
        "Tracking server answers", "Registered models can be listed (GetModels)", "Model artifacts can be read"]
    assert statuses(report, OPENMETADATA) == ["pass"] * 5
    assert step(report, "Tracking server answers").cause.startswith("MLflow 3.") and mlflow_url in step(report, "Tracking").cause
    assert "registered models listed" in step(report, "Registered models").cause
    assert step(report, "Model artifacts").status in ("pass", "warn") and not step(report, "Model artifacts").mandatory
    assert step(report, "Server version").cause == "OpenMetadata 2.0.7 (this tool speaks the 2.0.x API)"
    assert step(report, "Service").cause == "service 'local_mlflow' does not exist yet: the first run creates it"
    assert all(s.elapsed < 2 for s in report.steps)


def test_artifacts_of_a_model_with_an_mlmodel_are_read(mlflow_url, om):
    """The MLflow 3 logged-model layout: get-download-uri -> mlflow-artifacts:/.../MLmodel through the server."""
    report = check(seed_config(mlflow_url, om.url))
    artifacts = step(report, "Model artifacts")
    assert artifacts.status == "pass", artifacts
    assert artifacts.cause.startswith("read the MLmodel file of '")


def test_existing_service_is_reported(mlflow_url, om):
    om.services["local_mlflow"] = {"name": "local_mlflow", "serviceType": "Mlflow"}
    assert step(check(seed_config(mlflow_url, om.url)), "Service").cause == "service 'local_mlflow' exists: runs update its models"


def test_service_of_another_type_warns(mlflow_url, om):
    om.services["local_mlflow"] = {"name": "local_mlflow", "serviceType": "Sklearn"}
    report = check(seed_config(mlflow_url, om.url))
    assert step(report, "Service").status == "warn" and "is a Sklearn service" in step(report, "Service").cause
    assert report.ok


def test_cli_prints_each_step_and_exits_0(mlflow_url, om, write_config, capsys):
    code, out, err = run_cli(write_config, capsys, seed_config(mlflow_url, om.url))
    assert code == 0, out + err
    lines = out.splitlines()
    assert any(line.startswith("MLflow | Tracking server answers | pass | ") for line in lines)
    assert any(line.startswith("OpenMetadata | Credentials accepted | pass | ") for line in lines)
    assert lines[-1].startswith("Result: OK, a run can start")


def test_cli_json(mlflow_url, om, write_config, capsys):
    code, out, _ = run_cli(write_config, capsys, seed_config(mlflow_url, om.url), "--json")
    document = json.loads(out)  # the whole output is one document
    assert code == 0 and document["ok"] is True
    first = document["steps"][0]
    assert set(first) == {"endpoint", "name", "status", "elapsed", "cause", "remediation", "mandatory"}
    assert [s["endpoint"] for s in document["steps"]] == [MLFLOW] * 3 + [OPENMETADATA] * 5


def test_table_view_on_a_terminal():
    stream = io.StringIO()
    view = TableView(stream)
    view.color = False
    view.start()
    view.step(CheckStep(MLFLOW, "Tracking server answers", "fail", 0.0123, "refused", "start it"))
    header, row, fix = stream.getvalue().splitlines()
    assert header.split() == ["Endpoint", "Step", "Status", "Time", "Cause"]
    assert row.startswith("MLflow ") and "✗ fail" in row and "12 ms" in row and row.endswith("refused")
    assert fix.startswith(" " * 14 + "↳ start it")


# -------------------------------------------------------------------------------------- MLflow causes


def test_refused_mlflow_port_is_reported_at_once(refused_url, om, write_config, capsys):
    started = time.monotonic()
    seen: list[tuple[float, CheckStep]] = []
    report = run_checks(Workflow.model_validate(seed_config(refused_url, om.url)),
                        on_step=lambda s: seen.append((time.monotonic() - started, s)))
    reported_after = next(t for t, s in seen if s.endpoint == MLFLOW)

    tracking = step(report, "Tracking server answers")
    assert tracking.status == "fail" and reported_after < 1.5
    assert tracking.cause == f"MLflow at {refused_url} refused the connection"
    assert tracking.remediation == "is the server running and listening on that port?"
    assert statuses(report, MLFLOW)[1:] == ["skipped", "skipped"]
    assert step(report, "Registered models").cause == "not run: 'Tracking server answers' failed"
    assert statuses(report, OPENMETADATA) == ["pass"] * 5  # the other endpoint is still checked
    assert run_cli(write_config, capsys, seed_config(refused_url, om.url))[0] == 1


def test_refused_openmetadata_port_is_reported_at_once(mlflow_url, refused_url):
    started = time.monotonic()
    report = check(seed_config(mlflow_url, refused_url + "/api"))
    answers = step(report, "Server answers")
    assert answers.status == "fail" and answers.elapsed < 1.5 and time.monotonic() - started < 5
    assert answers.cause == f"OpenMetadata at {refused_url}/api refused the connection"
    assert statuses(report, OPENMETADATA)[1:] == ["skipped"] * 4
    assert statuses(report, MLFLOW)[:2] == ["pass", "pass"]


def test_port_that_never_answers_times_out(silent_url, om):
    seen: list[CheckStep] = []
    started = time.monotonic()
    report = run_checks(Workflow.model_validate(seed_config(silent_url, om.url)), timeout=0.3, on_step=seen.append)

    tracking = step(report, "Tracking server answers")
    assert tracking.cause == f"MLflow at {silent_url} accepted the connection but did not answer (timeout)"
    assert "not stuck" in tracking.remediation
    assert time.monotonic() - started < 3
    # Both endpoints run at once: OpenMetadata finished while MLflow was still waiting.
    assert [s.endpoint for s in seen[:5]] == [OPENMETADATA] * 5


def test_cancel_ends_the_iteration_at_once(silent_url, om):
    cancel = threading.Event()
    started = time.monotonic()
    for item in iter_checks(Workflow.model_validate(seed_config(silent_url, om.url)), timeout=2, cancel=cancel):
        cancel.set()
    assert time.monotonic() - started < 1.5  # not the 6 s the silent MLflow port would take


def test_web_server_that_is_not_mlflow(om):
    with OpenMetadataStandIn(html_root=True) as web:
        report = check(seed_config(web.root_url, om.url))
    tracking = step(report, "Tracking server answers")
    assert tracking.status == "fail"
    assert tracking.cause == (f"a web server answers at {web.root_url}, but it is not MLflow: "
                              "/api/2.0/mlflow/registered-models/search answered HTTP 200 with an HTML page")
    assert tracking.remediation.startswith("check the host and port of trackingUri")


def test_mlflow_uri_with_a_path_names_the_root(mlflow_url, om):
    tracking = step(check(seed_config(mlflow_url + "/mlflow", om.url)), "Tracking server answers")
    assert tracking.cause == f"MLflow answers at {mlflow_url}, not at {mlflow_url}/mlflow"
    assert tracking.remediation == f"set trackingUri: {mlflow_url}"


def test_unknown_host_name(om):
    tracking = step(check(seed_config("http://no-such-host.invalid:5000", om.url)), "Tracking server answers")
    assert tracking.cause == "MLflow host name in http://no-such-host.invalid:5000 cannot be resolved (DNS)"
    assert tracking.remediation == "check the spelling of the host name"


# A URI without a scheme is refused when the file loads (tests/test_bad_input.py); a port out of
# range passes the loader and is the check's to report.
@pytest.mark.parametrize("uri, cause, fix", ids=["bad-port"], argvalues=[
    ("http://127.0.0.1:70000", "trackingUri 'http://127.0.0.1:70000' is not a valid URL: Port out of range 0-65535",
     "for example http://localhost:5000"),
])
def test_invalid_mlflow_url(om, uri, cause, fix):
    tracking = step(check(seed_config(uri, om.url)), "Tracking server answers")
    assert tracking.status == "fail" and tracking.cause.startswith(cause) and tracking.remediation == fix


def test_missing_database_driver_is_named(mlflow_url, om, write_config, capsys):
    """pymysql comes with the package (the seed's registryUri); another driver may be missing."""
    assert __import__("importlib.util").util.find_spec("pymysql")
    if __import__("importlib.util").util.find_spec("mysql"):
        pytest.skip("mysql-connector-python is installed here")
    data = seed_config(mlflow_url, om.url, **{
        "source.serviceConnection.config.registryUri": "mysql+mysqlconnector://mlflow:s3cret-pw@localhost:3307/experiments"})
    registry = step(check(data), "Registry answers")
    assert registry.cause == ("registryUri needs the Python package 'mysql-connector-python' (module mysql.connector) "
                              "for mysql+mysqlconnector://, and it is not installed")
    assert registry.remediation == "pip install mysql-connector-python in the environment that runs the workflow"
    code, out, _ = run_cli(write_config, capsys, data)
    assert code == 1 and "s3cret-pw" not in out


def test_sqlite_registry_is_read_with_mlflows_client(mlflow_registry, mlflow_url, om):
    """A database registry next to an HTTP tracking server: only MLflow's client can list it."""
    database = mlflow_registry[0].root / "mlflow.db"
    report = check(seed_config(mlflow_url, om.url, **{"source.serviceConnection.config.registryUri": f"sqlite:///{database}"}))
    assert step(report, "Registry answers").cause == f"the SQLite database {database} exists"
    assert step(report, "Registered models").status == "pass"
    assert report.ok


def test_missing_sqlite_registry_is_not_created(mlflow_url, om, tmp_path):
    database = tmp_path / "typo.db"
    report = check(seed_config(mlflow_url, om.url, **{"source.serviceConnection.config.registryUri": f"sqlite:///{database}"}))
    registry = step(report, "Registry answers")
    assert registry.cause == f"registryUri: there is no SQLite database at {database}"
    assert "would silently create an empty database" in registry.remediation
    assert not database.exists()


def test_mlflow_tls_settings_come_from_mlflows_environment(om, certificate, monkeypatch):
    """A TLS web server on the MLflow side: unverifiable, then verified with MLFLOW_TRACKING_SERVER_CERT_PATH."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, certificate))
    with OpenMetadataStandIn(ssl_context=context, html_root=True) as web:
        untrusted = step(check(seed_config(web.root_url, om.url)), "Tracking server answers")
        monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(certificate[0]))
        trusted = step(check(seed_config(web.root_url, om.url)), "Tracking server answers")
    assert untrusted.cause == f"TLS verification failed for MLflow at {web.root_url}: self-signed certificate"
    assert "MLFLOW_TRACKING_SERVER_CERT_PATH" in untrusted.remediation and "MLFLOW_TRACKING_INSECURE_TLS" in untrusted.remediation
    assert "it is not MLflow" in trusted.cause  # the certificate was accepted, the server then read


# ------------------------------------------------------------------------------------ MLflow basic auth


def test_basic_auth_with_credentials_from_the_environment(secured_mlflow, om, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN_USERNAME)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
    report = check(seed_config(secured_mlflow.url, om.url))
    assert report.ok, report
    assert step(report, "Registered models").cause == "1 registered model listed (secured-model)"


def test_ingest_reads_a_basic_auth_mlflow_with_credentials_from_the_environment(
        secured_mlflow, om, monkeypatch, write_config, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN_USERNAME)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
    code = cli.main(["ingest", "-c", str(write_config(seed_config(secured_mlflow.url, om.url)))])
    output = capsys.readouterr().out
    assert code == 0, output
    assert [m["name"] for m in om.models.values()] == ["secured-model"]
    assert ADMIN_PASSWORD not in output


def test_basic_auth_without_credentials_names_the_variables(secured_mlflow, om, write_config, capsys):
    report = check(seed_config(secured_mlflow.url, om.url))
    assert step(report, "Tracking server answers").cause == (
        f"MLflow answers at {secured_mlflow.url} and asks for credentials (HTTP 401)")
    listing = step(report, "Registered models")
    assert listing.status == "fail"
    assert listing.cause == "MLflow requires credentials (HTTP 401) and no credentials are set"
    assert "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD" in listing.remediation
    assert "MLFLOW_TRACKING_TOKEN" in listing.remediation
    assert run_cli(write_config, capsys, seed_config(secured_mlflow.url, om.url))[0] == 1


def test_basic_auth_with_a_wrong_password(secured_mlflow, om, monkeypatch, write_config, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN_USERNAME)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "not-the-password-123")
    listing = step(check(seed_config(secured_mlflow.url, om.url)), "Registered models")
    assert listing.cause == ("MLflow rejected the user and password from MLFLOW_TRACKING_USERNAME / "
                             "MLFLOW_TRACKING_PASSWORD (HTTP 401)")
    code, out, err = run_cli(write_config, capsys, seed_config(secured_mlflow.url, om.url), "--json")
    assert code == 1 and "not-the-password-123" not in out + err


# -------------------------------------------------------------------------------- OpenMetadata causes


def test_openmetadata_without_api_suggests_adding_it(mlflow_url, om):
    report = check(seed_config(mlflow_url, om.root_url))
    api = step(report, "API found at hostPort")
    assert api.status == "fail"
    assert api.cause == f"no OpenMetadata API at {om.root_url}: {om.root_url}/v1/system/version answered an HTML page"
    assert api.remediation == f"add /api to hostPort: {om.url} (the API answers there)"
    assert statuses(report, OPENMETADATA) == ["pass", "fail", "skipped", "skipped", "skipped"]


def test_wrong_token_is_rejected(mlflow_url, write_config, capsys):
    wrong = make_jwt("someone-else")
    with OpenMetadataStandIn(token=make_jwt()) as om:
        data = with_token(mlflow_url, om.url, wrong)
        report = check(data)
        code, out, err = run_cli(write_config, capsys, data)
    credentials = step(report, "Credentials accepted")
    assert step(report, "API found").cause == f"the OpenMetadata API answers at {om.url}/v1 (it asks for credentials)"
    assert credentials.status == "fail"
    assert credentials.cause == ("OpenMetadata rejected the token in securityConfig.jwtToken (authProvider openmetadata, "
                                 "HTTP 401: Not Authorized! Invalid token)")
    assert credentials.remediation.startswith("fix workflowConfig.openMetadataServerConfig.securityConfig.jwtToken: "
                                              "copy the ingestion-bot JWT from OpenMetadata: Settings > Bots > ingestion-bot")
    assert statuses(report, OPENMETADATA)[3:] == ["skipped", "skipped"]
    assert code == 1 and wrong not in out + err and wrong.split(".")[2] not in out + err


def test_right_token_is_accepted(mlflow_url):
    token = make_jwt()
    with OpenMetadataStandIn(token=token) as om:
        report = check(with_token(mlflow_url, om.url, token))
    assert report.ok
    assert step(report, "Credentials").cause == "the token in securityConfig.jwtToken is accepted (authProvider openmetadata)"


@pytest.mark.parametrize("token, cause", [
    (make_jwt(expires_in=-3600), "workflowConfig.openMetadataServerConfig.securityConfig.jwtToken expired on "),
    ("not-a-jwt", "workflowConfig.openMetadataServerConfig.securityConfig.jwtToken is not a JWT"),
], ids=["expired", "malformed"])
def test_malformed_or_expired_token_fails_the_credentials_step(mlflow_url, om, token, cause):
    report = check(with_token(mlflow_url, om.url, token))
    credentials = step(report, "Credentials accepted")
    assert credentials.status == "fail" and credentials.cause.startswith(cause)
    assert statuses(report, OPENMETADATA)[:2] == ["pass", "pass"]


def test_no_auth_against_a_server_that_needs_a_token(mlflow_url):
    with OpenMetadataStandIn(token=make_jwt()) as om:
        credentials = step(check(seed_config(mlflow_url, om.url)), "Credentials accepted")
    assert credentials.cause == "OpenMetadata requires credentials (HTTP 401: Not Authorized! Token not present)"
    assert credentials.remediation.startswith("set authProvider: openmetadata and securityConfig.jwtToken")


def test_self_signed_certificate_without_and_with_its_ca(mlflow_url, tls_om, certificate):
    untrusted = step(check(seed_config(mlflow_url, tls_om.url)), "Server answers")
    assert untrusted.status == "fail"
    assert untrusted.cause.startswith(f"TLS verification failed for OpenMetadata at {tls_om.url}")
    assert "verifySSL" in untrusted.remediation and "caCertificate" in untrusted.remediation

    trusted = check(seed_config(mlflow_url, tls_om.url, **{f"{OM_CONFIG}.verifySSL": "validate",
                                                            f"{OM_CONFIG}.sslConfig": {"caCertificate": str(certificate[0])}}))
    assert statuses(trusted, OPENMETADATA) == ["pass"] * 5, trusted.steps


def test_https_against_a_plain_http_server(mlflow_url, om):
    answers = step(check(seed_config(mlflow_url, om.url.replace("http://", "https://"))), "Server answers")
    assert answers.cause == f"OpenMetadata at {om.url.replace('http://', 'https://')} does not speak TLS (https)"
    assert answers.remediation.startswith("use http://")


def test_other_server_version_warns_but_passes(mlflow_url, write_config, capsys):
    with OpenMetadataStandIn(version="1.9.3") as om:
        report = check(seed_config(mlflow_url, om.url))
        code = run_cli(write_config, capsys, seed_config(mlflow_url, om.url))[0]
    version = step(report, "Server version")
    assert version.status == "warn" and version.cause.startswith("OpenMetadata server is 1.9.3")
    assert report.ok and code == 0


def test_server_error(mlflow_url, om):
    om.status_override[("GET", "/v1/system/version")] = 503
    api = step(check(seed_config(mlflow_url, om.url)), "API found")
    assert api.cause == f"OpenMetadata at {om.url} failed with HTTP 503: forced"
    assert api.remediation.startswith("the server has a problem: check its logs")


def test_invalid_openmetadata_url(mlflow_url):
    answers = step(check(seed_config(mlflow_url, "http://127.0.0.1:99999/api")), "Server answers")
    assert answers.cause.startswith("hostPort 'http://127.0.0.1:99999/api' is not a valid URL: Port out of range")


# ------------------------------------------------------------------------------------------ file sink


def test_file_sink_replaces_the_openmetadata_steps(mlflow_url, tmp_path):
    target = tmp_path / "out" / "models.jsonl"
    data = seed_config(mlflow_url, "http://127.0.0.1:1/api", sink={"type": "file", "config": {"filename": str(target)}})
    report = check(data)
    assert [(s.endpoint, s.name, s.status) for s in report.steps if s.endpoint != MLFLOW] == [
        (FILE_SINK, "Output file is writable", "pass")]
    assert step(report, "Output file").cause == f"the folder {target.parent} will be created in {tmp_path}, which is writable"
    assert not target.parent.exists()


def test_file_sink_pointing_at_a_folder(mlflow_url, tmp_path):
    data = seed_config(mlflow_url, "http://127.0.0.1:1/api", sink={"type": "file", "config": {"filename": str(tmp_path)}})
    output = step(check(data), "Output file")
    assert output.status == "fail" and output.cause == f"sink.config.filename {tmp_path} is a folder"


# ----------------------------------------------------------------------------------- exit codes, CLI


def test_bad_config_exits_2(write_config, capsys, tmp_path):
    assert check_cli.main(["-c", str(tmp_path / "missing.yaml")]) == 2
    assert capsys.readouterr().err.startswith("Error: ")
    broken = write_config("source: [unclosed\n")
    assert check_cli.main(["-c", str(broken)]) == 2
    assert "Error: " in capsys.readouterr().err
    assert check_cli.main(["-c", str(broken), "--timeout", "soon"]) == 2
    assert "--timeout: 'soon' is not a number of seconds" in capsys.readouterr().err


CLI_DELEGATION_BUG = ("workflow/cli.py gives plugged commands an argparse.REMAINDER positional, which rejects "
                      "options such as -c before delegating; cli.py belongs to another change")


def test_metadata_cli_delegates_test_connection(mlflow_url, om, write_config, capsys):
    assert cli.main(["test-connection", "-c", str(write_config(seed_config(mlflow_url, om.url)))]) == 0
    assert "Result: OK" in capsys.readouterr().out


METADATA = Path(sys.executable).parent / "metadata"


@pytest.mark.parametrize("command", [
    pytest.param([sys.executable, "-m", "workflow.cli.check"], id="check_cli"),
    pytest.param([str(METADATA), "test-connection"], id="metadata"),
])
def test_done_when_seed_yaml_on_a_refused_port_exits_1_in_about_a_second(command, refused_url, om, tmp_path):
    data = yaml.safe_load(SEED_YAML)
    data["source"]["serviceConnection"]["config"]["trackingUri"] = refused_url
    data["workflowConfig"]["openMetadataServerConfig"]["hostPort"] = om.url
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(data))
    started = time.monotonic()
    result = subprocess.run([*command, "-c", str(path)], capture_output=True, text=True,
                            timeout=60, cwd=REPO)
    elapsed = time.monotonic() - started

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"MLflow | Tracking server answers | fail | " in result.stdout
    assert f"MLflow at {refused_url} refused the connection" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert "password" not in result.stdout  # the seed's registryUri password is never shown
    assert elapsed < 3.0, f"took {elapsed:.1f} s"


def test_a_token_alone_in_a_uri_is_masked_in_the_report(refused_url, write_config, capsys):
    """`http://TOKEN@host` is how many services take a token: test-connection printed it as written."""
    token_uri = refused_url.replace("http://", "http://tok3nSecretValue@")
    path = write_config(seed_config(token_uri, token_uri + "/api"))
    assert check_cli.main(["-c", str(path)]) == 1
    out = capsys.readouterr().out
    assert "tok3nSecretValue" not in out
    assert "http://***@127.0.0.1" in out
