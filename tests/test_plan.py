"""`metadata ingest --plan`: what a run would change, read exactly as the run reads, with nothing written;
and the plan agrees with the run that follows it, model by model."""
from __future__ import annotations

import json

import pytest

from tests.support.catalogue import SERVICE, cli, fqn, prefilled
from tests.support.workflows import seed_config
from workflow.cli.main import main
from workflow.document.workflow_file import Workflow
from workflow.plan import plan_workflow
from workflow.registry.mlflow_source import MlflowSource
from workflow.runner import run_workflow


def test_the_plan_agrees_with_the_run_model_by_model(mlflow_url, expected_models, om):
    config = Workflow.model_validate(prefilled(om, mlflow_url))
    before = {key: dict(model) for key, model in om.models.items()}
    om.clear_requests()

    plan = plan_workflow(config)

    assert {r.method for r in om.requests} == {"GET"}
    assert om.models == before
    assert {action: {m.name for m in plan.of(action)} for action in ("new", "changed", "unchanged", "deleted",
                                                                      "filtered")} == {
        "new": {"churn-classifier"}, "changed": {"two-versions", "fraud.detector v2"},
        "unchanged": {"modèle-prévision", "no-signature-model", "mlflow2-style"},
        "deleted": {"retired-model", "empty-model"}, "filtered": {"empty-model"}}
    assert plan.complete

    summary = run_workflow(config)
    after = om.models
    created = {after[k]["name"] for k in after if k not in before}
    sent = {after[k]["name"] for k in before if after[k]["version"] != before[k]["version"] and not after[k]["deleted"]}
    deleted = {after[k]["name"] for k in before if after[k]["deleted"] and not before[k]["deleted"]}
    untouched = {after[k]["name"] for k in before if after[k] == before[k]}
    assert created == {m.name for m in plan.of("new")} == {"churn-classifier"}
    assert sent == {m.name for m in plan.of("changed")} == {"two-versions", "fraud.detector v2"}
    assert deleted == {m.name for m in plan.of("deleted")}
    assert untouched == {m.name for m in plan.of("unchanged")}
    assert {i.name for i in summary.filtered} == {m.name for m in plan.of("filtered")}
    assert (summary.created, summary.updated, summary.unchanged) == (1, 2, len(plan.of("unchanged")))

    field_of = {"description": "description", "hyperParameters": "mlHyperParameters"}
    for model in plan.of("changed"):
        for change in model.changes:
            stored = after[fqn(model.name)].get(field_of[change.field])
            assert change.new == stored, (model.name, change)
            assert change.old == before[fqn(model.name)].get(field_of[change.field]), (model.name, change)


def test_the_plan_names_the_changed_fields_with_old_and_new_values(mlflow_url, expected_models, om):
    plan = plan_workflow(Workflow.model_validate(prefilled(om, mlflow_url)))
    changes = {m.name: {c.field: (c.old, c.new) for c in m.changes} for m in plan.of("changed")}
    assert changes["two-versions"] == {
        "description": ("edited in the catalogue", expected_models["two-versions"]["description"])}
    old, new = changes["fraud.detector v2"]["hyperParameters"]
    assert list(changes["fraud.detector v2"]) == ["hyperParameters"]
    assert old == [{"name": "threshold", "value": "0.1"}, {"name": "gone", "value": "1"}]
    assert {p["name"]: p["value"] for p in new} == expected_models["fraud.detector v2"]["params"]
    deleted = {m.name: m.reason for m in plan.of("deleted")}
    assert deleted == {"retired-model": "no longer in the MLflow registry",
                       "empty-model": "left out by the filter: empty"}
    assert [(m.name, m.pattern) for m in plan.of("filtered")] == [("empty-model", "empty")]


def test_plan_text_lists_each_model_then_the_counts(mlflow_url, om, write_config, capsys):
    path = write_config(prefilled(om, mlflow_url))
    om.clear_requests()
    code, out, err = cli(capsys, "-c", str(path), "--plan")
    assert code == 0, out + err
    assert {r.method for r in om.requests} == {"GET"}
    lines = out.splitlines()
    assert "New (1):" in lines and "  + churn-classifier" in lines
    assert "Changed (2):" in lines
    index = lines.index("  ~ fraud.detector v2")
    assert lines[index + 1].startswith("      hyperParameters: ")
    assert "-gone=1" in lines[index + 1] and "threshold '0.1' -> " in lines[index + 1]
    assert "      description: 'edited in the catalogue' -> 'Two versions, v1 edited last'" in lines
    assert "  - retired-model: no longer in the MLflow registry" in lines
    assert "  . empty-model: MlModel name matches an exclude pattern (empty)" in lines
    assert lines[-1] == ("Counts: 1 new, 2 changed, 3 unchanged, 2 to be marked deleted, 1 left out by the filter, "
                         "0 cannot be read")


def test_plan_json_is_one_document_with_stable_keys(mlflow_url, om, write_config, capsys):
    path = write_config(prefilled(om, mlflow_url))
    code, out, _ = cli(capsys, "-c", str(path), "--plan", "--json", "--max-deletions", "1")
    assert code == 0
    document = json.loads(out)
    assert list(document) == ["service", "serviceExists", "source", "sink", "complete", "problem", "markDeleted",
                              "counts", "models", "warnings", "maxDeletions"]
    assert document["counts"] == {"new": 1, "changed": 2, "unchanged": 3, "written": 0, "deleted": 2,
                                  "filtered": 1, "unreadable": 0}
    assert all(list(m) == ["name", "action", "changes", "reason", "pattern"] for m in document["models"])
    assert document["maxDeletions"] == {"limit": "1", "live": 7, "allowed": 1, "wouldStop": True}
    two = next(m for m in document["models"] if m["name"] == "two-versions")
    assert two["changes"] == [{"field": "description", "old": "edited in the catalogue",
                               "new": "Two versions, v1 edited last"}]


def test_a_service_that_does_not_exist_yet_makes_every_model_new_and_nothing_is_created(
        mlflow_url, expected_models, om, write_config, capsys):
    path = write_config(seed_config(mlflow_url, om.url, ingestionPipelineFQN=f"{SERVICE}.nightly"))
    code, out, _ = cli(capsys, "-c", str(path), "--plan", "--json")
    assert code == 0
    document = json.loads(out)
    assert document["serviceExists"] is False
    assert {m["name"] for m in document["models"] if m["action"] == "new"} == set(expected_models)
    assert {r.method for r in om.requests} == {"GET"}
    assert not om.services and not om.models and not om.pipelines


def test_a_plan_over_a_file_sink_writes_no_file(mlflow_url, expected_models, om, write_config, tmp_path, capsys):
    target = tmp_path / "out" / "models.jsonl"
    path = write_config(seed_config(mlflow_url, om.url, sink={"type": "file", "config": {"filename": str(target)}}))
    code, out, _ = cli(capsys, "-c", str(path), "--plan")
    assert code == 0
    assert f"To be written to the file ({len(expected_models)}):" in out
    assert not target.parent.exists()


def test_a_listing_that_breaks_off_makes_no_plan(mlflow_url, om, write_config, capsys, monkeypatch):
    run_workflow(Workflow.model_validate(seed_config(mlflow_url, om.url)))
    om.clear_requests()

    class BrokenListing(MlflowSource):
        def iter_models(self):
            yield from list(super().iter_models())[:2]
            raise ConnectionError("registry went away")

    import workflow.runner as runner
    monkeypatch.setattr(runner, "MlflowSource", BrokenListing)
    code, out, _ = cli(capsys, "-c", str(write_config(seed_config(mlflow_url, om.url))), "--plan")
    assert code == 1
    assert "The plan is INCOMPLETE" in out and "registry went away" in out
    assert "To be marked deleted" not in out and "Cannot be read" not in out
    assert {r.method for r in om.requests} == {"GET"}


def test_control_characters_from_the_servers_are_shown_escaped(mlflow_url, om, write_config, capsys):
    run_workflow(Workflow.model_validate(seed_config(mlflow_url, om.url)))
    om.models[fqn("two-versions")].update(description="\x1b[2J\x1b]0;pwned\x07 red", sourceHash="edited")
    code, out, _ = cli(capsys, "-c", str(write_config(seed_config(mlflow_url, om.url))), "--plan")
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out
    assert "description: '\\x1b[2J\\x1b]0;pwned\\x07 red' -> " in out


def test_secrets_in_stored_values_are_masked(mlflow_url, om, write_config, capsys):
    run_workflow(Workflow.model_validate(seed_config(mlflow_url, om.url)))
    om.models[fqn("two-versions")].update(mlStore={"storage": "s3://key:hunter2secret@bucket/x"}, sourceHash="edited")
    code, out, _ = cli(capsys, "-c", str(write_config(seed_config(mlflow_url, om.url))), "--plan", "--json")
    assert code == 0
    assert "hunter2secret" not in out
    change = next(m for m in json.loads(out)["models"] if m["name"] == "two-versions")["changes"][0]
    assert change["field"] == "store" and change["old"] == "s3://key:***@bucket/x"


def test_json_without_plan_is_bad_usage(write_config, mlflow_url, om, capsys):
    code, out, err = cli(capsys, "-c", str(write_config(seed_config(mlflow_url, om.url))), "--json")
    assert code == 2
    assert "--json goes with --plan" in err
    assert not om.requests


@pytest.mark.parametrize("limit, message", [("ten", "'ten' is not a number of models"),
                                            ("150%", "'150%' is over 100%")])
def test_a_bad_max_deletions_is_bad_usage(limit, message, write_config, mlflow_url, om, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["ingest", "-c", str(write_config(seed_config(mlflow_url, om.url))), "--max-deletions", limit])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
    assert not om.requests


def test_a_model_that_cannot_be_read_is_listed_with_the_reason(mlflow_url, expected_models, om, write_config, capsys):
    from tests.support.mlflow_proxy import MlflowProxy

    run_id = expected_models["churn-classifier"]["run_id"]
    with MlflowProxy(mlflow_url) as mlflow:
        mlflow.inject("/runs/search", "status", status=404, times=None)  # each run is then read on its own
        mlflow.inject(f"run_id={run_id}", "status", status=404, times=None)
        code, out, _ = cli(capsys, "-c", str(write_config(seed_config(mlflow.url, om.url))), "--plan", "--json")
    assert code == 0
    document = json.loads(out)
    unreadable = [m for m in document["models"] if m["action"] == "unreadable"]
    assert [m["name"] for m in unreadable] == ["churn-classifier"]
    assert f"cannot read run {run_id}" in unreadable[0]["reason"] and "404" in unreadable[0]["reason"]
    assert document["counts"]["new"] == len(expected_models) - 1


def test_a_model_marked_deleted_comes_back_and_a_foreign_hash_is_named(mlflow_url, om):
    config = Workflow.model_validate(seed_config(mlflow_url, om.url))
    run_workflow(config)
    om.models[fqn("two-versions")]["deleted"] = True
    om.models[fqn("mlflow2-style")]["sourceHash"] = "written-by-another-tool"

    changes = {m.name: m.changes for m in plan_workflow(config).of("changed")}

    assert [c.field for c in changes["two-versions"]] == ["deleted"]
    assert (changes["two-versions"][0].old, changes["two-versions"][0].new) == (True, False)
    [foreign] = changes["mlflow2-style"]
    assert (foreign.field, foreign.old) == ("sourceHash", "written-by-another-tool")
    summary = run_workflow(config)
    assert summary.updated == 2 and om.models[fqn("two-versions")]["deleted"] is False
