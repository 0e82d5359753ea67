"""What a new user hit in daily use (issue 15): each test drives the app as that user did.

Files are opened through `metadata tui -c FILE` itself (`open_with_main`): the command's own
loading, then the app driven headless by Textual's Pilot instead of a terminal.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Awaitable, Callable

from test_tui_support import FIXED_SERVICES, FIXED_YAML, goto, message, run, text_of, type_into, wait_for
from textual.pilot import Pilot
from textual.widgets import Input

from tui.app import WorkflowApp, main
from tui.draft import Draft
from workflow import load_workflow


def open_with_main(monkeypatch, argv: list[str], check: Callable[[Pilot], Awaitable[None]],
                   size: tuple[int, int] = (100, 32)) -> int:
    """Run `metadata tui ARGV` with the app headless: `check` drives it, then it closes."""
    def headless(app: WorkflowApp, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - App.run's
        async def drive() -> None:
            async with app.run_test(size=size) as pilot:
                await pilot.pause()
                await check(pilot)
        object.__setattr__(app, "services", FIXED_SERVICES)
        asyncio.run(drive())

    monkeypatch.setattr(WorkflowApp, "run", headless)
    return main(argv, prog="metadata tui")


async def save(pilot: Pilot) -> None:
    """Write the file from the Write step, saying yes if asked to replace it."""
    await goto(pilot, 6)
    write_step = pilot.app.screen.query_one("#step-write")
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: pilot.app.screen.query("ConfirmScreen") or pilot.app.screen.__class__.__name__
                   == "ConfirmScreen" or "✓ Wrote" in str(write_step.query_one("#write-result").render()),
                   what="the write")
    if pilot.app.screen.__class__.__name__ == "ConfirmScreen":
        await pilot.press("y")
    await wait_for(pilot, lambda: "✓ Wrote" in str(write_step.query_one("#write-result").render()), what="the write")


# ---------------------------------------------------------------------------------------------- bugs


def test_registry_uri_follows_the_tracking_uri_while_its_box_is_ticked(monkeypatch, tmp_path):
    """Bug 1: a file whose registryUri equals trackingUri; the tracking URI is edited."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OM_JWT_TOKEN", "x.y.z")
    Path("workflow.yaml").write_text(FIXED_YAML, encoding="utf-8")

    async def check(pilot: Pilot) -> None:
        screen = pilot.app.screen
        registry = screen.query_one("#input-registryUri", Input)
        assert screen.query_one("#input-registrySame").value and screen.query_one("#field-registryUri").disabled
        await type_into(pilot, "#input-trackingUri", "http://mlflow.moved:5000")
        assert registry.value in ("", "http://mlflow.moved:5000")  # greyed, following the tracking URI
        await pilot.click("#input-registrySame")
        await pilot.click("#input-registrySame")
        await pilot.pause()
        assert registry.value in ("", "http://mlflow.moved:5000")
        assert "mlflow.example" not in registry.value
        await save(pilot)

    assert open_with_main(monkeypatch, ["-c", "workflow.yaml"], check) == 0
    written = load_workflow(tmp_path / "workflow.yaml").config.mlflow
    assert written.effective_registry_uri == "http://mlflow.moved:5000"


def test_a_file_with_an_unset_variable_opens_and_test_names_the_variable(monkeypatch, tmp_path):
    """Bugs 2 and 3: the file the app writes with `jwtToken: ${OM_JWT_TOKEN}`, the variable unset."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OM_JWT_TOKEN", raising=False)
    Path("workflow.yaml").write_text(FIXED_YAML, encoding="utf-8")

    async def check(pilot: Pilot) -> None:
        screen = pilot.app.screen
        await type_into(pilot, "#input-serviceName", "renamed")
        await goto(pilot, 3)
        assert screen.query_one("#var-sec-openmetadata-jwtToken", Input).value == "OM_JWT_TOKEN"
        assert "OM_JWT_TOKEN is not set here" in message(pilot, "sec-openmetadata-jwtToken")
        await goto(pilot, 5)
        await wait_for(pilot, lambda: "OM_JWT_TOKEN" in text_of(pilot, "#check-status"), what="the Test step")
        status = text_of(pilot, "#check-status")
        assert "environment variable OM_JWT_TOKEN is not set" in status and "jwtToken" in status
        assert "not a JWT" not in status
        assert not screen.query("#checks .endpoint")  # nothing was sent with a literal ${OM_JWT_TOKEN}
        await save(pilot)

    assert open_with_main(monkeypatch, ["-c", "workflow.yaml"], check) == 0
    text = (tmp_path / "workflow.yaml").read_text()
    assert "serviceName: renamed" in text and "jwtToken: ${OM_JWT_TOKEN}" in text


def test_the_openmetadata_step_does_not_claim_a_file_sink_tests_it(monkeypatch, tmp_path):
    """Bug 4: with a file sink, Test never checks OpenMetadata."""
    app = WorkflowApp(Draft.new(), services=FIXED_SERVICES)
    monkeypatch.chdir(tmp_path)

    async def body():
        async with app.run_test(size=(100, 32)) as pilot:
            await goto(pilot, 2)
            await pilot.click("#choice-sinkType-file")
            await type_into(pilot, "#input-sinkFile", "models.jsonl")
            await goto(pilot, 3)
            intro = text_of(pilot, "#step-openmetadata .step-intro")
            assert "only needs it for Test" not in intro
            assert "file sink" in intro and "not" in intro

    run(body)


def test_the_footer_says_hide_secrets_while_they_are_shown(monkeypatch, tmp_path):
    """Bug 5, first half."""
    app = WorkflowApp(Draft.new(), services=FIXED_SERVICES)
    monkeypatch.chdir(tmp_path)

    def footer_says() -> str:
        return next(b.binding.description for k, b in app.screen.active_bindings.items() if k == "ctrl+o")

    async def body():
        async with app.run_test(size=(100, 32)) as pilot:
            await goto(pilot, 3)
            app.screen.query_one("#input-authProvider").value = "auth0"
            await pilot.pause()
            await type_into(pilot, "#input-sec-auth0-secretKey", "hush")
            assert footer_says() == "Show secrets"
            await pilot.press("ctrl+o")
            await pilot.pause()
            assert not app.screen.query_one("#input-sec-auth0-secretKey", Input).password
            assert footer_says() == "Hide secrets"
            await pilot.press("ctrl+o")
            await pilot.pause()
            assert footer_says() == "Show secrets"

    run(body)


def test_values_that_cannot_work_are_refused_while_typing_and_when_loading():
    """Bug 6: one rule each on the engine's models, so the form, `metadata ingest` and the DAG agree."""
    from conftest import SEED_YAML
    from workflow import ConfigError
    from workflow import parse_workflow

    cases = [  # (field, value, what the message says)
        ("trackingUri", "http://x y", "space"),
        ("serviceName", "my svc/x", "'/'"),
        ("pipelineFQN", "other_service.nightly", "other_service"),
        ("sec-auth0-domain", "not a domain", "not a domain name: it contains a space"),
        ("hostPort", "http://om host:8585/api", "space"),
    ]
    for key, value, says in cases:
        draft = Draft.from_loaded(parse_workflow(SEED_YAML))
        if key.startswith("sec-auth0"):
            draft.set("authProvider", "auth0")
            draft.set("sec-auth0-clientId", "client")
            draft.set("sec-auth0-secretKey", "hush")
        draft.set(key, value)
        report = draft.check({})
        assert report.config is None, key
        assert says in report.errors.get(key, ""), (key, report.errors)
    text = SEED_YAML.replace("serviceName: local_mlflow", "serviceName: my svc/x")
    try:
        parse_workflow(text, "w.yaml")
    except ConfigError as exc:
        assert "source.serviceName" in str(exc) and "'/'" in str(exc)
    else:
        raise AssertionError("a service name with / loaded")
    # A token endpoint without a scheme works (https is assumed), and the form says so as you type.
    draft = Draft.from_loaded(parse_workflow(SEED_YAML))
    draft.set("authProvider", "custom-oidc")
    for key, value in (("sec-custom-oidc-clientId", "c"), ("sec-custom-oidc-secretKey", "s"),
                       ("sec-custom-oidc-tokenEndpoint", "idp.example.com/oauth2/token")):
        draft.set(key, value)
    report = draft.check({})
    assert report.config is not None
    assert "https://idp.example.com/oauth2/token" in report.warnings["sec-custom-oidc-tokenEndpoint"]
    draft.set("sec-custom-oidc-tokenEndpoint", "https://idp example/token")
    assert "sec-custom-oidc-tokenEndpoint" in draft.check({}).errors
    draft.set("sec-custom-oidc-tokenEndpoint", "<token-endpoint>")  # a placeholder left in: said, not blocked
    assert "does not start with a host name" in draft.check({}).warnings["sec-custom-oidc-tokenEndpoint"]


# ------------------------------------------------------------------------------------------ friction


def test_an_invalid_file_opens_with_each_problem_at_its_field(monkeypatch, tmp_path):
    """Friction 2: the app is how a broken file gets fixed."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OM_JWT_TOKEN", "x.y.z")
    broken = (FIXED_YAML.replace("serviceName: ml_platform", "serviceName: ml::platform")
              .replace("hostPort: http://openmetadata.example:8585/api", "hostPort: openmetadata.example:8585")
              .replace("  loggerLevel: DEBUG\n", "  loggerLevel: DEBUG\n  retries: 3\n"))
    Path("workflow.yaml").write_text(broken, encoding="utf-8")

    async def check(pilot: Pilot) -> None:
        assert "must not contain '::'" in message(pilot, "serviceName")
        await type_into(pilot, "#input-serviceName", "ml_platform")
        await goto(pilot, 3)
        assert "has no scheme" in message(pilot, "hostPort")
        problems = text_of(pilot, "#step-openmetadata .step-problems")
        assert "workflowConfig.retries: unknown key 'retries'" in problems
        await type_into(pilot, "#input-hostPort", "http://openmetadata.example:8585/api")
        assert "has no scheme" not in message(pilot, "hostPort")

    assert open_with_main(monkeypatch, ["-c", "workflow.yaml"], check) == 0
