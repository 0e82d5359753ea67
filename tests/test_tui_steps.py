"""Each wizard step driven with the keyboard and mouse (Textual's Pilot), on fixed engine services.

The real servers are exercised in test_tui_flow.py; here the point is what each pane does with
what the user types: the engine's messages under the fields, Next held back, values kept.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from textual.widgets import Button, Input, RichLog, Select

from tests.support.app_pilot import (DOCS_YAML, FIXED_JWT, fixed_app, goto, message, plan_and_run, run, text_of,
                                     type_into, wait_for)
from tui.app import WorkflowApp, main
from tui.draft import Draft
from workflow.document.loader import load_workflow
from workflow.document.seed import SEED_YAML


def test_opening_the_seed_or_the_docs_example_fills_the_form(write_config, tmp_path):
    seed = write_config(SEED_YAML, "seed.yaml")
    docs = write_config(DOCS_YAML, "docs.yaml")

    async def body():
        app = WorkflowApp(Draft.from_loaded(load_workflow(seed)))
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            assert screen.query_one("#input-serviceName", Input).value == "local_mlflow"
            assert screen.query_one("#input-registryUri", Input).value.startswith("mysql+pymysql://")
            assert not screen.query_one("#input-registrySame").value
            assert app.sub_title == str(seed)
        app = WorkflowApp(Draft.from_loaded(load_workflow(docs)))
        async with app.run_test(size=(80, 24)) as pilot:
            await goto(pilot, 3)
            screen = app.screen
            assert screen.query_one("#input-authProvider", Select).value == "auth0"
            assert screen.query_one("#input-sec-auth0-clientId", Input).value == "my-client"
            secret = screen.query_one("#input-sec-auth0-secretKey", Input)
            assert secret.value == "s3cr3t-key" and secret.password
            assert screen.query_one("#input-sec-auth0-domain", Input).value == "example.auth0.com"

    run(body)


def test_mlflow_step_validates_as_you_type_and_holds_next(monkeypatch, tmp_path):
    app = fixed_app(monkeypatch, tmp_path)

    async def body():
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            await type_into(pilot, "#input-serviceName", "")
            assert message(pilot, "serviceName").startswith("must not be empty")
            assert screen.query_one("#next", Button).disabled
            assert "1 problem to fix" in text_of(pilot, "#nav-status")
            await pilot.press("ctrl+n")
            assert screen.index == 0
            await type_into(pilot, "#input-serviceName", "ml platform")
            assert message(pilot, "serviceName") == "OpenMetadata creates the service if it is new"
            await type_into(pilot, "#input-trackingUri", "${NOT_SET_ANYWHERE}")
            assert "NOT_SET_ANYWHERE is not set here" in message(pilot, "trackingUri")
            await type_into(pilot, "#input-trackingUri", "http://mlflow.example:5000")
            # The file's registry is the tracking URI: the field follows it until unticked (a click).
            assert screen.query_one("#field-registryUri").disabled
            await pilot.click("#input-registrySame")
            assert not screen.query_one("#field-registryUri").disabled
            await pilot.click("#next")
            assert screen.index == 1

    run(body)


def test_back_keeps_every_value(monkeypatch, tmp_path):
    app = fixed_app(monkeypatch, tmp_path)

    async def body():
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            await type_into(pilot, "#input-serviceName", "kept")
            await goto(pilot, 1)
            await type_into(pilot, "#input-includes", "churn")
            await goto(pilot, 3)
            await type_into(pilot, "#input-hostPort", "http://om.example:8585/api")
            await goto(pilot, 0)
            assert screen.query_one("#input-serviceName", Input).value == "kept"
            await goto(pilot, 3)
            assert screen.query_one("#input-hostPort", Input).value == "http://om.example:8585/api"
            assert screen.query_one("#input-includes").text == "churn"
            assert app.draft.values["includes"] == ["churn"]

    run(body)


def test_source_patterns_are_checked_as_typed_and_preview_the_registry(monkeypatch, tmp_path):
    app = fixed_app(monkeypatch, tmp_path)

    async def body():
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            await goto(pilot, 1)
            await wait_for(pilot, lambda: "3 of 4 registered models" in text_of(pilot, "#preview-head"))
            assert "✗ experimental-ranker  (mlmodel name matches an exclude pattern)" in text_of(pilot, "#preview")
            await type_into(pilot, "#input-includes", "fraud(")
            assert "invalid regular expression 'fraud('" in message(pilot, "includes")
            assert screen.query_one("#next", Button).disabled
            assert "fix the pattern" in text_of(pilot, "#preview-head")
            await type_into(pilot, "#input-includes", "fraud\\.")
            assert message(pilot, "includes") == "Only matching models (none: all)"
            assert "1 of 4 registered models" in text_of(pilot, "#preview-head")
            assert "✓ fraud.detector v2" in text_of(pilot, "#preview")
            assert not screen.query_one("#next", Button).disabled

    run(body)


def test_sink_file_needs_a_path(monkeypatch, tmp_path):
    app = fixed_app(monkeypatch, tmp_path)

    async def body():
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            await goto(pilot, 2)
            assert not screen.query_one("#field-sinkFile").display
            await pilot.click("#choice-sinkType-file")
            await pilot.pause()
            assert screen.query_one("#field-sinkFile").display
            assert message(pilot, "sinkFile").startswith("must not be empty")
            await type_into(pilot, "#input-sinkFile", "out/models.jsonl")
            assert app.draft.check().config.sink.config.filename == "out/models.jsonl"

    run(body)


def test_openmetadata_provider_swaps_in_its_fields_with_masked_secrets(monkeypatch, tmp_path):
    app = fixed_app(monkeypatch, tmp_path)

    async def body():
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            await goto(pilot, 3)
            await type_into(pilot, "#input-hostPort", "http://om.example:8585")
            assert "usually under /api" in message(pilot, "hostPort")
            assert not screen.query_one("#next", Button).disabled
            # The token came from ${OM_JWT_TOKEN}: shown as the variable, not the secret.
            assert screen.query_one("#var-sec-openmetadata-jwtToken", Input).value == "OM_JWT_TOKEN"
            screen.query_one("#input-authProvider", Select).value = "auth0"
            await pilot.pause()
            assert screen.query_one("#security-auth0").display
            assert not screen.query_one("#security-openmetadata").display
            assert message(pilot, "sec-auth0-clientId") == "required"
            assert screen.query_one("#next", Button).disabled
            await type_into(pilot, "#input-sec-auth0-clientId", "client")
            await type_into(pilot, "#input-sec-auth0-domain", "example.auth0.com")
            await type_into(pilot, "#input-sec-auth0-secretKey", "hush-hush")
            secret = screen.query_one("#input-sec-auth0-secretKey", Input)
            assert secret.password
            await pilot.press("ctrl+o")
            assert not secret.password
            await pilot.click("#ref-sec-auth0-secretKey")
            await pilot.pause()
            assert screen.query_one("#var-sec-auth0-secretKey", Input).value == "OM_SECRET_KEY"
            assert "OM_SECRET_KEY is not set here" in message(pilot, "sec-auth0-secretKey")
            report = app.draft.check()
            assert report.references[("workflowConfig", "openMetadataServerConfig", "securityConfig", "secretKey")] \
                == "${OM_SECRET_KEY}"
            assert not screen.query_one("#next", Button).disabled
            # A rule across fields: verifying TLS needs the CA file.
            screen.query_one("#input-verifySSL").focus()
            await pilot.press("right", "right", "enter")  # no-ssl, ignore, validate
            assert "verifySSL 'validate' needs sslConfig.caCertificate" in text_of(pilot, "#step-openmetadata .step-problems")
            assert screen.query_one("#next", Button).disabled
            await type_into(pilot, "#input-caCertificate", "/etc/ssl/ca.pem")
            assert not screen.query_one("#step-openmetadata .step-problems").display
            assert not screen.query_one("#next", Button).disabled

    run(body)


def test_review_masks_secrets_and_diffs_against_the_file_on_disk(monkeypatch, tmp_path):
    app = fixed_app(monkeypatch, tmp_path, on_disk=True)

    async def body():
        async with app.run_test(size=(100, 40)) as pilot:
            screen = app.screen
            await type_into(pilot, "#input-serviceName", "renamed")
            await goto(pilot, 3)
            screen.query_one("#ref-sec-openmetadata-jwtToken").value = False  # write the token inline
            await pilot.pause()
            await type_into(pilot, "#input-sec-openmetadata-jwtToken", FIXED_JWT)
            await goto(pilot, 4)
            await wait_for(pilot, lambda: "Changes to workflow.yaml" in text_of(pilot, "#diff-head"))
            yaml_text, diff = text_of(pilot, "#yaml"), text_of(pilot, "#diff")
            assert "serviceName: renamed" in yaml_text and "jwtToken: '**********'" in yaml_text
            assert "-  serviceName: ml_platform" in diff and "+  serviceName: renamed" in diff
            assert FIXED_JWT not in yaml_text + diff

    run(body)


def test_test_step_lists_each_check_with_cause_and_remediation(monkeypatch, tmp_path):
    app = fixed_app(monkeypatch, tmp_path)

    async def body():
        async with app.run_test(size=(80, 24)) as pilot:
            await goto(pilot, 5)
            await wait_for(pilot, lambda: "failed" in text_of(pilot, "#check-status"))
            om = text_of(pilot, "#checks .endpoint:last-of-type")
            assert "✗ Credentials accepted" in om and "→ check the ingestion-bot token" in om
            test_step = app.screen.query_one("#step-test")
            first = test_step.round
            await pilot.press("ctrl+t")
            await wait_for(pilot, lambda: "failed" in text_of(pilot, "#check-status"))
            assert test_step.round == first + 1

    run(body)


def test_write_asks_before_overwriting_and_keeps_secret_files_private(monkeypatch, tmp_path):
    app = fixed_app(monkeypatch, tmp_path)

    async def body():
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            await goto(pilot, 6)
            assert "No secret is written inline" in text_of(pilot, "#write-mode")
            await type_into(pilot, "#input-writePath", "out/wf.yaml")
            await pilot.press("ctrl+s")
            target = tmp_path / "out/wf.yaml"
            await wait_for(pilot, lambda: "✓ Wrote" in text_of(pilot, "#write-result"))
            assert "jwtToken: ${OM_JWT_TOKEN}" in target.read_text()  # untouched: kept as the file had it
            assert "loggerLevel: DEBUG" in target.read_text()
            assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
            # An inline secret: the file becomes private; replacing another file needs a "yes".
            await goto(pilot, 3)
            await pilot.click("#ref-sec-openmetadata-jwtToken")
            await type_into(pilot, "#input-sec-openmetadata-jwtToken", FIXED_JWT)
            await goto(pilot, 6)
            assert "mode 0600" in text_of(pilot, "#write-mode")
            target = tmp_path / "out/other.yaml"
            target.write_text("someone else's file\n")
            await type_into(pilot, "#input-writePath", "out/other.yaml")
            before = target.read_text()
            await pilot.click("#write-button")
            await wait_for(pilot, lambda: app.screen is not screen, what="the confirmation")
            await pilot.press("n")
            await wait_for(pilot, lambda: "kept as it is" in text_of(pilot, "#write-result"))
            assert target.read_text() == before
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: app.screen is not screen, what="the confirmation")
            await pilot.press("y")
            await wait_for(pilot, lambda: "mode 0600" in text_of(pilot, "#write-result"))
            assert FIXED_JWT in target.read_text()
            assert stat.S_IMODE(os.stat(target).st_mode) == 0o600

    run(body)


def test_run_step_counts_logs_and_summarises(monkeypatch, tmp_path):
    app = fixed_app(monkeypatch, tmp_path)

    async def body():
        async with app.run_test(size=(80, 24)) as pilot:
            await goto(pilot, 7)
            await plan_and_run(pilot)
            await wait_for(pilot, lambda: "Finished" in text_of(pilot, "#run-head"))
            assert text_of(pilot, "#count-processed") == "Processed 2"
            assert text_of(pilot, "#count-errors") == "Errors 1"
            assert text_of(pilot, "#count-filtered") == "Filtered 1"
            assert text_of(pilot, "#count-warnings") == "Warnings 1"
            assert text_of(pilot, "#run-done") == "4 of 4 models"
            log = " ".join(" ".join(line.text for line in app.screen.query_one(RichLog).lines).split())
            assert "Failures: - fraud.detector v2: OpenMetadata answered HTTP 400: name is too long" in log

    run(body)


def test_every_footer_key_is_also_in_the_command_palette(monkeypatch, tmp_path):
    app = fixed_app(monkeypatch, tmp_path)

    async def body():
        async with app.run_test(size=(80, 24)) as pilot:
            await goto(pilot, 5)
            await wait_for(pilot, lambda: "failed" in text_of(pilot, "#check-status"))
            titles = [command.title for command in app.get_system_commands(app.screen)]
            for expected in ("Next (ctrl+n)", "Back (ctrl+g)", "Test again (ctrl+t)", "Go to step 8  Run"):
                assert expected in titles
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*"Go to step 2", "enter")
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "WizardScreen")
            await wait_for(pilot, lambda: app.screen.index == 1)

    run(body)


def test_main_refuses_a_file_that_holds_no_workflow_before_starting(tmp_path, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text("source: [unclosed\n", encoding="utf-8")
    assert main(["-c", str(broken)], prog="metadata tui") == 2
    assert "YAML syntax error" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--help"], prog="metadata tui")
    assert Path(broken).read_text() == "source: [unclosed\n"
