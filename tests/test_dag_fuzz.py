"""`metadata dag` against hostile workflows: no YAML content or file name can leave a string literal.

A seeded generator fills every field value, `${VAR}` name and the file name with quotes, triple quotes,
backslashes, `\\N`, NUL, U+0085, U+2028, line breaks and random unicode. Each DAG must compile, carry
the workflow back unchanged, and, imported with a stub `airflow` package (recorders for DAG, Variable
and the operators), do nothing but define the DAG: no process, file, socket or import beyond its own.

`FUZZ_CASES=20000 pytest tests/test_dag_fuzz.py` runs a longer fuzz than the suite's default.
"""
from __future__ import annotations

import ast
import datetime as dt
import os
import random
import re
import sys
import textwrap
import types
from pathlib import Path

import pytest
import yaml

from tests.support.workflows import seed_config
from workflow.cli.dag import main
from workflow.dags.dag_file import embed_workflow, python_literal, render_dag
from workflow.document.variables import KeepUnsetReferences
from workflow.document.workflow_file import fqn_part
from workflow.document.loader import LoadedWorkflow, parse_workflow
from workflow.errors import ConfigError

CASES = int(os.environ.get("FUZZ_CASES", "1500"))
HOSTILE = ['"""', "'''", '"', "'", "\\", "\\N", "\\N{BULLET}", "\x00", "\x85", "\u2028", "\u2029", "\n", "\r",
           "\r\n", "\t", "\x0b", "\x0c", "\x1b]0;x\x07", "$", "$$", "#", "%s", "{x}", "\ufeff", "\U0001f600",
           ")\nimport os; os.system('id')  #", '"""; __import__("os").system("id") #', "\ud7ff", "é", " "]
SIDE_EFFECTS = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "subprocess.Popen", "open",
                "socket.connect", "socket.bind", "os.remove", "os.rename", "os.mkdir", "shutil", "ctypes", "pty")
"""Audit events (PEP 578) a DAG definition has no business raising."""


def hostile_text(rng: random.Random, size: int = 12) -> str:
    parts = []
    for _ in range(rng.randint(0, size)):
        pick = rng.random()
        if pick < 0.5:
            parts.append(rng.choice(HOSTILE))
        elif pick < 0.8:
            parts.append(chr(rng.choice([rng.randint(0x20, 0x7e), rng.randint(0xa0, 0xd7ff), rng.randint(0xe000, 0x10ffff)])))
        else:
            parts.append(chr(rng.randint(0, 0x1f)))
    return "".join(parts)


def hostile_name(rng: random.Random) -> str:
    """A file name: anything but '/' and NUL, at most 200 bytes."""
    name = hostile_text(rng).replace("/", "_").replace("\x00", "_") or "x"
    while len(name.encode("utf-8", "surrogatepass")) > 200:
        name = name[:-1]
    return name + ".yaml"


def reference_name(rng: random.Random) -> str:
    """Mostly a valid name (kept in the DAG), sometimes any text (refused by the loader)."""
    if rng.random() < 0.8:
        return rng.choice("ABCxyz_") + "".join(rng.choice("AZaz09_") for _ in range(rng.randint(0, 8)))
    return hostile_text(rng, 4).replace("}", "")


def hostile_workflow(rng: random.Random) -> dict:
    """The seed's workflow with hostile text in every value, within what the config accepts: the
    service name keeps to what OpenMetadata takes (no control characters, double quotes, '>' or '/'),
    URLs hold no whitespace, the pipeline is one of the service's and the filter compiles."""
    text = lambda: hostile_text(rng)  # noqa: E731
    in_url = lambda: "".join(c for c in text() if not c.isspace())  # noqa: E731
    reference = lambda: f"${{{reference_name(rng)}}}" if rng.random() < 0.3 else ""  # noqa: E731
    service = "".join(c for c in text() if c >= " " and c not in '">/').replace("::", ":").strip() or "svc"
    service += reference()
    data = seed_config(f"http://mlflow.example:5000/{in_url()}{reference()}", f"http://om.example/{in_url()}{reference()}",
                       **{"source.serviceName": service,
                          "source.sourceConfig.config.mlModelFilterPattern": {"includes": [re.escape(text()) + reference()]},
                          "workflowConfig.openMetadataServerConfig.authProvider": "openmetadata",
                          "workflowConfig.openMetadataServerConfig.securityConfig": {"jwtToken": text() + reference()},
                          "workflowConfig.openMetadataServerConfig.extraHeaders": {"X-" + str(rng.random()): text()},
                          "ingestionPipelineFQN": f"{fqn_part(service)}.{text() or 'p'}{reference()}"})
    if rng.random() < 0.5:
        data["source"]["serviceConnection"]["config"]["registryUri"] = f"mysql://u:{in_url()}@db/{in_url()}"
    return data


class Recorder:
    """Stands for Airflow's DAG, Variable and operators: records what the DAG file builds."""

    made: list[tuple[str, dict]] = []

    def __init__(self, *args, **kwargs):
        Recorder.made.append((type(self).__name__, kwargs))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    @staticmethod
    def get(name, default=None):
        Recorder.made.append(("Variable.get", {"name": name}))
        return default


@pytest.fixture(scope="module")
def stub_airflow():
    """An `airflow` package of recorders in `sys.modules`, in place before any DAG runs."""
    classes = {"airflow.sdk": ["DAG", "Variable"],
               "airflow.providers.standard.operators.python": ["PythonOperator", "PythonVirtualenvOperator"]}
    stubs: dict[str, types.ModuleType] = {}
    for module, names in classes.items():
        parts = module.split(".")
        for depth in range(1, len(parts) + 1):
            name = ".".join(parts[:depth])
            if name not in stubs:
                stubs[name] = types.ModuleType(name)
                if depth > 1:
                    setattr(stubs[".".join(parts[:depth - 1])], parts[depth - 1], stubs[name])
        for name in names:
            setattr(stubs[module], name, type(name, (Recorder,), {"__module__": module}))
    sys.modules.update(stubs)

    events: list[str] = []
    watching = [False]

    def audit(event: str, args: tuple) -> None:
        if watching[0] and event.startswith(SIDE_EFFECTS):
            events.append(event)

    sys.addaudithook(audit)  # cannot be removed; it records only while `watching`
    yield events, watching
    for name in [m for m in sys.modules if m == "airflow" or m.startswith("airflow.")]:
        del sys.modules[name]


def import_dag(source: str, stub_airflow) -> dict:
    """Run a DAG file as Airflow's import would; return its namespace. Fails on any side effect."""
    events, watching = stub_airflow
    code = compile(source, "dag.py", "exec", dont_inherit=True)
    Recorder.made.clear()
    namespace: dict = {"__name__": "fuzzed_dag"}
    watching[0] = True
    try:
        exec(code, namespace)  # noqa: S102 - the point of the test
    finally:
        watching[0] = False
    assert events == [], f"importing the DAG did {events}"
    return namespace


def embedded(source: str) -> str:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "run_embedded_workflow":
            return textwrap.dedent(node.args[0].value)
    raise AssertionError("no run_embedded_workflow call")


def test_fuzzed_workflows_give_dags_that_only_define_a_dag(stub_airflow):
    rng = random.Random(17)
    rendered = refused = 0
    for case in range(CASES):
        text = yaml.safe_dump(hostile_workflow(rng), allow_unicode=rng.random() < 0.5)
        filename = hostile_name(rng)
        try:
            loaded = parse_workflow(text, filename, KeepUnsetReferences())
        except ConfigError:
            refused += 1
            continue
        loaded.path = Path(filename)
        mode = rng.choice(["python", "virtualenv"])
        dag_id = f"fuzz_{case}"
        source = render_dag(loaded, dag_id=dag_id, schedule=hostile_text(rng) or None, start_date=dt.date(2024, 1, 2),
                            mode=mode, requirements=[hostile_text(rng)], retries=1)
        namespace = import_dag(source, stub_airflow)
        kinds = [kind for kind, _ in Recorder.made]
        assert kinds == ["DAG", "PythonOperator" if mode == "python" else "IngestInVirtualenv"], (case, kinds)
        assert Recorder.made[0][1]["dag_id"] == dag_id
        assert Recorder.made[1][1]["python_callable"] is namespace["ingest_mlflow_metadata"]
        assert embedded(source).strip("\n") == embed_workflow(loaded).yaml.strip("\n"), case
        rendered += 1
    assert rendered > CASES // 3 and refused > 0, (rendered, refused)


def test_fuzzed_reference_names_past_the_loader_stay_data(stub_airflow, write_config):
    """The writer does not rely on the loader's check of names: a LoadedWorkflow holding any text as
    a reference (as a caller of the engine could build) still gives a DAG that only defines a DAG."""
    rng = random.Random(2028)
    base = parse_workflow(yaml.safe_dump(seed_config("http://localhost:5000", "http://localhost:8585/api")))
    for case in range(CASES // 3):
        name = hostile_text(rng, 8).replace("}", "")
        references = {("source", "serviceName"): f"${{{name}}}",
                      ("source", "serviceConnection", "config", "trackingUri"): f"http://${{{name}}}/"}
        loaded = LoadedWorkflow(base.config, Path(hostile_name(rng)), references)
        source = render_dag(loaded, dag_id="x", schedule=None, start_date=dt.date(2024, 1, 2),
                            mode=rng.choice(["python", "virtualenv"]))
        import_dag(source, stub_airflow)
        assert [kind for kind, _ in Recorder.made][0] == "DAG", case


@pytest.mark.parametrize("value", ["a\nb", "'''", '"""\n\'\'\'', "x\\", "\\\n", "\x85\n\u2028", "\x00\n",
                                   "tab\t\nend\\", "\r\n", "\\N{BULLET}\n", "é\n\U0001f600"])
def test_python_literal_evaluates_to_the_value(value):
    assert ast.literal_eval(python_literal(value)) == value
    assert ast.literal_eval(python_literal([value, None])) == [value, None]


def test_the_rce_of_issue_17_is_refused_when_loading(write_config, tmp_path, capsys):
    """The reference name of the report ran `id` when Airflow imported the virtualenv DAG."""
    data = seed_config("http://localhost:5000", "http://localhost:8585/api",
                       ingestionPipelineFQN='svc.${X"""; __import__("os").system("id > RCE") #}')
    code = main(["-c", str(write_config(data)), "-o", str(tmp_path / "dags"), "--mode", "virtualenv"])
    err = capsys.readouterr().err
    assert code == 2
    assert "ingestionPipelineFQN" in err and "is not a variable reference" in err
    assert not (tmp_path / "dags").exists()


def test_a_file_name_with_triple_quotes_and_backslash_n_gives_a_dag_that_compiles(write_config, tmp_path, capsys,
                                                                                  stub_airflow):
    path = write_config(seed_config("http://localhost:5000", "http://localhost:8585/api"), 'a"""b\\N.yaml')
    assert main(["-c", str(path), "-o", str(tmp_path / "dags"), "--dag-id", "odd"]) == 0
    source = (tmp_path / "dags" / "odd.py").read_text()
    assert repr('a"""b\\N.yaml') in ast.get_docstring(ast.parse(source))
    import_dag(source, stub_airflow)


def test_a_dag_that_would_not_compile_is_not_written(write_config, tmp_path, capsys, monkeypatch):
    import workflow.dags.dag_file as dag

    monkeypatch.setattr(dag, "_TASK", dag._TASK + "\n    )\n")
    path = write_config(seed_config("http://localhost:5000", "http://localhost:8585/api"))
    assert main(["-c", str(path), "-o", str(tmp_path), "--dag-id", "broken"]) == 1
    err = capsys.readouterr().err
    assert "does not compile" in err and "nothing was written" in err and "Traceback" not in err
    assert not (tmp_path / "broken.py").exists()
