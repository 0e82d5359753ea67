"""The engine's public API: what the faces (the CLI in workflow/cli/, the app in tui/) use.

Nothing in the engine imports a user interface. Names are loaded on first use, so importing one
(say `Workflow`) does not pay for the runner, the sinks and `requests`. The typed run events are the
module `workflow.events` (`from workflow import events`). How the engine is laid out: README.md.
"""
from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    # the workflow document
    "Workflow": "document.workflow_file", "FilterPattern": "document.filters",
    "AuthProvider": "document.security_config",
    "VerifySSL": "document.server_config", "SECURITY_CONFIGS": "document.security_config",
    "security_tag": "document.security_config", "host_name_problem": "document.security_config",
    "SEED_YAML": "document.seed", "NEW_WORKFLOW_YAML": "document.seed",
    "LoadedWorkflow": "document.loader", "load_workflow": "document.loader", "parse_workflow": "document.loader",
    "load_workflow_data": "document.loader",
    "expand_string": "document.variables", "KeepUnsetReferences": "document.variables", "explain": "document.explain",
    "to_yaml": "document.yaml_text", "has_inline_secret": "document.yaml_text",
    "write_workflow": "document.writer", "keeps_layout": "document.writer",
    "redact_uri": "document.redact", "scrub": "document.redact", "secret_values": "document.redact",
    "filtered_reason": "document.filters",
    # errors a user can act on
    "ConfigError": "errors", "EndpointError": "errors", "Problem": "errors", "UserError": "errors",
    "shown": "errors",
    # MLflow and OpenMetadata, as far as a form needs them
    "registered_model_names": "registry.model_names", "MAX_RESULTS": "registry.model_names",
    "known_secrets": "registry.mlflow_credentials",
    "check_jwt": "openmetadata.auth", "with_stored_connection": "openmetadata.stored_connection",
    # checks and runs
    "iter_checks": "checks", "run_checks": "checks", "CheckReport": "checks", "CheckStep": "checks",
    "run_workflow": "runner", "ChecksFailed": "run_setup", "Event": "events", "RunSummary": "events",
    "plan_workflow": "plan", "RunPlan": "plan", "DeletionLimit": "deletion_guard",
    "plan_lines": "plan_render", "plan_json": "plan_render", "plan_notes": "plan_render", "counts_text": "plan_render",
    "discard_temp_files": "sinks.file",
    # the Airflow export
    "write_dag": "dags.dag_file", "embed_workflow": "dags.dag_file", "EmbeddedWorkflow": "dags.dag_file",
    "DEFAULT_SCHEDULE": "dags.dag_file", "DAG_MODES": "dags.dag_file",
    "DEFAULT_REQUIREMENT": "dags.dag_file", "DEFAULT_RETRIES": "dags.dag_file", "DAG_ID_MAX": "dags.dag_file",
    "secrets_in": "dags.dag_file",
    # plain-text rendering of runs
    "Printer": "render", "ProgressView": "render", "summary_lines": "render", "verdict": "render",
    # the app's demo
    "Demo": "demo", "prepare_demo": "demo",
}
_RENAMED = {"DAG_MODES": "MODES"}
"""Public names that would be too vague without their module."""
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'workflow' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), _RENAMED.get(name, name))
