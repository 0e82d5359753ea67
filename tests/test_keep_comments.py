"""Saving over a workflow file keeps what the user wrote in it: comments, blank lines, key order and
quoting stay, only the values that changed change, and the file loads exactly as a fresh write would.
Files that cannot be edited safely (JSON, anchors, not a mapping, ...) are written anew, still right.
Real files in tmp_path, no mocks."""
from __future__ import annotations

import difflib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.app_pilot import FIXED_YAML, fixed_app, goto, run, text_of, type_into, wait_for
from workflow.document.loader import MAX_FILE_BYTES, LoadedWorkflow, load_workflow
from workflow.document.seed import SEED_YAML
from workflow.document.writer import keeps_layout, write_workflow
from workflow.document.yaml_text import to_yaml

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJpbmdlc3Rpb24tYm90In0.c2lnbmF0dXJl"
ENV = {"MLFLOW_URI": "http://mlflow.internal:5000", "OM_TOKEN": TOKEN}

HAND_WRITTEN = """\
# MLflow models into OpenMetadata: the nightly run.
# Owner: ml-platform team.

source:
  # the service as OpenMetadata shows it
  serviceName: "ml_platform"   # quoted on purpose
  type: mlflow
  serviceConnection:
    config:
      type: Mlflow
      trackingUri: ${MLFLOW_URI}   # set by the scheduler
      registryUri: http://mlflow.internal:5000

  sourceConfig:
    config:
      type: MlModelMetadata
      markDeletedMlModels: false   # keep models removed from MLflow
      mlModelFilterPattern:        # production models only
        includes:
        - prod-.*
      # lineage is managed elsewhere

sink:
  type: metadata-rest
  config: {}

workflowConfig:
  loggerLevel: DEBUG               # noisy while we settle in
  openMetadataServerConfig:
    authProvider: openmetadata
    hostPort: 'http://openmetadata.internal:8585/api'
    securityConfig:
      jwtToken: ${OM_TOKEN}        # never inline
"""
"""Written by hand: comments everywhere, blank lines, quotes, keys not in the seed's order, references."""

FLOW_STYLE = """\
# kept above the document start
--- # the workflow
source:
  type: mlflow
  serviceName: "docs_svc"
  serviceConnection:
    config: {type: Mlflow, trackingUri: "http://127.0.0.1:15000", registryUri: "http://127.0.0.1:15000"}
  sourceConfig:
    config: {type: MlModelMetadata, markDeletedMlModels: true, mlModelFilterPattern: {excludes: ["modelC.*"]}}
sink: {type: metadata-rest, config: {}}
workflowConfig:
  loggerLevel: INFO
  openMetadataServerConfig: {hostPort: "http://localhost:8585/api", authProvider: no-auth}
...
# kept after the document end
"""
"""The official docs' style: flow mappings and lists, double quotes, explicit document markers."""


def save_over(path: Path, loaded: LoadedWorkflow) -> str:
    write_workflow(path, loaded.config, references=loaded.references, overwrite=True)
    return path.read_text(encoding="utf-8")


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """(lines removed, lines added): every other line is byte for byte the same, in the same order."""
    diff = list(difflib.ndiff(before.splitlines(keepends=True), after.splitlines(keepends=True)))
    return [d[2:] for d in diff if d.startswith("- ")], [d[2:] for d in diff if d.startswith("+ ")]


def assert_loads_as_a_fresh_write(path: Path, loaded: LoadedWorkflow, tmp_path: Path) -> None:
    """The edited file loads to exactly the config and references that writing from scratch gives."""
    fresh = write_workflow(tmp_path / "fresh" / "from-scratch.yaml", loaded.config, references=loaded.references)
    expected, got = load_workflow(fresh, ENV), load_workflow(path, ENV)
    assert got.config == expected.config == loaded.config
    assert got.references == expected.references


def hand_written(tmp_path: Path, text: str = HAND_WRITTEN) -> tuple[Path, LoadedWorkflow]:
    path = tmp_path / "workflow.yaml"
    path.write_text(text, encoding="utf-8")
    return path, load_workflow(path, ENV)


def test_changing_values_keeps_every_comment_blank_line_and_untouched_line(tmp_path):
    path, loaded = hand_written(tmp_path)
    loaded.config.source.serviceName = "nightly"
    loaded.config.source.sourceConfig.config.mlModelFilterPattern.includes = ["prod-.*", "staging-.*"]
    assert keeps_layout(path, loaded.config, loaded.references)

    text = save_over(path, loaded)

    removed, added = changed_lines(HAND_WRITTEN, text)
    assert removed == ['  serviceName: "ml_platform"   # quoted on purpose\n']
    assert added == ['  serviceName: "nightly"       # quoted on purpose\n', "        - staging-.*\n"]
    original = HAND_WRITTEN.splitlines()
    assert [line for line in text.splitlines() if not line.strip() or line.strip().startswith("#")] == \
        [line for line in original if not line.strip() or line.strip().startswith("#")]
    assert "trackingUri: ${MLFLOW_URI}   # set by the scheduler\n" in text
    assert_loads_as_a_fresh_write(path, loaded, tmp_path)


def test_a_key_back_at_its_default_goes_with_its_inline_comment_and_a_new_key_is_appended(tmp_path):
    path, loaded = hand_written(tmp_path)
    options = loaded.config.source.sourceConfig.config
    options.mlModelFilterPattern = None  # the default: to_yaml leaves it out
    options.overrideMetadata = True  # not in the file: appended at the end of its mapping

    text = save_over(path, loaded)

    removed, added = changed_lines(HAND_WRITTEN, text)
    assert removed == ["      mlModelFilterPattern:        # production models only\n",
                       "        includes:\n", "        - prod-.*\n"]
    assert added == ["      overrideMetadata: true\n"]
    assert "overrideMetadata: true\n      # lineage is managed elsewhere\n\nsink:\n" in text
    assert_loads_as_a_fresh_write(path, loaded, tmp_path)


INDENTED_LISTS = HAND_WRITTEN.replace("\n        - prod-.*\n", "\n          - prod-.*\n")
"""List items indented under their key (`  - x`), as many people and editors write them."""
FOUR_SPACES = yaml.safe_dump(yaml.safe_load(HAND_WRITTEN.replace("${MLFLOW_URI}", "http://m:5000")
                                            .replace("${OM_TOKEN}", "$$OM")), indent=4, sort_keys=False)
"""Mappings indented by four spaces."""


@pytest.mark.parametrize("text", [SEED_YAML, HAND_WRITTEN, FLOW_STYLE, INDENTED_LISTS, FOUR_SPACES],
                         ids=["seed", "hand-written", "flow-style", "indented-lists", "four-spaces"])
def test_a_save_with_no_change_leaves_the_file_byte_for_byte(tmp_path, text):
    path, loaded = hand_written(tmp_path, text)
    assert keeps_layout(path, loaded.config, loaded.references)
    assert save_over(path, loaded) == text
    assert_loads_as_a_fresh_write(path, loaded, tmp_path)


def test_a_file_with_windows_line_endings_keeps_them(tmp_path):
    """The same edit as in a file with \\n endings, each line still ending in \\r\\n."""
    saved = {}
    for endings in ("\n", "\r\n"):
        path = tmp_path / f"workflow-{len(endings)}.yaml"
        path.write_bytes(HAND_WRITTEN.replace("\n", endings).encode())
        loaded = load_workflow(path, ENV)
        loaded.config.source.serviceName = "nightly"
        write_workflow(path, loaded.config, references=loaded.references, overwrite=True)
        saved[endings] = path.read_bytes().decode()
    assert saved["\r\n"] == saved["\n"].replace("\n", "\r\n") and '"nightly"' in saved["\n"]


def test_a_changed_value_in_flow_style_keeps_the_flow_style_and_the_document_markers(tmp_path):
    path, loaded = hand_written(tmp_path, FLOW_STYLE)
    loaded.config.source.sourceConfig.config.mlModelFilterPattern.excludes = ["modelC.*", "modelD.*"]

    removed, added = changed_lines(FLOW_STYLE, save_over(path, loaded))

    assert removed == ['    config: {type: MlModelMetadata, markDeletedMlModels: true, mlModelFilterPattern: '
                       '{excludes: ["modelC.*"]}}\n']
    assert added == ["    config: {type: MlModelMetadata, markDeletedMlModels: true, mlModelFilterPattern: "
                     "{excludes: [modelC.*, modelD.*]}}\n"]
    assert_loads_as_a_fresh_write(path, loaded, tmp_path)


UNSAFE = {
    "json-content": '{"source": {"type": "mlflow"}}\n',
    "anchor-and-alias": "# shared\nuri: &uri http://localhost:5000\nsource:\n  serviceName: *uri\n",
    "tag": "# tagged\nsource: !!map\n  serviceName: local_mlflow\n",
    "not-a-mapping": "# a list\n- source\n- sink\n",
    "two-documents": "a: 1\n---\nb: 2\n",
    "invalid-yaml": "source: [unclosed\n",
    "empty": "",
}


@pytest.mark.parametrize("content", list(UNSAFE.values()), ids=list(UNSAFE))
def test_a_file_that_cannot_be_edited_safely_is_written_anew(tmp_path, content):
    path = tmp_path / "workflow.yaml"
    path.write_text(content, encoding="utf-8")
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED_YAML, encoding="utf-8")
    loaded = load_workflow(seed, {})
    assert not keeps_layout(path, loaded.config, loaded.references)

    assert save_over(path, loaded) == SEED_YAML
    assert_loads_as_a_fresh_write(path, loaded, tmp_path)


def test_a_file_not_in_utf8_or_over_the_size_limit_is_written_anew(tmp_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED_YAML, encoding="utf-8")
    loaded = load_workflow(seed, {})
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("# café\n".encode("latin-1") + SEED_YAML.encode())
    huge = tmp_path / "huge.yaml"
    huge.write_text("# " + "x" * MAX_FILE_BYTES + "\n" + SEED_YAML, encoding="utf-8")
    for path in (latin1, huge):
        assert not keeps_layout(path, loaded.config, loaded.references)
        assert save_over(path, loaded) == SEED_YAML


def test_a_value_yaml_1_1_reads_differently_is_never_left_unquoted(tmp_path):
    """ruamel reads `on` as text, our loader (YAML 1.1) as true: keeping the line would break the file,
    so it is written anew, with the name in quotes."""
    path, loaded = hand_written(tmp_path, SEED_YAML)
    path.write_text(SEED_YAML.replace("serviceName: local_mlflow", "serviceName: on  # odd"), encoding="utf-8")
    loaded.config.source.serviceName = "on"
    assert not keeps_layout(path, loaded.config, loaded.references)

    assert save_over(path, loaded) == to_yaml(loaded.config)
    assert load_workflow(path, {}).config.source.serviceName == "on"
    assert_loads_as_a_fresh_write(path, loaded, tmp_path)


def test_an_inline_secret_is_written_over_a_reference_privately_with_the_comments_kept(tmp_path):
    path, loaded = hand_written(tmp_path)
    os.chmod(path, 0o644)
    del loaded.references[("workflowConfig", "openMetadataServerConfig", "securityConfig", "jwtToken")]

    text = save_over(path, loaded)

    assert changed_lines(HAND_WRITTEN, text) == (["      jwtToken: ${OM_TOKEN}        # never inline\n"],
                                                 [f"      jwtToken: {TOKEN} # never inline\n"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_workflow(path, {"MLFLOW_URI": ENV["MLFLOW_URI"]}).config.openmetadata.securityConfig.jwtToken \
        .get_secret_value() == TOKEN


def test_an_inline_secret_stays_as_it_was_and_a_reference_stays_a_reference(tmp_path):
    inline = HAND_WRITTEN.replace("jwtToken: ${OM_TOKEN}        # never inline",
                                  f"jwtToken: {TOKEN}  # the ingestion bot's")
    path, loaded = hand_written(tmp_path, inline)
    os.chmod(path, 0o644)
    loaded.config.source.serviceName = "nightly"
    text = save_over(path, loaded)
    assert f"      jwtToken: {TOKEN}  # the ingestion bot's\n" in text
    assert changed_lines(inline, text)[0] == ['  serviceName: "ml_platform"   # quoted on purpose\n']
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    (tmp_path / "ref").mkdir()
    path, loaded = hand_written(tmp_path / "ref")
    loaded.config.source.serviceName = "nightly"
    text = save_over(path, loaded)
    assert "      jwtToken: ${OM_TOKEN}        # never inline\n" in text and TOKEN not in text
    assert load_workflow(path, ENV).references[
        ("workflowConfig", "openMetadataServerConfig", "securityConfig", "jwtToken")] == "${OM_TOKEN}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


COMMENTED_FIXED = (FIXED_YAML
                   .replace("source:\n", "# Edited by hand: keep these notes.\n\nsource:\n", 1)
                   .replace("  serviceName: ml_platform\n", "  serviceName: ml_platform   # as OpenMetadata shows it\n")
                   .replace("sink:\n", "\n# where the models go\nsink:\n"))


def test_saving_in_the_app_keeps_the_comments_and_the_review_does_not_say_they_are_lost(monkeypatch, tmp_path):
    app = fixed_app(monkeypatch, tmp_path, on_disk=True)
    Path("workflow.yaml").write_text(COMMENTED_FIXED, encoding="utf-8")

    async def body():
        async with app.run_test(size=(100, 40)) as pilot:
            screen = app.screen
            await type_into(pilot, "#input-serviceName", "renamed")
            await goto(pilot, 4)
            await wait_for(pilot, lambda: "Changes to workflow.yaml" in text_of(pilot, "#diff-head"))
            assert "rewritten" not in text_of(pilot, "#diff-head")
            await goto(pilot, 6)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: app.screen is not screen, what="the confirmation")
            await pilot.press("y")
            await wait_for(pilot, lambda: "✓ Wrote" in text_of(pilot, "#write-result"))

    run(body)
    removed, added = changed_lines(COMMENTED_FIXED, (tmp_path / "workflow.yaml").read_text(encoding="utf-8"))
    assert (removed, added) == (["  serviceName: ml_platform   # as OpenMetadata shows it\n"],
                                ["  serviceName: renamed       # as OpenMetadata shows it\n"])


def test_the_review_says_when_the_layout_will_be_rewritten(monkeypatch, tmp_path):
    app = fixed_app(monkeypatch, tmp_path, on_disk=True)
    anchored = FIXED_YAML.replace("trackingUri: http://mlflow.example:5000",
                                  "trackingUri: &uri http://mlflow.example:5000")
    Path("workflow.yaml").write_text(anchored.replace("registryUri: http://mlflow.example:5000", "registryUri: *uri"))

    async def body():
        async with app.run_test(size=(100, 40)) as pilot:
            await goto(pilot, 4)
            await wait_for(pilot, lambda: "workflow.yaml." in text_of(pilot, "#diff-head"))
            assert text_of(pilot, "#diff-head") == \
                "No changes to the settings in workflow.yaml. (its comments and layout will be rewritten)"

    run(body)


def test_metadata_help_and_the_app_s_steps_do_not_import_ruamel():
    """ruamel.yaml is imported only when a file is saved over: start-up time matters."""
    code = ("import sys, contextlib, io, workflow.document.writer, tui.steps.review, tui.steps.write\n"
            "from workflow.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit): main(['--help'])\n"
            "print(sorted(m for m in sys.modules if m.startswith('ruamel')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"
