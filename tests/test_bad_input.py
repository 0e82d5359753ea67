"""Bad input (issue #8): every malformed workflow file ends in exit code 2 and one message that names
the file, the field or line, and the fix; never a traceback. Nothing here reaches a server: each
case fails while the file is loaded."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from workflow.cli.check import main as check_main
from workflow.cli.main import main
from workflow.document.workflow_file import Workflow
from workflow.document.loader import MAX_FILE_BYTES, load_workflow, parse_workflow
from workflow.document.seed import SEED_YAML

UNSET = "NOT_SET_ANYWHERE_8"
SEED_JSON = json.dumps(yaml.safe_load(SEED_YAML), indent="\t")  # tabs: valid JSON, but not valid YAML


def seed(old: str, new: str) -> str:
    assert old in SEED_YAML
    return SEED_YAML.replace(old, new, 1)


def source_option(line: str) -> str:
    """The seed with one more line under sourceConfig.config (it lands on line 12)."""
    return seed("      type: MlModelMetadata\n", f"      type: MlModelMetadata\n{line}\n")


# (id, file name, content, fragments the message must hold: where, and the fix)
CASES = [
    ("yaml-syntax", "wf.yaml", "source:\n  type: mlflow\n   serviceName: x\n",
     ["wf.yaml:3:15", "YAML syntax error", "check the indentation"]),
    ("yaml-tab-indent", "wf.yaml", seed("  type: mlflow", "\ttype: mlflow"),
     ["wf.yaml:2:1", "'\\t'", "indent with spaces"]),
    ("yaml-two-documents", "wf.yaml", SEED_YAML + "---\n" + SEED_YAML,
     ["wf.yaml:19:1", "single document", "remove the second `---`"]),
    ("yaml-duplicate-key", "wf.yaml", SEED_YAML + "sink:\n  type: file\n  config: {filename: x.jsonl}\n",
     ["wf.yaml:19:1", "'sink' is written twice", "first at line 12", "keep one of them"]),
    ("yaml-nul-character", "wf.yaml", seed("local_mlflow", "local\x00mlflow"),
     ["wf.yaml:3:21", "U+0000", "remove it"]),
    ("json-syntax", "wf.json", SEED_JSON.replace('"mlflow",', '"mlflow"', 1),
     ["wf.json:4:3", "JSON syntax error: Expecting ',' delimiter", "missing or extra comma"]),
    ("json-unknown-key", "wf.json", SEED_JSON.replace('"serviceName"', '"servicename"'),
     ["wf.json:4:3", "source.servicename: unknown key", "did you mean 'serviceName'?"]),
    ("json-array", "wf.json", "[1, 2, 3]\n",
     ["found a list", "expected a mapping with source, sink and workflowConfig", "sample in the README"]),
    ("json-scalar", "wf.json", '"source"\n', ["found a single text value", "sample in the README"]),
    ("json-null", "wf.json", "null\n", ["holds only null", "metadata tui"]),
    ("empty", "wf.yaml", "", ["the file is empty", "sample in the README", "metadata tui"]),
    ("only-comments", "wf.yaml", "# TODO\n\n   \n", ["the file is empty", "metadata tui"]),
    ("unknown-key", "wf.yaml", seed("  serviceName:", "  serviceNme:"),
     ["wf.yaml:3:3", "source.serviceNme: unknown key", "did you mean 'serviceName'?"]),
    ("threshold-not-a-number", "wf.yaml", SEED_YAML + '  successThreshold: "abc"\n',
     ["wf.yaml:19:3", "workflowConfig.successThreshold", "valid integer", "'abc'", "from 0 to 100"]),
    ("threshold-above-100", "wf.yaml", SEED_YAML + "  successThreshold: 150\n",
     ["wf.yaml:19:3", "workflowConfig.successThreshold", "less than or equal to 100", "(found 150)", "from 0 to 100"]),
    ("threshold-below-0", "wf.yaml", SEED_YAML + "  successThreshold: -1\n",
     ["wf.yaml:19:3", "greater than or equal to 0", "from 0 to 100"]),
    ("bool-maybe", "wf.yaml", source_option("      markDeletedMlModels: maybe"),
     ["wf.yaml:12:7", "sourceConfig.config.markDeletedMlModels", "valid boolean", "'maybe'",
      "`markDeletedMlModels: true` or `markDeletedMlModels: false`"]),
    ("name-read-as-number", "wf.yaml", seed("serviceName: local_mlflow", "serviceName: 123"),
     ["wf.yaml:3:3", "source.serviceName", "valid string", 'put it in quotes, for example serviceName: "123"']),
    ("logger-level-case", "wf.yaml", SEED_YAML + "  loggerLevel: debug\n",
     ["wf.yaml:19:3", "'debug' is not allowed", "did you mean 'DEBUG'?"]),
    ("includes-not-a-list", "wf.yaml", source_option("      mlModelFilterPattern: {includes: prod}"),
     ["wf.yaml:12:", "mlModelFilterPattern.includes", "valid list", 'includes: ["prod"]']),
    ("source-type-typo", "wf.yaml", seed("  type: mlflow", "  type: mlfow"),
     ["wf.yaml:2:3", "source.type: 'mlfow' is not allowed", "did you mean 'mlflow'?"]),
    ("source-type-other", "wf.yaml", seed("  type: mlflow", "  type: mysql"),
     ["wf.yaml:2:3", "source.type: 'mysql' is not allowed", "write `type: mlflow`"]),
    ("sink-type-unknown", "wf.yaml", seed("type: metadata-rest", "type: console"),
     ["wf.yaml:13:3", "sink.type: 'console' is not a sink type", "metadata-rest and file",
      "`type: metadata-rest` to send to OpenMetadata, or `type: file`"]),
    ("sink-type-typo", "wf.yaml", seed("type: metadata-rest", "type: metadata_rest"),
     ["wf.yaml:13:3", "sink.type", "did you mean 'metadata-rest'?"]),
    ("sink-type-missing", "wf.yaml", seed("sink:\n  type: metadata-rest\n  config: {}\n", "sink: {}\n"),
     ["wf.yaml:12:1", "sink.type: required key is missing", "`type: metadata-rest`"]),
    ("hostport-no-scheme", "wf.yaml", seed("hostPort: http://localhost:8585/api", "hostPort: localhost:8585/api"),
     ["wf.yaml:17:5", "openMetadataServerConfig.hostPort", "has no scheme",
      "did you mean 'http://localhost:8585/api'?"]),
    ("tracking-host-port", "wf.yaml", seed("trackingUri: http://localhost:5000", "trackingUri: localhost:5000"),
     ["wf.yaml:7:7", "config.trackingUri: 'localhost:5000' has no scheme", "did you mean 'http://localhost:5000'?"]),
    ("tracking-ip-port", "wf.yaml", seed("trackingUri: http://localhost:5000", "trackingUri: 127.0.0.1:5000"),
     ["wf.yaml:7:7", "trackingUri", "did you mean 'http://127.0.0.1:5000'?"]),
    ("tracking-not-a-uri", "wf.yaml", seed("trackingUri: http://localhost:5000", "trackingUri: not a uri"),
     ["wf.yaml:7:7", "trackingUri: 'not a uri' is neither a URI nor a folder path", "http://host:5000",
      "sqlite:///mlflow.db", "./mlruns"]),
    ("tracking-no-host", "wf.yaml", seed("trackingUri: http://localhost:5000", "trackingUri: 'http:/localhost:5000'"),
     ["wf.yaml:7:7", "has no host name", "for example http://localhost:5000"]),
    ("registry-scheme-typo", "wf.yaml", seed("mysql+pymysql://", "postgres://"),
     ["wf.yaml:8:7", "registryUri: MLflow has no store for the URI scheme 'postgres'",
      "did you mean 'postgresql://mlflow:***@localhost:3307/experiments'?"]),
    ("regex-includes", "wf.yaml", source_option("      mlModelFilterPattern:\n        includes: ['model[']"),
     ["wf.yaml:13:20", "mlModelFilterPattern.includes.0: invalid regular expression 'model['",
      "unterminated character set", "put a backslash before"]),
    ("regex-excludes", "wf.yaml", source_option("      mlModelFilterPattern:\n        excludes: [ok, '*bad']"),
     ["wf.yaml:13:24", "mlModelFilterPattern.excludes.1: invalid regular expression '*bad'", "nothing to repeat",
      "put a backslash before"]),
    ("unset-variable", "wf.yaml", seed("http://localhost:5000", "${%s}" % UNSET),
     ["wf.yaml:7:7", f"environment variable {UNSET} is not set", f"export {UNSET}=..."]),
    ("reference-default", "wf.yaml", seed("http://localhost:5000", "${MLFLOW_URI:-http://localhost:5000}"),
     ["wf.yaml:7:7", "trackingUri: '${MLFLOW_URI:-http://localhost:5000}': defaults and other shell forms are not "
      "supported", "write ${MLFLOW_URI} and set MLFLOW_URI before running"]),
    ("reference-not-a-name", "wf.yaml", seed("http://localhost:5000", "'http://${X\"\"\"; __import__(\"os\").system(\"id\")}'"),
     ["wf.yaml:7:7", "trackingUri: ", "is not a variable reference: a name holds only letters, digits and _"]),
    ("five-megabytes", "wf.yaml", SEED_YAML + "#" + "x" * (5 * 1024 * 1024) + "\n",
     ["5.2 MB, too big for a workflow file (the limit is 1 MB)", "check that -c names the workflow YAML"]),
    ("latin-1", "wf.yaml", seed("local_mlflow", "local_ml\xe9flow").encode("latin-1"),
     ["wf.yaml:3:24", "not UTF-8 text: byte 0xe9 at byte offset 46", "save the file as UTF-8"]),
    ("utf-16", "wf.yaml", SEED_YAML.encode("utf-16"), ["wf.yaml:1:1", "byte offset 0", "save it as UTF-8"]),
    ("name-double-colon", "wf.yaml", seed("serviceName: local_mlflow", "serviceName: ml::prod"),
     ["wf.yaml:3:3", "source.serviceName: must not contain '::'", "OpenMetadata refuses", "for example 'ml_prod'"]),
    ("name-greater-than", "wf.yaml", seed("serviceName: local_mlflow", "serviceName: ml>prod"),
     ["wf.yaml:3:3", "must not contain '>'", "for example 'ml_prod'"]),
    ("name-double-quote", "wf.yaml", seed("serviceName: local_mlflow", "serviceName: 'ml\"prod'"),
     ["wf.yaml:3:3", 'must not contain a double quote (")', "for example 'ml_prod'"]),
    ("name-tab", "wf.yaml", seed("serviceName: local_mlflow", 'serviceName: "ml\\tprod"'),
     ["wf.yaml:3:3", "must not contain a tab", "for example 'ml_prod'"]),
    ("name-edge-spaces", "wf.yaml", seed("serviceName: local_mlflow", "serviceName: ' local_mlflow '"),
     ["wf.yaml:3:3", "must not start or end with a space", "write 'local_mlflow'"]),
    ("name-too-long", "wf.yaml", seed("serviceName: local_mlflow", "serviceName: " + "m" * 257),
     ["wf.yaml:3:3", "is 257 characters long: OpenMetadata allows at most 256", "shorter name"]),
]
FIXED_IDS = [case[0] for case in CASES]
SPECIAL = ["directory", "missing-file"]


def prepare(tmp_path: Path, case_id: str) -> tuple[Path, list[str]]:
    """Write the case's file (or make the folder) and return its path and expected fragments."""
    if case_id == "directory":
        path = tmp_path / "workflows.yaml"
        path.mkdir()
        return path, ["is a directory, not a workflow file", "pass the YAML file itself"]
    if case_id == "missing-file":
        return tmp_path / "absent.yaml", ["no such file", "check the path", "metadata tui"]
    _, name, content, expected = next(case for case in CASES if case[0] == case_id)
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path, expected


def assert_explained(code: int, out: str, err: str, path: Path, expected: list[str]) -> None:
    assert code == 2, err
    assert "Traceback" not in out + err
    assert out == ""
    assert err.startswith(f"Error: {path}"), err  # the file is named first, with the line when there is one
    missing = [fragment for fragment in expected if fragment not in err]
    assert not missing, f"{missing} not in:\n{err}"
    assert "password" not in err  # the seed's registryUri holds one: never echoed


@pytest.fixture(autouse=True)
def _no_unset_variable(monkeypatch):
    monkeypatch.delenv(UNSET, raising=False)


@pytest.mark.parametrize("case_id", FIXED_IDS + SPECIAL)
def test_ingest_explains_bad_input_with_exit_2(tmp_path, capsys, case_id):
    path, expected = prepare(tmp_path, case_id)
    started = time.monotonic()
    code = main(["ingest", "-c", str(path)])
    captured = capsys.readouterr()
    assert_explained(code, captured.out, captured.err, path, expected)
    assert time.monotonic() - started < 1.0  # the 5 MB file too: refused before it is parsed


SUBPROCESS_CASES = ["yaml-syntax", "json-array", "five-megabytes", "latin-1", "tracking-host-port",
                    "unset-variable", "directory"]


def test_the_real_command_prints_the_same_message_and_no_traceback(tmp_path, capsys):
    """Through `.venv/bin/metadata`, in parallel: the same stderr as in-process, exit 2, nothing else."""
    metadata = Path(sys.executable).with_name("metadata")
    runs = []
    for case_id in SUBPROCESS_CASES:
        folder = tmp_path / case_id
        folder.mkdir()
        path, expected = prepare(folder, case_id)
        process = subprocess.Popen([str(metadata), "ingest", "-c", str(path)], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        runs.append((case_id, path, expected, process))
    for case_id, path, expected, process in runs:
        out, err = process.communicate(timeout=60)
        assert_explained(process.returncode, out, err, path, expected)
        main(["ingest", "-c", str(path)])
        assert capsys.readouterr().err == err, case_id


@pytest.mark.parametrize("case_id", ["yaml-duplicate-key", "tracking-not-a-uri", "name-double-colon", "directory"])
def test_test_connection_gives_the_same_error(tmp_path, capsys, case_id):
    path, expected = prepare(tmp_path, case_id)
    main(["ingest", "-c", str(path)])
    ingest_err = capsys.readouterr().err
    code = main(["test-connection", "-c", str(path)])
    captured = capsys.readouterr()
    assert_explained(code, captured.out, captured.err, path, expected)
    assert captured.err == ingest_err
    assert check_main(["-c", str(path)]) == 2


@pytest.mark.parametrize("case_id", ["yaml-syntax", "json-array", "five-megabytes", "latin-1", "directory"])
def test_the_tui_refuses_a_bad_file_before_opening(tmp_path, capsys, monkeypatch, case_id):
    """`metadata tui -c FILE` reads the file first: one that holds no mapping to edit gives the same message
    and exit 2. (A mapping with wrong values or unset variables opens, to be fixed: test_tui_daily_use.py.)"""
    tui_app = pytest.importorskip("tui.app")

    def never(*args, **kwargs):
        raise AssertionError("the app must not open on a bad file")

    monkeypatch.setattr(tui_app.WorkflowApp, "run", never)
    path, expected = prepare(tmp_path, case_id)
    code = main(["tui", "-c", str(path)])
    captured = capsys.readouterr()
    assert_explained(code, captured.out, captured.err, path, expected)


# ------------------------------------------------------------------------------------------ accepted


def test_json_workflow_loads_like_its_yaml_even_indented_with_tabs(tmp_path):
    path = tmp_path / "wf.json"
    path.write_text(SEED_JSON)
    loaded = load_workflow(path, environ={})
    assert loaded.config == parse_workflow(SEED_YAML, environ={}).config
    from tui.draft import Draft

    assert Draft.from_loaded(loaded).check(environ={}).config == loaded.config


def test_a_byte_order_mark_and_a_file_at_the_limit_load(tmp_path):
    path = tmp_path / "wf.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + SEED_YAML.encode())
    assert load_workflow(path, environ={}).config.source.serviceName == "local_mlflow"
    padding = MAX_FILE_BYTES - len(SEED_YAML.encode()) - 2
    path.write_text(SEED_YAML + "#" + "x" * padding + "\n")
    assert path.stat().st_size == MAX_FILE_BYTES
    assert load_workflow(path, environ={}).config.source.serviceName == "local_mlflow"


@pytest.mark.parametrize("uri", [
    "http://localhost:5000", "https://mlflow.example.com", "sqlite:///mlflow.db", "./mlruns", "mlruns",
    "/srv/my runs/mlruns", "~/mlruns", "file:///srv/mlruns", "databricks", "databricks://profile", "databricks-uc",
    "uc:http://localhost:8080", "mysql+pymysql://u:p@db:3307/mlflow", "postgresql://db/mlflow", "mssql://db/mlflow",
    "C:\\mlruns", "someplugin://store",
])
def test_mlflow_uris_mlflow_can_open_are_accepted(uri):
    data = yaml.safe_load(SEED_YAML)
    data["source"]["serviceConnection"]["config"].update(trackingUri=uri, registryUri=uri)
    assert Workflow.model_validate(data).mlflow.trackingUri == uri


@pytest.mark.parametrize("name", ["ml platform", "my.service", "svc-1_ü", "a:b", "<tag", "m" * 256])
def test_service_names_openmetadata_takes_are_accepted(name):
    data = yaml.safe_load(SEED_YAML)
    data["source"]["serviceName"] = name
    assert Workflow.model_validate(data).source.serviceName == name


@pytest.mark.timeout(20)
def test_a_named_pipe_is_refused_at_once(tmp_path, capsys):
    """Opening a FIFO nobody writes to waits for ever: `-c` on one blocked until a signal."""
    fifo = tmp_path / "workflow.yaml"
    os.mkfifo(fifo)
    started = time.monotonic()
    assert main(["ingest", "-c", str(fifo)]) == 2
    assert time.monotonic() - started < 2
    err = capsys.readouterr().err
    assert f"Error: {fifo}: is a named pipe or socket, not a workflow file" in err
