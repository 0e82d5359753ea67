"""The form's model: what the user typed, checked by the engine's validators, turned into a `Workflow`.

No Textual here, so it is tested without a terminal. Screens only read `initial` values and call
`set`; everything else (which fields count, where each goes in the file, which `${VAR}` references
survive) is decided here.

A save keeps what the user did not touch: the draft starts from the loaded (or template) config
dumped with `exclude_unset`, overlays only the edited fields, and validates the result with the
engine's `Workflow` model, so untouched keys and their `${VAR}` references come back unchanged. (The
overlay is validated, unlike `model_copy(update=...)`, which would accept anything.)
"""
from __future__ import annotations

import os
import re
import typing
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, SecretStr, ValidationError

from workflow import SECURITY_CONFIGS, AuthProvider, LoadedWorkflow, UserError, VerifySSL, Workflow, check_jwt, \
    expand_string, explain, parse_workflow
from workflow import NEW_WORKFLOW_YAML as TEMPLATE_YAML

Path_ = tuple[Any, ...]
Kind = Literal["text", "secret", "lines", "list", "bool", "choice"]

SOURCE = ("source",)
MLFLOW = ("source", "serviceConnection", "config")
OPTIONS = ("source", "sourceConfig", "config")
PATTERN = OPTIONS + ("mlModelFilterPattern",)
OM = ("workflowConfig", "openMetadataServerConfig")
SECURITY = OM + ("securityConfig",)

FORM_STEPS = ("mlflow", "source", "sink", "openmetadata")
STEP_PREFIXES: dict[str, tuple[Path_, ...]] = {
    "mlflow": (SOURCE,),
    "source": (OPTIONS,),
    "sink": (("sink",), ("ingestionPipelineFQN",)),
    "openmetadata": (("workflowConfig",),),
}
"""Which step owns a problem no field claims, by the longest matching path prefix."""


@dataclass(frozen=True)
class Spec:
    """One form field: where its value goes in the workflow and how it is edited."""

    key: str
    step: str
    path: Path_
    label: str
    kind: Kind = "text"
    placeholder: str = ""
    choices: tuple[str, ...] = ()
    provider: str | None = None
    """For securityConfig fields: the `SECURITY_CONFIGS` tag whose block holds this field."""


def _security_specs() -> list[Spec]:
    specs = []
    for tag, block in SECURITY_CONFIGS.items():
        for name, info in block.model_fields.items():
            annotation = info.annotation
            kind: Kind = "secret" if annotation is SecretStr else "list" if _is_list(annotation) else "text"
            default = info.get_default() if not info.is_required() else None
            placeholder = str(default) if isinstance(default, str) else (info.description or "")
            if kind == "list":
                placeholder = placeholder or "comma-separated"
            specs.append(Spec(f"sec-{tag}-{name}", "openmetadata", SECURITY + (name,), _label(name), kind,
                              placeholder=placeholder, provider=tag))
    return specs


def _label(name: str) -> str:
    """`secretKey` -> "Secret key", `orgURL` -> "Org URL": the YAML key, readable."""
    words = re.findall(r"[A-Z]{2,}(?![a-z])|[A-Z]?[a-z]+", name)
    text = " ".join(w if w.isupper() else w.lower() for w in words).replace("jwt", "JWT").replace(" id", " ID")
    return text[:1].upper() + text[1:]


def _is_list(annotation: Any) -> bool:
    return any(typing.get_origin(a) is list for a in (annotation, *typing.get_args(annotation)))


SPECS: tuple[Spec, ...] = (
    Spec("serviceName", "mlflow", SOURCE + ("serviceName",), "Service name", placeholder="local_mlflow"),
    Spec("trackingUri", "mlflow", MLFLOW + ("trackingUri",), "Tracking URI", placeholder="http://localhost:5000"),
    Spec("registrySame", "mlflow", MLFLOW + ("registryUri",), "Registry URI same as tracking URI", "bool"),
    Spec("registryUri", "mlflow", MLFLOW + ("registryUri",), "Registry URI", placeholder="http://localhost:5000"),
    Spec("markDeleted", "source", OPTIONS + ("markDeletedMlModels",), "Mark models deleted in MLflow as deleted",
         "bool"),
    Spec("includes", "source", PATTERN + ("includes",), "Include", "lines", placeholder="one regex per line"),
    Spec("excludes", "source", PATTERN + ("excludes",), "Exclude", "lines", placeholder="one regex per line"),
    Spec("sinkType", "sink", ("sink", "type"), "Send the models to", "choice", choices=("metadata-rest", "file")),
    Spec("sinkFile", "sink", ("sink", "config", "filename"), "File (JSON Lines)", placeholder="./mlmodels.jsonl"),
    Spec("pipelineFQN", "sink", ("ingestionPipelineFQN",), "Record runs in pipeline",
         placeholder="local_mlflow.nightly_mlflow"),
    Spec("hostPort", "openmetadata", OM + ("hostPort",), "Server URL", placeholder="http://localhost:8585/api"),
    Spec("authProvider", "openmetadata", OM + ("authProvider",), "Auth provider", "choice",
         choices=tuple(p.value for p in AuthProvider)),
    *_security_specs(),
    Spec("verifySSL", "openmetadata", OM + ("verifySSL",), "Verify TLS", "choice",
         choices=tuple(v.value for v in VerifySSL)),
    Spec("caCertificate", "openmetadata", OM + ("sslConfig", "caCertificate"), "CA certificate file",
         placeholder="/etc/ssl/certs/openmetadata-ca.pem"),
)
BY_KEY = {spec.key: spec for spec in SPECS}


def provider_tag(provider: str) -> str | None:
    """The securityConfig block a provider takes, or None for no-auth."""
    if provider == AuthProvider.no_auth.value:
        return None
    return provider if provider in SECURITY_CONFIGS else "openmetadata"


def suggested_variable(key: str) -> str:
    """An environment variable name for a secret field: `jwtToken` -> `OM_JWT_TOKEN`."""
    name = BY_KEY[key].path[-1]
    return "OM_" + re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def reference_text(name_or_text: str) -> str:
    """What a `${VAR}` secret writes: `${NAME}` for a bare name, else the text as typed."""
    text = name_or_text.strip()
    return f"${{{text}}}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) else text


def variable_name(reference: str) -> str:
    """The bare name inside `${NAME}` / `$NAME`, or the reference text when it is more than that."""
    match = re.fullmatch(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", reference)
    return (match.group(1) or match.group(2)) if match else reference


@dataclass
class Report:
    """The draft checked: messages by field key and by step, and the workflow when it is valid."""

    errors: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, str] = field(default_factory=dict)
    general: dict[str, list[str]] = field(default_factory=dict)
    config: Workflow | None = None
    references: dict[Path_, str] = field(default_factory=dict)

    def step_valid(self, step: str) -> bool:
        if step not in FORM_STEPS:
            return self.config is not None
        return not self.general.get(step) and not any(BY_KEY[k].step == step for k in self.errors)

    def problem_count(self, step: str) -> int:
        return len(self.general.get(step, ())) + sum(BY_KEY[k].step == step for k in self.errors)


class Draft:
    """The values of every form field, which ones the user edited, and the config they started from."""

    def __init__(self, base: Workflow, references: dict[Path_, str] | None = None, path: Path | None = None):
        self.base = base
        self.base_references = dict(references or {})
        self.path = path
        """The file being edited (the Review step diffs against it), or None for a new workflow."""
        self.values: dict[str, Any] = {}
        self.reference_mode: dict[str, bool] = {}
        """For secret fields: True when the value is a `${VAR}` reference, not the secret itself."""
        self.edited: set[str] = set()
        for spec in SPECS:
            self.values[spec.key] = self._initial(spec)
            if spec.kind == "secret":
                self.reference_mode[spec.key] = self._base_reference(spec) is not None

    # ------------------------------------------------------------------------------- construction

    @classmethod
    def new(cls) -> "Draft":
        return cls(parse_workflow(TEMPLATE_YAML, "template").config)

    @classmethod
    def from_loaded(cls, loaded: LoadedWorkflow) -> "Draft":
        return cls(loaded.config, loaded.references, loaded.path)

    # ------------------------------------------------------------------------------------ editing

    def set(self, key: str, value: Any, *, reference: bool | None = None) -> None:
        """Record an edit; `reference` switches a secret between inline and `${VAR}`."""
        self.values[key] = value
        if reference is not None:
            self.reference_mode[key] = reference
        self.edited.add(key)

    def is_active(self, key: str) -> bool:
        """Whether a field currently counts (the others are hidden and left out of the file)."""
        spec = BY_KEY[key]
        if key == "registryUri":
            return not self.values["registrySame"]
        if key == "sinkFile":
            return self.values["sinkType"] == "file"
        if spec.provider:
            return provider_tag(self.values["authProvider"]) == spec.provider
        return True

    def resolved(self, key: str, environ: typing.Mapping[str, str] | None = None) -> str:
        """A text field's value with `${VAR}` references expanded, as a run would see it."""
        return expand_string(str(self.values[key]), os.environ if environ is None else environ)[0].strip()

    # ---------------------------------------------------------------------------------- checking

    def check(self, environ: typing.Mapping[str, str] | None = None) -> Report:
        """Validate the whole workflow with the engine's model; route each problem to its field."""
        env = os.environ if environ is None else environ
        data, references, warnings = self._overlay(env)
        report = Report(warnings=warnings, references=references)
        try:
            report.config = Workflow.model_validate(data)
        except ValidationError as exc:
            for problem in explain(exc, data):
                self._route(problem.path, _say(problem.message, problem.hint), report)
        if report.config is not None:
            for key, text in self._advice(report.config).items():
                report.warnings.setdefault(key, text)
        return report

    def _route(self, dotted: str, message: str, report: Report) -> None:
        path = tuple(int(p) if p.isdigit() else p for p in dotted.split(".")) if dotted else ()
        owners = [s for s in SPECS if self.is_active(s.key) and s.kind != "bool" and path[: len(s.path)] == s.path]
        if owners:
            spec = max(owners, key=lambda s: len(s.path))
            report.errors.setdefault(spec.key, message)
            return
        steps = [(len(p), step) for step, prefixes in STEP_PREFIXES.items() for p in prefixes if path[: len(p)] == p]
        step = max(steps)[1] if steps else "mlflow"
        report.general.setdefault(step, []).append(f"{dotted}: {message}" if dotted else message)

    def _advice(self, config: Workflow) -> dict[str, str]:
        """Hints that do not block: settings that load but are probably not what the user means."""
        advice = {}
        connection = config.openmetadata
        if not connection.hostPort.endswith("/api"):
            advice["hostPort"] = "OpenMetadata's API is usually under /api (for example http://localhost:8585/api)"
        token = getattr(connection.securityConfig, "jwtToken", None)
        text = token.get_secret_value().strip() if token is not None else ""
        if text and "$" not in text and "/" not in text and os.sep not in text:  # a path is read at run time
            try:
                check_jwt(text)
            except UserError as exc:
                where = "workflowConfig.openMetadataServerConfig.securityConfig.jwtToken "
                advice["sec-openmetadata-jwtToken"] = f"this token {exc.message.removeprefix(where)} ({exc.hint})"
        return advice

    # ----------------------------------------------------------------------------------- overlay

    def _overlay(self, env: typing.Mapping[str, str]) -> tuple[dict[str, Any], dict[Path_, str], dict[str, str]]:
        """The base config as a dict with each edited field written over it, plus the references."""
        data = self.base.model_dump(exclude_unset=True)
        written: list[Path_] = []
        new_refs: dict[Path_, str] = {}
        warnings: dict[str, str] = {}

        def put(path: Path_, value: Any) -> None:
            _set_path(data, path, value)
            written.append(path)

        def text_value(spec: Spec, text: str) -> Any:
            literal = spec.kind == "secret" and not self.reference_mode[spec.key]
            if literal or "$" not in text:
                return text
            expanded, missing = expand_string(text, env)
            if expanded != text or missing:
                new_refs[spec.path] = text
            if missing:
                warnings[spec.key] = (f"{', '.join(missing)} is not set here: the file is fine, "
                                      "but Test and Run need it")
                return text
            return expanded

        edited = self.edited
        v = self.values
        for key in ("serviceName", "trackingUri", "hostPort"):
            if key in edited:
                put(BY_KEY[key].path, text_value(BY_KEY[key], v[key]))
        if edited & {"registrySame", "registryUri"}:
            registry = None if v["registrySame"] else text_value(BY_KEY["registryUri"], v["registryUri"]) or None
            put(MLFLOW + ("registryUri",), registry)
        if "markDeleted" in edited:
            put(OPTIONS + ("markDeletedMlModels",), bool(v["markDeleted"]))
        if edited & {"includes", "excludes"}:
            pattern = {k: [p for p in v[k] if p.strip()] or None for k in ("includes", "excludes")}
            put(PATTERN, pattern if any(pattern.values()) else None)
        if edited & {"sinkType", "sinkFile"}:
            to_file = v["sinkType"] == "file"
            put(("sink",), self._sink(text_value(BY_KEY["sinkFile"], v["sinkFile"]) if to_file else ""))
        if "pipelineFQN" in edited:
            put(("ingestionPipelineFQN",), text_value(BY_KEY["pipelineFQN"], v["pipelineFQN"].strip()) or None)
        if "verifySSL" in edited:
            put(OM + ("verifySSL",), v["verifySSL"])
        if "caCertificate" in edited:
            ssl = {**(data[OM[0]][OM[1]].get("sslConfig") or {}),
                   "caCertificate": text_value(BY_KEY["caCertificate"], v["caCertificate"]) or None}
            put(OM + ("sslConfig",), ssl if any(value is not None for value in ssl.values()) else None)
        if "authProvider" in edited or any(BY_KEY[k].provider for k in edited):
            put(OM + ("authProvider",), v["authProvider"])
            block, whole = self._security(text_value)
            if whole:
                put(SECURITY, block)
            else:
                for name, value in block.items():
                    put(SECURITY + (name,), value)

        references = {p: t for p, t in self.base_references.items()
                      if not any(p[: len(w)] == w for w in written)}
        references.update(new_refs)
        return _prune(data), references, warnings

    def _sink(self, filename: str) -> dict[str, Any]:
        base = self.base.sink.model_dump(exclude_unset=True)
        if self.values["sinkType"] == "file":
            config = {**base.get("config", {}), "filename": filename} if base["type"] == "file" else {"filename": filename}
            return {"type": "file", "config": config}
        return base if base["type"] == "metadata-rest" else {"type": "metadata-rest", "config": {}}

    def _security(self, text_value: typing.Callable[[Spec, str], Any]) -> tuple[Any, bool]:
        """The securityConfig to write: (the whole block, True), or (edited keys only, False) when
        the provider still takes the block the file had, so its untouched keys and references stay."""
        tag = provider_tag(self.values["authProvider"])
        if tag is None:
            return None, True
        same_block = self._base_block_is(tag)
        block: dict[str, Any] = {}
        for spec in SPECS:
            if spec.provider != tag or (same_block and spec.key not in self.edited):
                continue
            value = self.values[spec.key]
            if spec.kind == "list":
                value = [s.strip() for s in value.split(",") if s.strip()] or None
            else:
                if spec.kind == "secret" and self.reference_mode[spec.key] and value.strip():
                    value = reference_text(value)
                value = text_value(spec, value) or None
            block[spec.path[-1]] = value
        return block, not same_block

    # ----------------------------------------------------------------------------------- initial

    def _base_reference(self, spec: Spec) -> str | None:
        if spec.provider and not self._base_block_is(spec.provider):
            return None
        return self.base_references.get(spec.path)

    def _base_block_is(self, tag: str) -> bool:
        block = self.base.openmetadata.securityConfig
        return block is not None and _block_tag(block) == tag

    def _initial(self, spec: Spec) -> Any:
        """The value a field shows first: the reference text if the file had one, else the value."""
        base = self.base
        # A file may leave the connection to the one stored in OpenMetadata: the fields start empty.
        stored = base.source.serviceConnection
        mlflow = stored.config if stored else None
        if spec.key == "registrySame":
            return mlflow is None or mlflow.registryUri in (None, mlflow.trackingUri)
        if spec.key == "registryUri":
            return self.base_references.get(spec.path) or (mlflow.registryUri if mlflow else None) or ""
        if spec.key == "sinkType":
            return base.sink.type
        if spec.kind == "lines":
            return list(_get_path(base, spec.path) or [])
        reference = self._base_reference(spec)
        if reference is not None:
            return variable_name(reference) if spec.kind == "secret" else reference
        if spec.provider:
            value = _get_path(base, spec.path) if self._base_block_is(spec.provider) else None
        else:
            value = _get_path(base, spec.path)
        if spec.kind == "bool":
            return bool(value)
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, list):
            return ", ".join(value)
        return "" if value is None else str(value)


# ----------------------------------------------------------------------------------------- helpers


def _say(message: str, hint: str) -> str:
    """An engine problem as a line under a field: the form already says where, so drop "add `x`"."""
    if message == "required key is missing":
        return "required"
    return f"{message} ({hint})" if hint and not hint.startswith("add `") else message


def _block_tag(block: BaseModel) -> str:
    for tag, cls in SECURITY_CONFIGS.items():
        if type(block) is cls:
            return tag
    return "openmetadata"


def _get_path(model: Any, path: Path_) -> Any:
    for part in path:
        if model is None:
            return None
        model = getattr(model, part, None)
    return model


def _set_path(data: dict[str, Any], path: Path_, value: Any) -> None:
    node = data
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[path[-1]] = value


def _prune(data: Any) -> Any:
    """Drop keys set to None, so optional blocks vanish and required ones are reported as missing."""
    if isinstance(data, dict):
        return {k: _prune(v) for k, v in data.items() if v is not None}
    return data
