"""What a new user hit in daily use (issue 15): each test drives the app as that user did.

Files are opened through `metadata tui -c FILE` itself (`open_with_main`): the command's own
loading, then the app driven headless by Textual's Pilot instead of a terminal.
"""
from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Awaitable, Callable

from textual.pilot import Pilot
from textual.widgets import Input

from tests.support.app_pilot import (FIXED_SERVICES, FIXED_YAML, fixed_app, goto, message, plan_and_run, run,
                                     text_of, type_into, wait_for)
from tui.app import WorkflowApp, main
from tui.draft import Draft
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen
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
    from workflow.document.seed import SEED_YAML
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


def test_quitting_with_unwritten_edits_asks_first(monkeypatch, tmp_path):
    """Friction 1."""
    app = fixed_app(monkeypatch, tmp_path, on_disk=True)

    async def edit_and_quit(pilot: Pilot) -> None:
        await type_into(pilot, "#input-serviceName", "edited")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), what="the question")

    async def body():
        async with app.run_test(size=(80, 24)) as pilot:
            await edit_and_quit(pilot)
            assert "Your edits are not written to workflow.yaml" in text_of(pilot, ".question")
            await pilot.press("n")
            await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
            assert app.is_running
            await type_into(pilot, "#input-serviceName", "ml_platform")  # back as on disk: nothing to lose
            await pilot.press("ctrl+q")
            await wait_for(pilot, lambda: not app.is_running, what="the app to quit")

    run(body)
    app = fixed_app(monkeypatch, tmp_path, on_disk=True)

    async def yes():
        async with app.run_test(size=(80, 24)) as pilot:
            await edit_and_quit(pilot)
            await pilot.press("y")
            await wait_for(pilot, lambda: not app.is_running, what="the app to quit")

    run(yes)


def test_default_keys_leave_tmux_and_screen_alone_and_a_keys_file_moves_them(monkeypatch, tmp_path):
    """Friction 3: no ctrl+b (tmux) or ctrl+a (screen); every binding has an id; keys.yaml remaps by id."""
    app = fixed_app(monkeypatch, tmp_path)
    bindings = [b for cls in app.binding_classes() for b in cls.BINDINGS]
    assert all(b.id for b in bindings)
    assert not {"ctrl+b", "ctrl+a"} & {k for b in bindings for k in b.key.split(",")}
    keys = tmp_path / "keys.yaml"
    keys.write_text("back: ctrl+b\nnext: ctrl+n\nfly: ctrl+f\n", encoding="utf-8")
    monkeypatch.setenv("MLFLOW_OM_KEYS", str(keys))

    async def body():
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await goto(pilot, 1)
            await pilot.press("alt+left")  # not in the keys file for back: the file's keys replace the defaults
            assert app.screen.index == 1
            await pilot.press("ctrl+b")
            await wait_for(pilot, lambda: app.screen.index == 0, what="Back on ctrl+b")
            assert any("no binding has the id 'fly'" in n.message for n in app._notifications)

    run(body)


def test_the_focused_field_stands_out_and_each_step_starts_on_its_first_field(monkeypatch, tmp_path):
    """Friction 4."""
    app = fixed_app(monkeypatch, tmp_path)

    async def body():
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            assert app.focused.id == "input-serviceName"
            focused, other = screen.query_one("#field-serviceName"), screen.query_one("#field-trackingUri")
            assert focused.styles.border_left[0] == "outer" and other.styles.border_left[0] == "blank"
            label = focused.query_one(".field--label").styles
            assert label.color != other.query_one(".field--label").styles.color and label.text_style.bold
            await pilot.press("tab")
            assert app.focused.id == "input-trackingUri"
            assert screen.query_one("#field-trackingUri").styles.border_left[0] == "outer"
            await goto(pilot, 6)
            assert app.focused.id == "input-writePath"

    run(body)


def test_the_step_list_marks_say_what_is_true(monkeypatch, tmp_path):
    """Friction 5: done, has problems, or nothing (not visited / not done yet)."""
    app = fixed_app(monkeypatch, tmp_path)

    def marks() -> list[str]:
        return [text_of(pilot_, f"#stepitem-{i}")[:2] for i in range(8)]

    async def body():
        nonlocal pilot_
        async with app.run_test(size=(80, 24)) as pilot:
            pilot_ = pilot
            assert marks() == ["▸✓"] + ["  "] * 7  # where you are, valid; nothing else seen yet
            await goto(pilot, 1)
            await goto(pilot, 2)
            assert marks()[:3] == [" ✓", " ✓", "▸✓"] and marks()[6] == "  "
            await goto(pilot, 0)
            await type_into(pilot, "#input-serviceName", "")
            assert marks()[:3] == ["▸✗", " ✓", " ✓"]  # the others keep their marks
            await type_into(pilot, "#input-serviceName", "ml_platform")
            await goto(pilot, 5)
            await wait_for(pilot, lambda: marks()[5] == "▸✗", what="the failed check's mark")
            await goto(pilot, 6)
            assert marks()[6] == "▸ "
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: "✓ Wrote" in text_of(pilot, "#write-result"))
            assert marks()[6] == "▸✓"
            await goto(pilot, 0)
            await type_into(pilot, "#input-serviceName", "renamed")
            assert marks()[6] == "  "  # an edit since: not written any more

    pilot_ = None
    run(body)


def test_saving_the_opened_file_does_not_ask_unless_it_changed_on_disk(monkeypatch, tmp_path):
    """Friction 6."""
    app = fixed_app(monkeypatch, tmp_path, on_disk=True)
    file = tmp_path / "workflow.yaml"

    async def body():
        async with app.run_test(size=(80, 24)) as pilot:
            app.draft.mark_saved(Path("workflow.yaml"))  # as `metadata tui -c workflow.yaml` opens it
            await type_into(pilot, "#input-serviceName", "renamed")
            await goto(pilot, 6)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: "✓ Wrote" in text_of(pilot, "#write-result"), what="the save")
            assert "serviceName: renamed" in file.read_text()
            file.write_text(file.read_text() + "# edited elsewhere\n")
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
            assert "changed on disk since you opened it" in text_of(pilot, ".question")
            await pilot.press("n")

    run(body)
    assert file.read_text().endswith("# edited elsewhere\n")


def test_esc_closes_the_keys_panel_without_leaving_the_step(monkeypatch, tmp_path):
    """Friction 7, first half."""
    app = fixed_app(monkeypatch, tmp_path)

    async def body():
        async with app.run_test(size=(80, 24)) as pilot:
            await goto(pilot, 1)
            app.action_show_help_panel()
            await wait_for(pilot, lambda: bool(app.screen.query("HelpPanel")), what="the keys panel")
            await pilot.press("escape")
            await wait_for(pilot, lambda: not app.screen.query("HelpPanel"), what="the panel to close")
            assert app.screen.index == 1

    run(body)


def test_the_demo_banner_is_one_line_and_the_log_wraps_again_when_narrower(monkeypatch, tmp_path):
    """Friction 7, second half."""
    app = fixed_app(monkeypatch, tmp_path)

    async def body():
        async with app.run_test(size=(120, 30)) as pilot:
            banner = app.screen.query_one("#banner")
            banner.update("DEMO · sample models at http://127.0.0.1:40000 · files go to /tmp/mlflow-om-demo-abcdefgh"
                          " · quitting stops its server")
            banner.display = True
            await goto(pilot, 7)
            await plan_and_run(pilot)
            await wait_for(pilot, lambda: "Finished" in text_of(pilot, "#run-head"), what="the run")
            log = app.screen.query_one("#run-log")
            longest = max(len(line) for line in log.texts)
            assert longest > 60
            await pilot.resize_terminal(80, 24)
            await pilot.pause()
            await pilot.pause()
            assert banner.outer_size.height == 1
            width = log.scrollable_content_region.width
            assert all(strip.cell_length <= width for strip in log.lines)
            shown = " ".join("".join(s.text for s in log.lines).split())
            assert " ".join(" ".join(log.texts).split()).replace(" ", "") == shown.replace(" ", "")

    run(body)


# ------------------------------------------------------------------------------------------ features


def test_copy_the_yaml_a_checks_messages_and_the_run_summary(monkeypatch, tmp_path):
    app = fixed_app(monkeypatch, tmp_path)

    async def body():
        async with app.run_test(size=(100, 32)) as pilot:
            await goto(pilot, 4)
            await pilot.press("c")
            assert "serviceName: ml_platform" in app.clipboard and "jwtToken: ${OM_JWT_TOKEN}" in app.clipboard
            await goto(pilot, 5)
            await wait_for(pilot, lambda: "failed" in text_of(pilot, "#check-status"))
            await pilot.press("c")
            assert "✗ Credentials accepted" in app.clipboard and "→ check the ingestion-bot token" in app.clipboard
            await goto(pilot, 7)
            await plan_and_run(pilot)
            await wait_for(pilot, lambda: "Finished" in text_of(pilot, "#run-head"))
            await pilot.press("c")
            assert app.clipboard.startswith("✗ Finished") and "fraud.detector v2" in app.clipboard

    run(body)


def test_edit_the_yaml_in_editor_and_come_back_with_it_checked(monkeypatch, tmp_path):
    app = fixed_app(monkeypatch, tmp_path, on_disk=True)
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i -e 's/ml_platform/edited::name/' -e 's/DEBUG/INFO/' \"$1\"\n")
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setattr(WorkflowApp, "suspend", lambda self: contextlib.nullcontext())  # no terminal to hand over

    async def body():
        async with app.run_test(size=(100, 32)) as pilot:
            await goto(pilot, 4)
            await pilot.press("e")
            await wait_for(pilot, lambda: app.draft.values["serviceName"] == "edited::name", what="the edit")
            screen = app.screen
            await wait_for(pilot, lambda: screen.is_mounted and screen.query_one("#input-serviceName").value
                           == "edited::name", what="the form")
            assert "must not contain '::'" in message(pilot, "serviceName")  # checked as a file is
            await type_into(pilot, "#input-serviceName", "edited_name")
            await goto(pilot, 4)
            assert "serviceName: edited_name" in text_of(pilot, "#yaml") and "loggerLevel: INFO" in text_of(pilot, "#yaml")
            editor.write_text("#!/bin/sh\nprintf 'source: [' > \"$1\"\n")
            await pilot.press("e")
            await pilot.pause()
            assert app.draft.values["serviceName"] == "edited_name"  # a broken edit is not taken
            assert app.draft.unsaved()

    run(body)


def test_help_screen_says_what_each_step_does_and_lists_every_key(monkeypatch, tmp_path):
    app = fixed_app(monkeypatch, tmp_path)

    async def body():
        async with app.run_test(size=(100, 40)) as pilot:
            await goto(pilot, 4)  # no text field has focus here: ? is not typed into one
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
            text = " ".join(str(s.render()) for s in app.screen.query("Static"))
            for words in ("1  MLflow", "8  Run", "Copies", "keys.yaml"):
                assert words.lower() in text.lower(), words
            keys = text_of(pilot, "#help-keys").splitlines()
            for key, binding_id in (("ctrl+g", "back"), ("ctrl+s", "write"), ("?", "help"),
                                    ("ctrl+o", "toggle-secrets"), ("ctrl+r", "run"), ("l ", "list-plan"),
                                    ("c ", "copy-summary")):
                assert any(line.startswith(key) and line.endswith(f"[{binding_id}]") for line in keys), binding_id
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), what="the help to close")

    run(body)
