"""The form model behind the wizard, without a terminal: validation by the engine, saves that keep
what the user did not touch, `${VAR}` references, provider switches."""
from __future__ import annotations

import subprocess
import sys

from tests.support.app_pilot import DOCS_YAML, FIXED_JWT, FIXED_YAML
from tui.draft import Draft
from workflow.document.loader import parse_workflow
from workflow.document.seed import SEED_YAML
from workflow.document.yaml_text import has_inline_secret, to_yaml

def test_untouched_draft_writes_the_loaded_file_back_unchanged():
    for text in (SEED_YAML, DOCS_YAML):
        loaded = parse_workflow(text)
        report = Draft.from_loaded(loaded).check()
        assert report.errors == {} and report.general == {}
        assert to_yaml(report.config, references=report.references) == to_yaml(loaded.config)


def test_an_edit_changes_only_that_field_and_keeps_references_and_extra_keys():
    env = {"OM_JWT_TOKEN": FIXED_JWT}
    loaded = parse_workflow(FIXED_YAML, environ=env)
    draft = Draft.from_loaded(loaded)
    draft.set("serviceName", "renamed")
    report = draft.check(env)
    written = to_yaml(report.config, references=report.references)
    assert written == to_yaml(loaded.config, references=loaded.references).replace("ml_platform", "renamed")
    assert "jwtToken: ${OM_JWT_TOKEN}" in written and "loggerLevel: DEBUG" in written
    assert not has_inline_secret(report.config, report.references)


def test_engine_messages_land_under_their_fields():
    draft = Draft.from_loaded(parse_workflow(SEED_YAML))
    draft.set("serviceName", "")
    draft.set("includes", ["fraud("])
    draft.set("hostPort", "localhost:8585")
    report = draft.check()
    assert report.config is None
    assert report.errors["serviceName"].startswith("must not be empty")
    assert "invalid regular expression 'fraud('" in report.errors["includes"]
    assert "is not an http(s) URL" in report.errors["hostPort"]
    assert not report.step_valid("mlflow") and report.step_valid("sink")


def test_provider_switch_asks_for_exactly_that_providers_fields():
    draft = Draft.from_loaded(parse_workflow(SEED_YAML))
    draft.set("authProvider", "okta")
    report = draft.check()
    assert {k for k in report.errors} == {"sec-okta-clientId", "sec-okta-orgURL", "sec-okta-privateKey",
                                          "sec-okta-email"}
    assert report.errors["sec-okta-email"] == "required"
    draft.set("authProvider", "openmetadata")
    assert set(draft.check().errors) == {"sec-openmetadata-jwtToken"}


def test_a_secret_written_as_a_reference_stays_out_of_the_file():
    draft = Draft.from_loaded(parse_workflow(DOCS_YAML))
    draft.set("sec-auth0-secretKey", "AUTH0_SECRET", reference=True)
    report = draft.check({"AUTH0_SECRET": "from-the-env"})
    assert report.config.openmetadata.securityConfig.secretKey.get_secret_value() == "from-the-env"
    text = to_yaml(report.config, references=report.references)
    assert "secretKey: ${AUTH0_SECRET}" in text and "clientId: my-client" in text
    assert "from-the-env" not in text


def test_an_unset_variable_warns_but_still_writes_the_reference():
    draft = Draft.from_loaded(parse_workflow(SEED_YAML))
    draft.set("authProvider", "openmetadata")
    draft.set("sec-openmetadata-jwtToken", "OM_JWT_TOKEN", reference=True)
    report = draft.check({})
    assert "OM_JWT_TOKEN is not set" in report.warnings["sec-openmetadata-jwtToken"]
    assert "jwtToken: ${OM_JWT_TOKEN}" in to_yaml(report.config, references=report.references)


def test_hints_that_do_not_block():
    draft = Draft.from_loaded(parse_workflow(SEED_YAML))
    draft.set("hostPort", "http://localhost:8585")
    report = draft.check()
    assert report.config is not None and "/api" in report.warnings["hostPort"]


def test_sink_and_registry_choices():
    draft = Draft.from_loaded(parse_workflow(SEED_YAML))
    draft.set("registrySame", True)
    draft.set("sinkType", "file")
    assert draft.check().errors == {"sinkFile": "must not be empty (for example ./mlmodels.jsonl)"}
    draft.set("sinkFile", "out/models.jsonl")
    config = draft.check().config
    assert config.sink.config.filename == "out/models.jsonl"
    assert config.mlflow.registryUri is None
    assert "registryUri: http://localhost:5000" in to_yaml(config)


def test_the_tui_imports_neither_mlflow_nor_the_runner_at_start_and_the_engine_never_imports_textual():
    code = ("import sys, tui.app; import workflow.demo; "
            "print('mlflow' in sys.modules, any(m.startswith('mlflow.') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split() \
        == ["False", "False"]
    code = "import sys, workflow, workflow.demo, workflow.checks; print('textual' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() \
        == "False"


def test_a_token_that_cannot_be_a_jwt_is_flagged_before_any_call():
    draft = Draft.from_loaded(parse_workflow(SEED_YAML))
    draft.set("authProvider", "openmetadata")
    draft.set("sec-openmetadata-jwtToken", "not-a-token")
    report = draft.check()
    assert report.config is not None
    assert report.warnings["sec-openmetadata-jwtToken"].startswith("this token is not a JWT")
    draft.set("sec-openmetadata-jwtToken", FIXED_JWT)
    assert "sec-openmetadata-jwtToken" not in draft.check().warnings


def test_clearing_the_ca_file_leaves_no_empty_block():
    draft = Draft.from_loaded(parse_workflow(SEED_YAML))
    draft.set("caCertificate", "/etc/ssl/ca.pem")
    assert "caCertificate: /etc/ssl/ca.pem" in to_yaml(draft.check().config)
    draft.set("caCertificate", "")
    assert "sslConfig" not in to_yaml(draft.check().config)


def test_the_pipeline_to_record_runs_in_is_set_shown_and_cleared():
    draft = Draft.from_loaded(parse_workflow(SEED_YAML))
    assert draft.values["pipelineFQN"] == ""
    draft.set("pipelineFQN", " local_mlflow.nightly_mlflow ")
    text = to_yaml(draft.check().config)
    assert text.endswith("ingestionPipelineFQN: local_mlflow.nightly_mlflow\n")
    reopened = Draft.from_loaded(parse_workflow(text))
    assert reopened.values["pipelineFQN"] == "local_mlflow.nightly_mlflow"
    reopened.set("pipelineFQN", "")
    assert "ingestionPipelineFQN" not in to_yaml(reopened.check().config)


def test_a_file_that_leaves_the_connection_to_openmetadata_opens_with_empty_mlflow_fields():
    text = SEED_YAML.replace(SEED_YAML[SEED_YAML.index("  serviceConnection:"):SEED_YAML.index("  sourceConfig:")], "")
    draft = Draft.from_loaded(parse_workflow(text, environ={}))
    assert draft.resolved("trackingUri") == ""
    draft.set("trackingUri", "http://mlflow.internal:5000")
    report = draft.check({})
    assert report.errors == {}
    assert report.config.mlflow.trackingUri == "http://mlflow.internal:5000"
