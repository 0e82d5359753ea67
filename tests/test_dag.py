"""`metadata dag`: the DAG file it writes, unit-tested here, then proven in a real Airflow.

The fast tests check the file itself: no secret is ever written into it, `${VAR}` references are
kept, the options land in it, it compiles, and the embedded workflow reads back unchanged. The
`airflow` tests install apache-airflow into a cached virtualenv (tests/support/airflow_env.py), import the
written files into a DagBag and run the DAGs against the seeded MLflow server and the OpenMetadata
stand-in. Run only them with `pytest -m airflow`.
"""
from __future__ import annotations

import ast
import io
import os
import shutil
import stat

import pytest

from tests.support.airflow_env import REPO_ROOT, Airflow, ensure_airflow_venv
from tests.support.dag_files import embedded_yaml, render
from tests.support.om_standin import OpenMetadataStandIn
from tests.support.workflows import seed_config
from workflow.cli.dag import main
from workflow.dags.dag_file import write_dag
from workflow.dags.task import WorkflowFailed, run_embedded_workflow
from workflow.document.loader import load_workflow, parse_workflow

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJpbmdlc3Rpb24tYm90In0.aW5saW5lLWJvdC1zaWduYXR1cmU"
DB_PASSWORD = "s3cr3t-db-pass"
SERVICE = "local_mlflow"
CHECKOUT = f"mlflow-om-workflow @ {REPO_ROOT.as_uri()}"
"""This checkout as the virtualenv mode's requirement (Airflow takes only PEP 508 requirements)."""
OLD_DAG = REPO_ROOT / "tests" / "old_dags" / "release_0_1_0.py"
"""A DAG file written by release 0.1.0, before the engine was laid out in packages."""
AIRFLOW_TIMEOUT = 1800
"""The first Airflow test may build the Airflow virtualenv: minutes with a cold pip cache."""


def jwt_config(tracking_uri: str, host_port: str, token: str = TOKEN, **changes) -> dict:
    """The seed's workflow with a bot JWT, as a user with a secured server writes it."""
    return seed_config(tracking_uri, host_port, **{
        "workflowConfig.openMetadataServerConfig.authProvider": "openmetadata",
        "workflowConfig.openMetadataServerConfig.securityConfig": {"jwtToken": token},
        **changes,
    })


# ------------------------------------------------------------------------------------ the DAG file


@pytest.mark.parametrize("mode", ["python", "virtualenv"])
def test_inline_secrets_become_references_and_never_reach_the_dag(write_config, mode):
    data = jwt_config("http://localhost:5000", "http://localhost:8585/api", **{
        "source.serviceConnection.config.registryUri": f"mysql+pymysql://mlflow:{DB_PASSWORD}@localhost:3307/db"})
    source = render(write_config(data), mode)

    assert TOKEN not in source and DB_PASSWORD not in source
    workflow = embedded_yaml(source)
    assert "jwtToken: ${OM_JWT_TOKEN}" in workflow
    assert "registryUri: mysql+pymysql://mlflow:${MLFLOW_REGISTRY_PASSWORD}@localhost:3307/db" in workflow


def test_references_are_kept_not_expanded(write_config, monkeypatch):
    monkeypatch.setenv("MY_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("MLFLOW_HOST", "mlflow.internal:5000")
    data = jwt_config("http://${MLFLOW_HOST}", "http://localhost:8585/api", token="${MY_BOT_TOKEN}")
    source = render(write_config(data))

    assert TOKEN not in source and "mlflow.internal" not in source
    workflow = embedded_yaml(source)
    assert "jwtToken: ${MY_BOT_TOKEN}" in workflow
    assert "trackingUri: http://${MLFLOW_HOST}" in workflow
    assert "Variables used: MLFLOW_HOST, MY_BOT_TOKEN." in source


def test_a_password_inline_beside_a_reference_is_lifted_too(write_config, monkeypatch):
    monkeypatch.setenv("DB_HOST", "db.internal")
    data = seed_config("http://localhost:5000", "http://localhost:8585/api", **{
        "source.serviceConnection.config.registryUri": f"mysql+pymysql://mlflow:{DB_PASSWORD}@${{DB_HOST}}/db"})
    workflow = embedded_yaml(render(write_config(data)))
    assert "registryUri: mysql+pymysql://mlflow:${MLFLOW_REGISTRY_PASSWORD}@${DB_HOST}/db" in workflow


HIDDEN = "hIdDeNsEcReT42"
"""A secret in the shapes issue 17 found copied into a 0644 DAG under "No secret is in this file"."""
SECRET_SHAPES = {
    "token-only-userinfo": ({"source.serviceConnection.config.trackingUri": f"http://{HIDDEN}@localhost:5000"},
                            "trackingUri: http://${MLFLOW_TRACKING_URI_TOKEN}@localhost:5000"),
    "password-beside-a-reference": ({"source.serviceConnection.config.registryUri":
                                     f"mysql+pymysql://u:{HIDDEN}${{DB_PW_SUFFIX}}@localhost/db"},
                                    "registryUri: mysql+pymysql://u:${MLFLOW_REGISTRY_PASSWORD}@localhost/db"),
    "bearer-header": ({"workflowConfig.openMetadataServerConfig.extraHeaders": {"X-Proxy": f"Bearer {HIDDEN}"}},
                      "X-Proxy: ${OM_HEADER_X_PROXY}"),
    "api-key-header": ({"workflowConfig.openMetadataServerConfig.extraHeaders": {"X-Api-Key": HIDDEN}},
                       "X-Api-Key: ${OM_HEADER_X_API_KEY}"),
    "partial-jwt-reference": ({"workflowConfig.openMetadataServerConfig.authProvider": "openmetadata",
                               "workflowConfig.openMetadataServerConfig.securityConfig":
                                   {"jwtToken": f"${{JWT_HEAD}}.{HIDDEN}"}},
                              "jwtToken: ${OM_JWT_TOKEN}"),
}


@pytest.mark.parametrize("shape", SECRET_SHAPES)
def test_no_shape_of_inline_secret_reaches_the_dag(write_config, tmp_path, capsys, monkeypatch, shape):
    monkeypatch.delenv("DB_PW_SUFFIX", raising=False)
    monkeypatch.delenv("JWT_HEAD", raising=False)
    changes, reference = SECRET_SHAPES[shape]
    path = write_config(seed_config("http://localhost:5000", "http://localhost:8585/api", **changes))
    assert main(["-c", str(path), "-o", str(tmp_path / "dags"), "--dag-id", "d", "--mode", "virtualenv"]) == 0
    dag = tmp_path / "dags" / "d.py"
    source = dag.read_text()
    assert HIDDEN not in source and HIDDEN not in capsys.readouterr().out
    assert reference in embedded_yaml(source)
    assert "No secret is in this file" in ast.get_docstring(ast.parse(source))
    assert stat.S_IMODE(dag.stat().st_mode) == 0o644


def test_a_dag_says_it_holds_a_secret_when_the_secret_stands_elsewhere_too(write_config, tmp_path, capsys):
    """A password equal to the user name cannot be lifted out of the file: the DAG says so and is private."""
    path = write_config(seed_config("http://localhost:5000", "http://localhost:8585/api", **{
        "source.serviceConnection.config.registryUri": "mysql+pymysql://mlflow:mlflow@localhost/mlflow"}))
    assert main(["-c", str(path), "-o", str(tmp_path), "--dag-id", "d"]) == 0
    dag = tmp_path / "d.py"
    docstring = ast.get_docstring(ast.parse(dag.read_text()))
    assert "No secret is in this file" not in docstring and "Keep this file private" in docstring
    assert stat.S_IMODE(dag.stat().st_mode) == 0o600
    assert "Warning: the value of source.serviceConnection.config.registryUri" in capsys.readouterr().out


def test_sso_secrets_get_their_own_variable(write_config):
    data = seed_config("http://localhost:5000", "http://localhost:8585/api", **{
        "workflowConfig.openMetadataServerConfig.authProvider": "auth0",
        "workflowConfig.openMetadataServerConfig.securityConfig": {
            "clientId": "the-client", "secretKey": "auth0-secret-value", "domain": "example.auth0.com"}})
    source = render(write_config(data))
    assert "auth0-secret-value" not in source
    assert "secretKey: ${OM_SECRET_KEY}" in embedded_yaml(source)


@pytest.mark.parametrize("mode", ["python", "virtualenv"])
def test_dag_carries_the_options_and_compiles(write_config, mode):
    path = write_config(seed_config("http://localhost:5000", "http://localhost:8585/api"))
    source = render(path, mode, requirements=["mlflow-om-workflow==0.1.0", "pymysql"], retries=0)

    compile(source, "mlflow_nightly.py", "exec")
    assert "dag_id='mlflow_nightly'" in source
    assert "schedule='15 4 * * 1'" in source
    assert "start_date=datetime(2024, 3, 5, tzinfo=timezone.utc)" in source
    assert '"retries": 0' in source
    operator = "PythonOperator(" if mode == "python" else "IngestInVirtualenv("
    assert operator in source
    assert ("requirements=['mlflow-om-workflow==0.1.0', 'pymysql']" in source) == (mode == "virtualenv")


def test_no_schedule_means_manual_runs_only(write_config):
    path = write_config(seed_config("http://localhost:5000", "http://localhost:8585/api"))
    assert "schedule=None," in render(path, schedule=None)


def test_embedded_workflow_reads_back_to_the_same_config(write_config):
    """Indentation, backslashes and quotes in values must survive the trip through Python source."""
    data = jwt_config("http://localhost:5000", "http://localhost:8585/api", token="${OM_JWT_TOKEN}", **{
        "source.serviceName": "it's '''odd'''",
        "source.sourceConfig.config.mlModelFilterPattern": {"includes": [r"^prod\d+$", r"a\\b"]}})
    path = write_config(data)
    environ = {"OM_JWT_TOKEN": TOKEN}
    source = render(path)
    assert TOKEN not in source
    compile(source, "dag.py", "exec")
    assert parse_workflow(embedded_yaml(source), environ=environ).config == load_workflow(path, environ).config


# ------------------------------------------------------------------------------------------ command


def test_command_writes_the_dag_and_says_which_variables_to_set(write_config, tmp_path, capsys):
    data = jwt_config("http://localhost:5000", "http://localhost:8585/api")
    out = tmp_path / "dags"
    code = main(["-c", str(write_config(data)), "-o", str(out), "--dag-id", "nightly", "--schedule", "@hourly"])
    output = capsys.readouterr().out

    assert code == 0
    dag = out / "nightly.py"
    assert "schedule='@hourly'" in dag.read_text()
    assert stat.S_IMODE(dag.stat().st_mode) == 0o644
    assert "workflowConfig.openMetadataServerConfig.securityConfig.jwtToken -> ${OM_JWT_TOKEN}" in output
    assert "OM_JWT_TOKEN" in output.split("Airflow Variables of that name:")[1]
    assert TOKEN not in output


def test_command_refuses_to_overwrite_unless_forced(write_config, tmp_path, capsys):
    path = write_config(seed_config("http://localhost:5000", "http://localhost:8585/api"))
    dag = tmp_path / "dags" / "nightly.py"
    dag.parent.mkdir()
    dag.write_text("# someone's DAG\n")

    assert main(["-c", str(path), "-o", str(dag.parent), "--dag-id", "nightly"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert dag.read_text() == "# someone's DAG\n"

    assert main(["-c", str(path), "-o", str(dag.parent), "--dag-id", "nightly", "--force"]) == 0
    assert "run_embedded_workflow" in dag.read_text()


def test_command_rejects_a_bad_config_with_exit_2(write_config, tmp_path, capsys):
    data = seed_config("http://localhost:5000", "not a url")
    code = main(["-c", str(write_config(data)), "-o", str(tmp_path / "dags")])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("Error: ") and "hostPort" in captured.err
    assert not (tmp_path / "dags").exists()


@pytest.mark.parametrize("option", [["--schedule", "daily"], ["--start-date", "05/03/2024"], ["--dag-id", "a b"],
                                    ["--requirement", "/path/to/checkout"]])
def test_command_rejects_bad_options_with_exit_2(write_config, tmp_path, option):
    path = write_config(seed_config("http://localhost:5000", "http://localhost:8585/api"))
    with pytest.raises(SystemExit) as exit_info:
        main(["-c", str(path), "-o", str(tmp_path), *option])
    assert exit_info.value.code == 2


def test_secrets_need_not_be_set_where_the_dag_is_written(write_config, tmp_path, monkeypatch):
    monkeypatch.delenv("PROD_BOT_TOKEN", raising=False)
    data = jwt_config("http://localhost:5000", "http://localhost:8585/api", token="${PROD_BOT_TOKEN}")
    assert main(["-c", str(write_config(data)), "-o", str(tmp_path), "--dag-id", "prod"]) == 0
    assert "jwtToken: ${PROD_BOT_TOKEN}" in embedded_yaml((tmp_path / "prod.py").read_text())


def test_write_dag_defaults_its_id_from_the_service(write_config, tmp_path):
    loaded = load_workflow(write_config(seed_config("http://localhost:5000", "http://localhost:8585/api")))
    assert write_dag(loaded, tmp_path) == tmp_path / f"{SERVICE}_metadata_ingestion.py"


# ---------------------------------------------------------------------------- the task, without Airflow


def test_task_ingests_resolving_variables_from_the_environment(mlflow_url, expected_models, write_config, monkeypatch):
    monkeypatch.setenv("OM_JWT_TOKEN", TOKEN)
    with OpenMetadataStandIn(token=TOKEN) as om:
        workflow = embedded_yaml(render(write_config(jwt_config(mlflow_url, om.url))))
        log = io.StringIO()
        summary = run_embedded_workflow(workflow, dag_id="mlflow_nightly", stream=log)
    assert summary.succeeded
    assert {m["name"] for m in om.models.values()} == set(expected_models)
    assert "Workflow summary: service 'local_mlflow'" in log.getvalue()
    assert TOKEN not in log.getvalue()


def test_each_dag_run_is_a_run_of_its_own_in_the_pipelines_history(mlflow_url, write_config, tmp_path, capsys,
                                                                   monkeypatch):
    """A fixed pipelineRunId would make every scheduled run overwrite the last one's status: the DAG
    leaves it out and says so, and two task runs are two runs in OpenMetadata."""
    fqn = f"{SERVICE}.nightly_mlflow"
    monkeypatch.setenv("OM_JWT_TOKEN", TOKEN)
    with OpenMetadataStandIn(token=TOKEN) as om:
        path = write_config(jwt_config(mlflow_url, om.url, ingestionPipelineFQN=fqn,
                                       pipelineRunId="1b4e28ba-2fa1-11d2-883f-0016d3cca427"))
        assert main(["-c", str(path), "-o", str(tmp_path / "dags"), "--dag-id", "nightly"]) == 0
        assert "pipelineRunId of workflow.yaml is not copied into the DAG" in capsys.readouterr().out
        workflow = embedded_yaml((tmp_path / "dags" / "nightly.py").read_text())
        assert f"ingestionPipelineFQN: {fqn}" in workflow and "pipelineRunId" not in workflow
        for _ in range(2):
            run_embedded_workflow(workflow, dag_id="nightly", stream=io.StringIO())
    statuses = om.pipeline_statuses[fqn]
    assert len(statuses) == 2 and {s["pipelineState"] for s in statuses.values()} == {"success"}


def test_task_raises_when_the_workflow_fails(mlflow_url, write_config):
    with OpenMetadataStandIn() as om:
        om.fail_models = {"churn-classifier"}
        data = seed_config(mlflow_url, om.url, **{"workflowConfig.successThreshold": 100})
        workflow = embedded_yaml(render(write_config(data)))
        log = io.StringIO()
        with pytest.raises(WorkflowFailed, match="below the threshold"):
            run_embedded_workflow(workflow, dag_id="mlflow_nightly", stream=log)
    assert "failed   churn-classifier" in log.getvalue()


def test_task_names_an_unset_variable_and_where_it_may_come_from(write_config, monkeypatch):
    monkeypatch.delenv("OM_JWT_TOKEN", raising=False)
    workflow = embedded_yaml(render(write_config(jwt_config("http://localhost:5000", "http://localhost:8585/api"))))
    with pytest.raises(WorkflowFailed, match="OM_JWT_TOKEN is not set") as failure:
        run_embedded_workflow(workflow, dag_id="mlflow_nightly", stream=io.StringIO())
    assert "Airflow Variable" in str(failure.value)


def old_dag_variables(mlflow_url: str, om_url: str) -> dict[str, str]:
    """The values of the old DAG's ${VAR}s for the seeded MLflow and a stand-in."""
    return {"MLFLOW_HOST_PORT": mlflow_url.split("://", 1)[1], "OM_JWT_TOKEN": TOKEN,
            "OM_HOST_PORT": om_url.split("://", 1)[1].removesuffix("/api")}


def test_a_dag_written_by_release_0_1_0_still_runs(mlflow_url, expected_models, monkeypatch, capsys):
    """Its task function, as Airflow (or a virtualenv operator) calls it: it imports workflow.airflow_task."""
    task = next(node for node in ast.parse(OLD_DAG.read_text()).body
                if isinstance(node, ast.FunctionDef) and node.name == "ingest_mlflow_metadata")
    namespace: dict = {}
    exec(compile(ast.Module(body=[task], type_ignores=[]), str(OLD_DAG), "exec"), namespace)
    with OpenMetadataStandIn(token=TOKEN) as om:
        for name, value in old_dag_variables(mlflow_url, om.url).items():
            monkeypatch.setenv(name, value)
        namespace["ingest_mlflow_metadata"]()
    assert {m["name"] for m in om.models.values()} == set(expected_models)
    assert "Workflow summary: service 'local_mlflow'" in capsys.readouterr().out


# ------------------------------------------------------------------------------------- real Airflow


@pytest.fixture(scope="session")
def airflow(tmp_path_factory) -> Airflow:
    """A migrated Airflow home on the cached Airflow virtualenv (built on first use)."""
    return Airflow.create(ensure_airflow_venv(), tmp_path_factory.mktemp("airflow-home"))


def write_to_airflow(airflow: Airflow, data: dict, write_config, dag_id: str, *args: str) -> None:
    path = write_config(data, f"{dag_id}.yaml")
    assert main(["-c", str(path), "-o", str(airflow.dags), "--dag-id", dag_id, "--force", *args]) == 0


@pytest.mark.airflow
@pytest.mark.timeout(AIRFLOW_TIMEOUT)
def test_airflow_imports_both_kinds_of_dag_with_their_schedules(airflow, write_config):
    data = jwt_config("http://localhost:5000", "http://localhost:8585/api")
    write_to_airflow(airflow, data, write_config, "import_python", "--schedule", "15 4 * * 1",
                     "--start-date", "2024-03-05")
    write_to_airflow(airflow, data, write_config, "import_virtualenv", "--mode", "virtualenv",
                     "--schedule", "@hourly", "--requirement", CHECKOUT)

    report = airflow.import_dags()

    assert report["import_errors"] == {}
    python_dag = report["dags"]["import_python"]
    assert python_dag["schedule"] == "15 4 * * 1"
    assert python_dag["start_date"] == "2024-03-05T00:00:00+00:00"
    assert python_dag["catchup"] is False
    assert python_dag["tasks"] == {"ingest": "PythonOperator"}
    assert python_dag["retries"] == [2]
    virtualenv_dag = report["dags"]["import_virtualenv"]
    assert virtualenv_dag["schedule"] == "@hourly"
    assert virtualenv_dag["tasks"] == {"ingest": "IngestInVirtualenv"}


@pytest.mark.airflow
@pytest.mark.timeout(AIRFLOW_TIMEOUT)
def test_airflow_run_ingests_every_model_and_a_rerun_changes_nothing(airflow, mlflow_url, expected_models, write_config):
    """The inline token is lifted to ${OM_JWT_TOKEN}, which the task finds as an Airflow Variable."""
    with OpenMetadataStandIn(token=TOKEN) as om:
        write_to_airflow(airflow, jwt_config(mlflow_url, om.url), write_config, "ingest_python", "--retries", "0")
        assert "OM_JWT_TOKEN" not in airflow.env
        airflow.cli("variables", "set", "OM_JWT_TOKEN", TOKEN)

        result, log = airflow.test_dag("ingest_python")
        assert result == {"state": "success", "tasks": {"ingest": "success"}}, log[-4000:]
        assert {m["name"] for m in om.models.values()} == set(expected_models)
        assert f"Workflow summary: service '{SERVICE}' -> {om.url}" in log
        assert f"Processed:  {len(expected_models)} ({len(expected_models)} created)" in log
        versions = {fqn: model["version"] for fqn, model in om.models.items()}

        result, log = airflow.test_dag("ingest_python")
        assert result["state"] == "success", log[-4000:]
        assert "nothing changed" in log
        assert {fqn: model["version"] for fqn, model in om.models.items()} == versions


@pytest.mark.airflow
@pytest.mark.timeout(AIRFLOW_TIMEOUT)
def test_airflow_task_fails_when_the_workflow_fails(airflow, mlflow_url, write_config):
    with OpenMetadataStandIn() as om:
        om.fail_models = {"churn-classifier"}
        data = seed_config(mlflow_url, om.url, **{"workflowConfig.successThreshold": 100})
        write_to_airflow(airflow, data, write_config, "ingest_failing", "--retries", "0")

        result, log = airflow.test_dag("ingest_failing")

    assert result == {"state": "failed", "tasks": {"ingest": "failed"}}
    assert "failed   churn-classifier" in log
    assert "WorkflowFailed: the workflow failed: FAILED: success % is below the threshold" in log


@pytest.mark.airflow
@pytest.mark.timeout(AIRFLOW_TIMEOUT)
def test_airflow_virtualenv_task_installs_the_package_and_ingests(airflow, mlflow_url, expected_models, write_config):
    """The virtualenv has no Airflow: the operator hands it the Airflow Variable as an environment variable."""
    with OpenMetadataStandIn(token=TOKEN) as om:
        write_to_airflow(airflow, jwt_config(mlflow_url, om.url), write_config, "ingest_virtualenv",
                         "--mode", "virtualenv", "--requirement", CHECKOUT, "--retries", "0")
        assert "OM_JWT_TOKEN" not in airflow.env
        airflow.cli("variables", "set", "OM_JWT_TOKEN", TOKEN)

        result, log = airflow.test_dag("ingest_virtualenv")

        assert result == {"state": "success", "tasks": {"ingest": "success"}}, log[-4000:]
        assert {m["name"] for m in om.models.values()} == set(expected_models)
        assert f"Workflow summary: service '{SERVICE}'" in log
        assert TOKEN not in log


@pytest.mark.airflow
@pytest.mark.timeout(AIRFLOW_TIMEOUT)
def test_airflow_runs_a_dag_written_by_release_0_1_0(airflow, mlflow_url, expected_models):
    with OpenMetadataStandIn(token=TOKEN) as om:
        shutil.copy(OLD_DAG, airflow.dags / OLD_DAG.name)
        for name, value in old_dag_variables(mlflow_url, om.url).items():
            airflow.cli("variables", "set", name, value)

        result, log = airflow.test_dag("release_0_1_0")

        assert result == {"state": "success", "tasks": {"ingest": "success"}}, log[-4000:]
        assert {m["name"] for m in om.models.values()} == set(expected_models)


def test_an_output_folder_that_cannot_exist_is_explained(tmp_path, capsys):
    from workflow.document.seed import SEED_YAML
    from workflow.cli.dag import main as dag_main

    config = tmp_path / "wf.yaml"
    config.write_text(SEED_YAML)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert dag_main(["-c", str(config), "-o", str(blocker / "dags")]) == 2
    err = capsys.readouterr().err
    assert f"cannot write the DAG into {blocker / 'dags'}" in err and "Traceback" not in err


# ------------------------------------------------------------------------------- small hostile inputs


@pytest.mark.parametrize("dag_id", ["abc\n", "abc\r", "a" * 251])
def test_a_dag_id_that_is_not_a_plain_name_of_at_most_250_characters_is_refused(write_config, tmp_path, dag_id, capsys):
    path = write_config(seed_config("http://localhost:5000", "http://localhost:8585/api"))
    with pytest.raises(SystemExit) as exit_info:
        main(["-c", str(path), "-o", str(tmp_path / "dags"), "--dag-id", dag_id])
    assert exit_info.value.code == 2
    assert not (tmp_path / "dags").exists()


def test_the_longest_dag_id_and_the_longest_service_name_give_a_dag(write_config, tmp_path):
    path = write_config(seed_config("http://localhost:5000", "http://localhost:8585/api",
                                    **{"source.serviceName": "s" * 256}))
    assert main(["-c", str(path), "-o", str(tmp_path), "--dag-id", "d" * 250]) == 0
    assert main(["-c", str(path), "-o", str(tmp_path)]) == 0
    assert {len(p.stem) for p in tmp_path.glob("*.py")} == {250}
    assert len(list(tmp_path.glob("*.py"))) == 2


def test_a_next_line_character_is_kept_as_itself(write_config):
    """U+0085 loaded as itself, but PyYAML wrote it as a line break, which read back as a space."""
    data = seed_config("http://localhost:5000", "http://localhost:8585/api",
                       **{"source.serviceName": "a\x85b\u2028c", "ingestionPipelineFQN": "a\x85b\u2028c.x\x85y"})
    path = write_config(data)
    config = parse_workflow(embedded_yaml(render(path)), environ={}).config
    assert config.source.serviceName == "a\x85b\u2028c"
    assert config.ingestionPipelineFQN == "a\x85b\u2028c.x\x85y"


def test_a_dangling_symlink_is_not_replaced_without_force(write_config, tmp_path, capsys):
    path = write_config(seed_config("http://localhost:5000", "http://localhost:8585/api"))
    link = tmp_path / "dags" / "d.py"
    link.parent.mkdir()
    link.symlink_to(tmp_path / "nowhere.py")
    assert main(["-c", str(path), "-o", str(link.parent), "--dag-id", "d"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert link.is_symlink() and not (tmp_path / "nowhere.py").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_writing_over_another_users_file_keeps_its_owner_and_mode(write_config, tmp_path):
    path = write_config(seed_config("http://localhost:5000", "http://localhost:8585/api"))
    dag = tmp_path / "dags" / "d.py"
    dag.parent.mkdir()
    dag.write_text("# theirs\n")
    os.chown(dag, 65534, 65534)
    dag.chmod(0o640)
    assert main(["-c", str(path), "-o", str(dag.parent), "--dag-id", "d", "--force"]) == 0
    info = dag.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (65534, 65534, 0o640)
    assert "run_embedded_workflow" in dag.read_text()
