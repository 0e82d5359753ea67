"""Loading, validating and writing workflow files: the seed loads as written, mistakes are explained
with the file, line and fix, and load -> write -> load round-trips."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from workflow.cli.main import main
from workflow.document.security_config import Auth0SSOClientConfig, OpenMetadataJWTClientConfig
from workflow.document.sink import FileSink
from workflow.document.loader import load_workflow, parse_workflow
from workflow.document.seed import SEED_YAML
from workflow.document.writer import write_workflow
from workflow.document.yaml_text import to_yaml
from workflow.errors import ConfigError, UserError

SEED_SNIPPET_WITH_STRAY_QUOTES = SEED_YAML.replace(
    "    hostPort: http://localhost:8585/api\n    authProvider: no-auth\n",
    '    hostPort": http://localhost:8585/api\n    authProvider": no-auth\n',
)

AUTH0 = SEED_YAML.replace(
    "    authProvider: no-auth\n",
    "    authProvider: auth0\n    securityConfig:\n      clientId: <client ID>\n"
    "      secretKey: <secret key>\n      domain: <domain>\n",
)

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJpbmdlc3Rpb24tYm90In0.c2lnbmF0dXJl"

OFFICIAL_DOCS_EXAMPLE = f"""\
source:
  type: mlflow
  serviceName: mlflow_svc
  serviceConnection:
    config: {{type: Mlflow, trackingUri: "http://127.0.0.1:15000", registryUri: "http://127.0.0.1:15000"}}
  sourceConfig:
    config: {{type: MlModelMetadata, markDeletedMlModels: true, mlModelFilterPattern: {{excludes: ["modelC.*"]}}}}
sink: {{type: metadata-rest, config: {{}}}}
workflowConfig:
  loggerLevel: INFO
  successThreshold: 90
  openMetadataServerConfig:
    hostPort: http://127.0.0.1:18585/api
    authProvider: openmetadata
    securityConfig: {{jwtToken: "{JWT}"}}
"""


def problems_of(text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        parse_workflow(text, "wf.yaml", environ or {})
    return str(info.value)


# --------------------------------------------------------------------------------------- accepted


def test_seed_yaml_loads_as_written_including_no_auth():
    config = parse_workflow(SEED_YAML, environ={}).config
    assert config.source.serviceName == "local_mlflow"
    assert config.mlflow.registryUri == "mysql+pymysql://mlflow:password@localhost:3307/experiments"
    assert config.openmetadata.provider == "no-auth"
    assert config.source_options.markDeletedMlModels is True
    assert config.workflowConfig.successThreshold == 90


def test_seed_auth0_example_loads_with_a_masked_secret():
    config = parse_workflow(AUTH0, environ={}).config
    security = config.openmetadata.securityConfig
    assert isinstance(security, Auth0SSOClientConfig)
    assert security.secretKey.get_secret_value() == "<secret key>"
    assert "<secret key>" not in repr(config)


def test_official_docs_example_with_jwt_loads():
    config = parse_workflow(OFFICIAL_DOCS_EXAMPLE, environ={}).config
    assert isinstance(config.openmetadata.securityConfig, OpenMetadataJWTClientConfig)
    assert config.source_options.mlModelFilterPattern.excludes == ["modelC.*"]


def test_official_provider_with_bare_jwt_loads_as_the_official_cli_accepts():
    text = SEED_YAML.replace("authProvider: no-auth", f"authProvider: basic\n    securityConfig: {{jwtToken: {JWT}}}")
    config = parse_workflow(text, environ={}).config
    assert isinstance(config.openmetadata.securityConfig, OpenMetadataJWTClientConfig)


def test_file_sink_loads():
    text = SEED_YAML.replace("  type: metadata-rest\n  config: {}", "  type: file\n  config:\n    filename: out.jsonl")
    assert isinstance(parse_workflow(text, environ={}).config.sink, FileSink)


# --------------------------------------------------------------------------------------- mistakes


def test_stray_quote_keys_are_named_with_their_fix():
    message = problems_of(SEED_SNIPPET_WITH_STRAY_QUOTES)
    assert "wf.yaml:17:5" in message and "unknown key 'hostPort\"'" in message
    assert "did you mean 'hostPort'?" in message
    assert "wf.yaml:18:5" in message and "did you mean 'authProvider'?" in message
    assert "required key is missing" not in message  # the typo explains the missing key


def test_unknown_key_far_from_any_suggests_the_allowed_keys():
    message = problems_of(SEED_YAML.replace("  serviceName: local_mlflow", "  serviceName: local_mlflow\n  colour: red"))
    assert "source.colour: unknown key 'colour'" in message
    assert "allowed keys here:" in message and "serviceName" in message


def test_yaml_syntax_error_gives_line_and_column():
    message = problems_of("source:\n  type: mlflow\n   serviceName: x\n")
    assert message.startswith("wf.yaml:3:")
    assert "YAML syntax error" in message


def test_wrong_type_and_missing_field_give_the_dotted_path():
    text = SEED_YAML.replace("  serviceName: local_mlflow\n", "") + "  successThreshold: lots\n"
    message = problems_of(text)
    assert "source.serviceName: required key is missing" in message
    assert "add `serviceName: local_mlflow`" in message
    assert "workflowConfig.successThreshold: Input should be a valid integer" in message


def test_bad_values_are_explained():
    text = (SEED_YAML.replace("http://localhost:8585/api", "localhost:8585")
            .replace("type: metadata-rest", "type: metadata_rest")
            .replace("      type: MlModelMetadata", "      type: MlModelMetadata\n      mlModelFilterPattern: {includes: ['(']}"))
    message = problems_of(text)
    assert "hostPort: 'localhost:8585' is not an http(s) URL" in message
    assert "did you mean 'metadata-rest'?" in message
    assert "invalid regular expression '('" in message


def test_provider_without_its_security_config_is_named():
    message = problems_of(SEED_YAML.replace("authProvider: no-auth", "authProvider: auth0"))
    assert "authProvider 'auth0' needs a securityConfig with clientId, secretKey, domain" in message


def test_unset_variable_is_an_error_naming_it():
    text = SEED_YAML.replace("http://localhost:5000", "${MLFLOW_HOST}").replace("no-auth", "$PROVIDER")
    message = problems_of(text)
    assert "environment variable MLFLOW_HOST is not set" in message
    assert "environment variable PROVIDER is not set" in message
    assert "wf.yaml:7:" in message


def test_variables_expand_and_double_dollar_is_literal():
    text = SEED_YAML.replace("http://localhost:5000", "http://${HOST}:$PORT").replace("local_mlflow", "svc$$1")
    loaded = parse_workflow(text, environ={"HOST": "mlflow.internal", "PORT": "5001"})
    assert loaded.config.mlflow.trackingUri == "http://mlflow.internal:5001"
    assert loaded.config.source.serviceName == "svc$1"


@pytest.mark.parametrize(
    "content, expected",
    [
        (SEED_SNIPPET_WITH_STRAY_QUOTES, "did you mean 'hostPort'?"),
        ("source: [unclosed\n", "YAML syntax error"),
        (SEED_YAML.replace("http://localhost:5000", "${NOT_SET_ANYWHERE}"), "NOT_SET_ANYWHERE is not set"),
        ("", "the file is empty"),
        ("- a\n- b\n", "expected a mapping"),
    ],
)
def test_cli_exits_2_with_the_cause_and_no_traceback(tmp_path, content, expected):
    path = tmp_path / "wf.yaml"
    path.write_text(content)
    env = {k: v for k, v in os.environ.items() if k != "NOT_SET_ANYWHERE"}
    done = subprocess.run([sys.executable, "-m", "workflow.cli.main", "ingest", "-c", str(path)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2
    assert expected in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_missing_file_and_bad_usage_exit_2(tmp_path, capsys):
    assert main(["ingest", "-c", str(tmp_path / "absent.yaml")]) == 2
    assert "absent.yaml: no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["ingest"])
    assert info.value.code == 2


# ----------------------------------------------------------------------------------------- writing


@pytest.mark.parametrize("text", [SEED_YAML, AUTH0, OFFICIAL_DOCS_EXAMPLE])
def test_load_write_load_round_trips(text):
    config = parse_workflow(text, environ={}).config
    written = to_yaml(config)
    assert parse_workflow(written, environ={}).config == config
    assert "null" not in written


def test_a_json_workflow_is_written_back_as_json(tmp_path):
    """The official CLI parses a .json file with json: YAML in it would break that reader."""
    source = tmp_path / "workflow.json"
    source.write_text(json.dumps(yaml.safe_load(SEED_YAML)))
    loaded = load_workflow(source)
    write_workflow(source, loaded.config, references=loaded.references, overwrite=True)
    assert json.loads(source.read_text()) == yaml.safe_load(SEED_YAML)
    assert load_workflow(source).config == loaded.config


def test_seed_is_written_back_byte_for_byte():
    assert to_yaml(parse_workflow(SEED_YAML, environ={}).config) == SEED_YAML


def test_writer_keeps_seed_key_order_and_drops_default_noise():
    config = parse_workflow(OFFICIAL_DOCS_EXAMPLE, environ={}).config
    data = yaml.safe_load(to_yaml(config))
    assert list(data) == ["source", "sink", "workflowConfig"]
    assert list(data["source"]) == ["type", "serviceName", "serviceConnection", "sourceConfig"]
    assert "verifySSL" not in data["workflowConfig"]["openMetadataServerConfig"]
    assert "enableVersionValidation" not in data["workflowConfig"]["openMetadataServerConfig"]


def test_registry_uri_defaults_to_tracking_uri_and_is_written():
    text = SEED_YAML.replace("      registryUri: mysql+pymysql://mlflow:password@localhost:3307/experiments\n", "")
    config = parse_workflow(text, environ={}).config
    assert config.mlflow.effective_registry_uri == "http://localhost:5000"
    assert "registryUri: http://localhost:5000" in to_yaml(config)


def test_variable_references_are_kept_on_save_and_secrets_masked_in_previews():
    text = OFFICIAL_DOCS_EXAMPLE.replace(JWT, "${OM_TOKEN}")
    loaded = parse_workflow(text, environ={"OM_TOKEN": JWT})
    assert loaded.config.openmetadata.securityConfig.jwtToken.get_secret_value() == JWT
    saved = to_yaml(loaded.config, references=loaded.references)
    assert "jwtToken: ${OM_TOKEN}" in saved and JWT not in saved
    preview = to_yaml(parse_workflow(OFFICIAL_DOCS_EXAMPLE, environ={}).config, secrets="mask")
    assert JWT not in preview and "jwtToken: '**********'" in preview
    assert "mlflow:***@" in to_yaml(parse_workflow(SEED_YAML, environ={}).config, secrets="mask")


def test_write_is_private_when_a_secret_is_inline_and_never_clobbers(tmp_path):
    inline = parse_workflow(OFFICIAL_DOCS_EXAMPLE, environ={})
    path = write_workflow(tmp_path / "wf.yaml", inline.config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(UserError, match="already exists"):
        write_workflow(path, inline.config)
    assert load_workflow(path).config == inline.config

    referenced = parse_workflow(OFFICIAL_DOCS_EXAMPLE.replace(JWT, "${OM_TOKEN}"), environ={"OM_TOKEN": JWT})
    other = write_workflow(tmp_path / "shared.yaml", referenced.config, references=referenced.references)
    assert stat.S_IMODE(other.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_seed_with_password_in_registry_uri_is_written_private(tmp_path):
    config = parse_workflow(SEED_YAML, environ={}).config
    assert stat.S_IMODE(write_workflow(tmp_path / "wf.yaml", config).stat().st_mode) == 0o600


# ---------------------------------------------------------------------------------- official oracle

PEER = os.environ.get("OM_PEER_PYTHON")


@pytest.mark.skipif(not PEER, reason="set OM_PEER_PYTHON to a Python with openmetadata-ingestion 2.0.7 "
                                     "(build one with ../shared/tools/peer_venv.sh DIR)")
def test_written_yaml_validates_with_the_official_models(tmp_path):
    config = parse_workflow(OFFICIAL_DOCS_EXAMPLE.replace("markDeletedMlModels: true, ", ""), environ={}).config
    path = tmp_path / "ours.yaml"
    path.write_text(to_yaml(config))
    script = (
        "import sys, yaml, json\n"
        "from metadata.generated.schema.metadataIngestion.workflow import OpenMetadataWorkflowConfig\n"
        "cfg = OpenMetadataWorkflowConfig.model_validate(yaml.safe_load(open(sys.argv[1])))\n"
        "print(json.dumps({'provider': cfg.workflowConfig.openMetadataServerConfig.authProvider.value,"
        " 'service': cfg.source.serviceName}))\n"
    )
    done = subprocess.run([PEER, "-c", script, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"provider": "openmetadata", "service": "mlflow_svc"}


def test_a_literal_dollar_survives_write_and_load(tmp_path):
    text = OFFICIAL_DOCS_EXAMPLE.replace("mlflow_svc", "svc$$x").replace("http://127.0.0.1:15000\", registryUri",
                                                                      "http://u:pa$$word@127.0.0.1:15000\", registryUri")
    config = parse_workflow(text, environ={}).config
    assert config.source.serviceName == "svc$x"
    assert config.mlflow.trackingUri == "http://u:pa$word@127.0.0.1:15000"
    assert parse_workflow(to_yaml(config), environ={}).config == config


def test_a_password_typed_next_to_a_reference_is_still_a_secret(tmp_path):
    text = SEED_YAML.replace("mysql+pymysql://mlflow:password@localhost:3307/experiments",
                             "mysql+pymysql://mlflow:hunter2pw@${DB_HOST}/experiments")
    loaded = parse_workflow(text, environ={"DB_HOST": "db:3306"})
    assert "hunter2pw" not in to_yaml(loaded.config, secrets="mask", references=loaded.references)
    path = write_workflow(tmp_path / "wf.yaml", loaded.config, references=loaded.references)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "${DB_HOST}" in path.read_text()


@pytest.mark.parametrize("line", ["    extraHeaders: {Authorization: Bearer abcdefgh12345}",
                                  "    extraHeaders: {X-Api-Key: abcdefgh12345}"])
def test_a_credential_header_makes_the_file_private_and_is_masked_in_previews(tmp_path, line):
    text = SEED_YAML.replace("    authProvider: no-auth", "    authProvider: no-auth\n" + line)
    loaded = parse_workflow(text, environ={})
    assert "abcdefgh12345" not in to_yaml(loaded.config, secrets="mask", references=loaded.references)
    path = write_workflow(tmp_path / "wf.yaml", loaded.config, references=loaded.references)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("uri", ["http://tok3n-abcdef@localhost:5000", "http://u:pw12${SUFFIX}@localhost:5000"])
def test_a_token_alone_or_a_password_beside_a_reference_makes_the_file_private(tmp_path, uri):
    text = SEED_YAML.replace("http://localhost:5000", uri)
    text = text.replace("mysql+pymysql://mlflow:password@localhost:3307/experiments", "http://localhost:5000")
    loaded = parse_workflow(text, environ={"SUFFIX": "-and-more"})
    masked = to_yaml(loaded.config, secrets="mask", references=loaded.references)
    assert "tok3n" not in masked and "pw12" not in masked
    path = write_workflow(tmp_path / "wf.yaml", loaded.config, references=loaded.references)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_hostile_yaml_is_refused_quickly_not_hung():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8))
    assert "its aliases (*name) expand to more than 200,000 values" in problems_of(bomb)
    assert "nested too deeply" in problems_of("a: " + "[" * 3000 + "]" * 3000 + "\n")
