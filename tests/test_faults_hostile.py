"""Hostile servers (issue 17): what an MLflow or OpenMetadata sends can slow a run down, never hang it,
flood its memory, loop it for ever or crash it. Each server here is a small stand-in started by the
test (tests/support/hostile_servers.py); a real OpenMetadata stand-in answers what a test does not make hostile.
"""
from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.support.app_pilot import goto, plan_and_run, run, text_of, wait_for
from tests.support.hostile_servers import (MLFLOW_API, HostileServer, Route, answer, endless_chunked, mlflow_routes,
                                           trickle, waited)
from tests.support.om_standin import OpenMetadataStandIn
from tests.support.workflows import seed_config
from tui.app import WorkflowApp
from tui.draft import Draft
from tui.widgets.check_list import CheckList
from tui.widgets.wrapping_log import WrappingLog
from workflow.cli import check as check_cli
from workflow.cli import main as cli
from workflow.document.loader import load_workflow
from workflow.document.workflow_file import Workflow
from workflow.errors import UserError
from workflow.runner import run_workflow

REPO = Path(__file__).resolve().parent.parent


def file_sink(tmp_path: Path) -> dict:
    return {"type": "file", "config": {"filename": str(tmp_path / "out" / "models.jsonl")}}


def alias_chain(levels: int, leaf: str = "x") -> str:
    """YAML in which the last anchor stands for 10**levels copies of `leaf`: a few hundred bytes."""
    lines = [f"l0: &l0 [{', '.join([leaf] * 10)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def quick_mlflow_timeout(monkeypatch):
    """MLflow's own variable for its read timeout: 2 s, so a call's whole answer gets 4 s."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")


# ------------------------------------------------------------------------------------ slow and endless


@pytest.mark.timeout(60)
def test_a_trickling_mlflow_fails_the_listing_within_the_call_deadline(tmp_path, write_config, capsys,
                                                                       quick_mlflow_timeout):
    with HostileServer(mlflow_routes(["a", "b"], listing=trickle(0.5))) as mlflow:
        path = write_config(seed_config(mlflow.url, "http://127.0.0.1:9/api", sink=file_sink(tmp_path)))
        started = time.monotonic()
        code = cli.main(["ingest", "-c", str(path)])
        elapsed = time.monotonic() - started
    out = capsys.readouterr().out
    assert code == 1
    assert elapsed < 15, elapsed
    assert "listing the registered models failed" in out and "no complete answer" in out


@pytest.mark.timeout(60)
def test_test_connection_is_not_held_by_a_trickling_mlflow(write_config, capsys):
    with HostileServer([Route("GET", "/", trickle(0.5))]) as mlflow:
        path = write_config(seed_config(mlflow.url, "http://127.0.0.1:9/api"))
        started = time.monotonic()
        code = check_cli.main(["-c", str(path), "--timeout", "1"])
        elapsed = time.monotonic() - started
    assert code == 1
    assert elapsed < 15, elapsed
    assert "MLflow" in capsys.readouterr().out


@pytest.mark.timeout(60)
def test_an_endless_chunked_answer_is_cut_off(tmp_path, write_config, capsys, quick_mlflow_timeout):
    with HostileServer(mlflow_routes(["a"], listing=endless_chunked())) as mlflow:
        path = write_config(seed_config(mlflow.url, "http://127.0.0.1:9/api", sink=file_sink(tmp_path)))
        code = cli.main(["ingest", "-c", str(path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "listing the registered models failed" in out
    assert "over 64 MB" in out or "no complete answer" in out


# ------------------------------------------------------------------------------------------ paging


@pytest.mark.timeout(60)
def test_the_same_next_page_token_again_ends_the_listing_with_an_error(tmp_path, write_config):
    page = {"registered_models": [{"name": f"m{i}", "latest_versions": []} for i in range(5)],
            "next_page_token": "again"}
    with HostileServer(mlflow_routes([], listing=answer(page))) as mlflow:
        config = seed_config(mlflow.url, "http://127.0.0.1:9/api", sink=file_sink(tmp_path))
        summary = run_workflow(Workflow.model_validate(config), check_first=False)
    assert summary.written == 5  # the first page, once
    assert f"MLflow at {mlflow.url} sent the same next_page_token twice" in summary.incomplete
    assert summary.exit_code == 1


@pytest.mark.timeout(120)
def test_openmetadata_repeating_its_paging_cursor_ends_the_run_with_an_error(mlflow_url):
    with OpenMetadataStandIn() as om, HostileServer(
            [Route("GET", "/api/v1/mlmodels", answer({"data": [], "paging": {"after": "same"}}))],
            upstream=om.url.removesuffix("/api")) as proxy:
        config = seed_config(mlflow_url, proxy.url + "/api")
        with pytest.raises(UserError) as failure:
            run_workflow(Workflow.model_validate(config), check_first=False)
    assert f"OpenMetadata at {proxy.url}/api/v1 answered GET /mlmodels with the same paging.after cursor twice" \
        in str(failure.value)


# ------------------------------------------------------------------------------- wrong-shape answers


@pytest.mark.timeout(120)
@pytest.mark.parametrize("body", [{"data": [{"nope": 1}]}, {"data": {"name": "x"}}, [1, 2], {"data": [{"name": 1, "id": []}]}])
def test_openmetadata_json_of_the_wrong_shape_is_an_error_naming_the_call_not_a_traceback(
        mlflow_url, write_config, capsys, body):
    with OpenMetadataStandIn() as om, HostileServer([Route("GET", "/api/v1/mlmodels", answer(body))],
                                                    upstream=om.url.removesuffix("/api")) as proxy:
        code = cli.main(["ingest", "-c", str(write_config(seed_config(mlflow_url, proxy.url + "/api")))])
    err = capsys.readouterr().err
    assert code == 1
    assert f"Error: OpenMetadata at {proxy.url}/api/v1 answered GET /mlmodels with" in err
    assert "Traceback" not in err and "KeyError" not in err


@pytest.mark.timeout(60)
def test_mlflow_json_of_the_wrong_shape_fails_the_listing_by_name(tmp_path):
    listing = answer({"registered_models": [{"nope": 1}]})
    with HostileServer(mlflow_routes([], listing=listing)) as mlflow:
        config = seed_config(mlflow.url, "http://127.0.0.1:9/api", sink=file_sink(tmp_path))
        summary = run_workflow(Workflow.model_validate(config), check_first=False)
    assert "list the registered models with JSON of an unexpected shape (an entry without a name)" in summary.incomplete


# ------------------------------------------------------------------------------------------- YAML bombs


@pytest.mark.timeout(60)
def test_an_mlmodel_alias_bomb_fails_its_model_and_the_run_goes_on(tmp_path):
    """The issue's 511-byte MLmodel whose column name is a 7-level alias chain: a 72 MB request."""
    bomb = alias_chain(7) + "signature:\n  inputs:\n  - {name: *l6, type: string}\n"
    good = "signature:\n  inputs: '[{\"name\": \"age\", \"type\": \"long\"}]'\n"
    with HostileServer(mlflow_routes(["bomb", "good"], mlmodels={"bomb": bomb, "good": good})) as mlflow:
        config = seed_config(mlflow.url, "http://127.0.0.1:9/api", sink=file_sink(tmp_path))
        summary = run_workflow(Workflow.model_validate(config), check_first=False)
    assert [f.name for f in summary.failures] == ["bomb"]
    assert "aliases (*name) expand to more than 200,000 values" in summary.failures[0].reason
    written = [json.loads(line) for line in (tmp_path / "out" / "models.jsonl").read_text().splitlines()]
    assert [(m["name"], m["mlFeatures"]) for m in written] == [("good", [{"name": "age", "dataType": "numerical"}])]


def test_an_mlmodel_file_is_read_as_utf_8_whatever_charset_the_server_leaves_out(tmp_path):
    """YAML is UTF-8; MLflow serves the file as text/plain with no charset, which HTTP reads as
    Latin-1: a column named in UTF-8 must not come out as mojibake."""
    mlmodel = "signature:\n  inputs: '[{\"name\": \"größe\", \"type\": \"double\"}]'\n"
    with HostileServer(mlflow_routes(["sized"], mlmodels={"sized": mlmodel})) as mlflow:
        config = seed_config(mlflow.url, "http://127.0.0.1:9/api", sink=file_sink(tmp_path))
        summary = run_workflow(Workflow.model_validate(config), check_first=False)
    assert summary.exit_code == 0 and not summary.failures, summary.failures
    written = json.loads((tmp_path / "out" / "models.jsonl").read_text(encoding="utf-8"))
    assert written.get("mlFeatures") == [{"name": "größe", "dataType": "numerical"}], (written, summary.warnings)


@pytest.mark.timeout(60)
def test_metadata_dag_refuses_a_workflow_whose_aliases_expand_without_bound(write_config, tmp_path, capsys):
    """On main a 1.2 KB workflow with aliases in a free-form block took 2.8 GB to write as a DAG."""
    text = yaml.safe_dump(seed_config("http://localhost:5000", "http://localhost:8585/api"))
    text += "processor:\n  type: orm-profiler\n  config:\n" + "".join(f"    {line}\n" for line in
                                                                    alias_chain(6).splitlines())
    started = time.monotonic()
    code = cli.main(["dag", "-c", str(write_config(text)), "-o", str(tmp_path / "dags")])
    assert code == 2
    assert time.monotonic() - started < 10
    err = capsys.readouterr().err
    assert "not a workflow file: its aliases (*name) expand to more than 200,000 values" in err


# ---------------------------------------------------------------------------------------------- signals


def start_ingest(path: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_HTTP_REQUEST_TIMEOUT", None)  # the default 30 s: the signal must not wait for it
    return subprocess.Popen([sys.executable, "-m", "workflow.cli.main", "ingest", "-c", str(path)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_stop_signals)


def _default_stop_signals() -> None:
    """The run's stop signals as a terminal would deliver them: a background job (SIGINT) or a `nohup`
    (SIGHUP) starts with them ignored, and `metadata` rightly keeps an ignored signal ignored."""
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_the_first_signal_ends_a_run_stuck_on_a_trickling_mlflow_within_seconds(tmp_path, write_config, signum):
    with HostileServer(mlflow_routes(["a"], listing=trickle(1.0))) as mlflow:
        path = write_config(seed_config(mlflow.url, "http://127.0.0.1:9/api", sink=file_sink(tmp_path)))
        process = start_ingest(path)
        try:
            assert waited(lambda: any(p.endswith("/registered-models/search") for _, p in mlflow.requests[3:]))
            time.sleep(1.0)  # the run is now reading the trickle
            process.send_signal(signum)
            sent = time.monotonic()
            out, err = process.communicate(timeout=30)
            elapsed = time.monotonic() - sent
        finally:
            process.kill()
    assert elapsed < 6, (elapsed, out, err)
    assert process.returncode == 128 + signum, (out, err)
    how = "cancelled by the user" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    assert "Workflow summary" in out and how in out
    assert "Traceback" not in err
    assert os.listdir(tmp_path / "out") == []  # the file sink's temp file is gone, no output written


# ---------------------------------------------------------------------------------- text from servers

TERMINAL_ATTACK = "zz-\x1b]0;PWNED\x07\x1b[2J\x1b[31mRED\u202e"


@pytest.mark.timeout(60)
def test_control_characters_in_server_text_are_shown_escaped(tmp_path, write_config, capsys):
    """MLflow accepts this model name; printed raw it retitled the terminal and cleared the screen."""
    with HostileServer(mlflow_routes([TERMINAL_ATTACK])) as mlflow:
        path = write_config(seed_config(mlflow.url, "http://127.0.0.1:9/api", sink=file_sink(tmp_path)))
        assert cli.main(["ingest", "-c", str(path)]) == 0
    out = capsys.readouterr().out
    assert r"zz-\x1b]0;PWNED\x07\x1b[2J\x1b[31mRED\u202e" in out
    assert not any(c in out for c in "\x1b\x07\u202e")
    written = json.loads((tmp_path / "out" / "models.jsonl").read_text())
    assert written["name"] == TERMINAL_ATTACK  # the data itself is kept as it is


TERMINAL_ERROR = "no access\x1b[2J\x1b]0;PWNED\x07\x1b[31m"
"""An MLflow error message that, printed raw, would clear the screen, retitle the terminal and turn it red."""


def app_on(config: dict, folder: Path):
    """The app on a workflow, with the real engine behind it, as `metadata tui -c` opens one."""
    path = folder / "workflow.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return WorkflowApp(Draft.from_loaded(load_workflow(path)), target=path)


@pytest.mark.timeout(120)
def test_control_characters_in_server_text_are_escaped_in_the_app_s_run_log(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    failing_run = answer({"error_code": "PERMISSION_DENIED", "message": TERMINAL_ERROR}, 403)
    routes = [Route("GET", MLFLOW_API + "/runs/get", failing_run), *mlflow_routes([TERMINAL_ATTACK])]
    with HostileServer(routes) as mlflow:
        app = app_on(seed_config(mlflow.url, "http://127.0.0.1:9/api", sink=file_sink(tmp_path)), tmp_path)

        async def body():
            async with app.run_test(size=(120, 40)) as pilot:
                await goto(pilot, 7)
                await plan_and_run(pilot)
                await wait_for(pilot, lambda: "Finished" in text_of(pilot, "#run-head"), timeout=60, what="the run")
                log = app.screen.query_one(WrappingLog)
                on_screen = log.plain_text() + "\n".join(line.text for line in log.lines)
                assert r"failed    zz-\x1b]0;PWNED\x07\x1b[2J\x1b[31mRED\u202e: " in log.plain_text()
                assert r"no access\x1b[2J\x1b]0;PWNED\x07\x1b[31m" in log.plain_text()
                assert not any(c in on_screen for c in "\x1b\x07\u202e")

        run(body)


@pytest.mark.timeout(120)
def test_control_characters_in_server_text_are_escaped_in_the_app_s_checks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    refusal = answer({"error_code": "INTERNAL_ERROR", "message": TERMINAL_ERROR}, 400)  # a 400 shows its message
    routes = [Route("GET", MLFLOW_API + "/registered-models/search", refusal), *mlflow_routes([])]
    with HostileServer(routes) as mlflow:
        app = app_on(seed_config(mlflow.url, "http://127.0.0.1:9/api", sink=file_sink(tmp_path)), tmp_path)

        async def body():
            async with app.run_test(size=(120, 40)) as pilot:
                await goto(pilot, 5)
                await wait_for(pilot, lambda: "failed" in text_of(pilot, "#check-status"), what="the checks")
                checks = app.screen.query_one(CheckList)
                rendered = "\n".join(str(section.render()) for section in checks.sections.values())
                assert r"no access\x1b[2J\x1b]0;PWNED\x07\x1b[31m" in checks.as_text()
                assert "no access" in rendered and not any(c in checks.as_text() + rendered for c in "\x1b\x07")

        run(body)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("listing", ["names", "error"])
def test_control_characters_in_server_text_are_escaped_in_the_app_s_model_preview(tmp_path, monkeypatch, listing):
    monkeypatch.chdir(tmp_path)
    refusal = answer({"error_code": "INTERNAL_ERROR", "message": TERMINAL_ERROR}, 400)
    routes = [*([Route("GET", MLFLOW_API + "/registered-models/search", refusal)] if listing == "error" else []),
              *mlflow_routes([TERMINAL_ATTACK])]
    with HostileServer(routes) as mlflow:
        app = app_on(seed_config(mlflow.url, "http://127.0.0.1:9/api", sink=file_sink(tmp_path)), tmp_path)

        async def body():
            async with app.run_test(size=(120, 40)) as pilot:
                await goto(pilot, 1)
                await wait_for(pilot, lambda: "…" not in text_of(pilot, "#preview-head"), what="the preview")
                preview = text_of(pilot, "#preview-head") + "\n" + text_of(pilot, "#preview")
                escaped = r"no access\x1b[2J" if listing == "error" else r"zz-\x1b]0;PWNED\x07\x1b[2J\x1b[31mRED\u202e"
                assert escaped in preview
                assert not any(c in preview for c in "\x1b\x07\u202e")

        run(body)


@pytest.mark.timeout(120)
def test_an_echoed_mlflow_password_reaches_neither_the_output_nor_openmetadata(write_config, capsys, monkeypatch):
    password = "hunter2-mlflow-pw"
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "bob")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    echo = answer({"error_code": "INTERNAL_ERROR", "message": f"cannot check user bob with password {password}"}, 400)
    routes = [Route("GET", MLFLOW_API + "/runs/get", echo), *mlflow_routes(["echoed"])]
    fqn = "local_mlflow.nightly"
    with HostileServer(routes) as mlflow, OpenMetadataStandIn() as om:
        path = write_config(seed_config(mlflow.url, om.url, ingestionPipelineFQN=fqn))
        assert cli.main(["ingest", "-c", str(path)]) == 1
        [status] = om.pipeline_statuses[fqn].values()
    captured = capsys.readouterr()
    assert "cannot check user bob with password ***" in captured.out
    assert password not in captured.out + captured.err
    [failure] = status["status"][0]["failures"]
    assert failure["name"] == "echoed" and password not in failure["error"] and "***" in failure["error"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("output", [[], ["--json"]], ids=["text", "json"])
def test_an_echoed_mlflow_password_is_not_shown_by_a_plan(write_config, capsys, monkeypatch, output):
    """`--plan` scrubs what the run does: MLflow's own variables too, not only the config's secrets."""
    password = "hunter2-mlflow-pw"
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "bob")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    echo = answer({"error_code": "INTERNAL_ERROR", "message": f"cannot check user bob with password {password}"}, 400)
    routes = [Route("GET", MLFLOW_API + "/runs/get", echo), *mlflow_routes(["echoed"])]
    with HostileServer(routes) as mlflow, OpenMetadataStandIn() as om:
        path = write_config(seed_config(mlflow.url, om.url))
        assert cli.main(["ingest", "-c", str(path), "--plan", *output]) == 0  # a plan made, one model unread
    captured = capsys.readouterr()
    assert "cannot check user bob with password ***" in captured.out
    assert password not in captured.out + captured.err


@pytest.fixture
def password_in_mlflow_credentials_file(tmp_path, monkeypatch):
    """A password kept only in `~/.mlflow/credentials` (as `mlflow login` or a user writes it), none in
    the environment: HOME points at a temp folder."""
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    password = "kept-in-a-file-pw"
    (tmp_path / "home" / ".mlflow").mkdir(parents=True)
    (tmp_path / "home" / ".mlflow" / "credentials").write_text(
        f"[mlflow]\nmlflow_tracking_username = bob\nmlflow_tracking_password = {password}\n")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return password


def echo_basic_auth(handler, query) -> None:
    """A server that refuses the call and echoes the basic-auth credentials it was sent."""
    header = handler.headers.get("Authorization", "")
    sent = base64.b64decode(header.split()[1]).decode() if header.startswith("Basic ") else "nothing"
    user, _, password = sent.partition(":")
    answer({"error_code": "INTERNAL_ERROR", "message": f"cannot check user {user} with password {password}"}, 400)(
        handler, query)


@pytest.mark.timeout(120)
def test_a_password_from_mlflow_s_credentials_file_is_scrubbed_from_a_run(password_in_mlflow_credentials_file,
                                                                          write_config, capsys):
    password = password_in_mlflow_credentials_file
    routes = [Route("GET", MLFLOW_API + "/runs/get", echo_basic_auth), *mlflow_routes(["echoed"])]
    fqn = "local_mlflow.nightly"
    with HostileServer(routes) as mlflow, OpenMetadataStandIn() as om:
        path = write_config(seed_config(mlflow.url, om.url, ingestionPipelineFQN=fqn))
        assert cli.main(["ingest", "-c", str(path)]) == 1
        assert cli.main(["ingest", "-c", str(path), "--plan"]) == 0
        [status] = om.pipeline_statuses[fqn].values()
    captured = capsys.readouterr()
    assert "cannot check user bob with password ***" in captured.out  # the file's credentials were sent
    assert password not in captured.out + captured.err
    [failure] = status["status"][0]["failures"]
    assert failure["name"] == "echoed" and password not in failure["error"] and "***" in failure["error"]


@pytest.mark.timeout(120)
def test_a_password_from_mlflow_s_credentials_file_is_scrubbed_from_test_connection(
        password_in_mlflow_credentials_file, write_config, capsys):
    routes = [Route("GET", MLFLOW_API + "/registered-models/search", echo_basic_auth), *mlflow_routes([])]
    with HostileServer(routes) as mlflow, OpenMetadataStandIn() as om:
        path = write_config(seed_config(mlflow.url, om.url))
        assert check_cli.main(["-c", str(path)]) == 1
    captured = capsys.readouterr()
    assert "with password ***" in captured.out
    assert password_in_mlflow_credentials_file not in captured.out + captured.err
