"""The form's model: what the user typed, checked by the engine's validators, turned into a `Workflow`.

No Textual here, so it is tested without a terminal. Screens only read `values` and call `set`;
everything else (which fields count, where each goes in the file, which `${VAR}` references survive)
is decided here, from the table of `Spec`s: each field says where it lives in the file, when it
counts (`when`), and which fields are written again when it changes (`rewrites`).

A save keeps what the user did not touch: the draft starts from the file's own mapping (or the
template's), overlays only the edited fields, and validates the result with the engine's `Workflow`
model, so untouched keys and their `${VAR}` references come back unchanged. The mapping need not be
valid: a file with mistakes opens with each problem under its field, which is how it gets fixed.
Unset `${VAR}`s stay as written (opening a file must not need its secrets); Test and Run name them.
"""
from __future__ import annotations

import copy
import os
import re
import typing
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, SecretStr, ValidationError

from workflow import SECURITY_CONFIGS, AuthProvider, LoadedWorkflow, UserError, VerifySSL, Workflow, check_jwt, \
    expand_string, explain, host_name_problem, parse_workflow
from workflow import NEW_WORKFLOW_YAML as TEMPLATE_YAML

Path_ = tuple[Any, ...]
Kind = Literal["text", "secret", "lines", "list", "bool", "choice"]
Values = dict[str, Any]

SOURCE = ("source",)
MLFLOW = ("source", "serviceConnection", "config")
OPTIONS = ("source", "sourceConfig", "config")
PATTERN = OPTIONS + ("mlModelFilterPattern",)
OM = ("workflowConfig", "openMetadataServerConfig")
SECURITY = OM + ("securityConfig",)
SSL = OM + ("sslConfig",)
SINK = ("sink",)


FORM_STEPS = ("mlflow", "source", "sink", "openmetadata")
STEP_PREFIXES: dict[str, tuple[Path_, ...]] = {
    "mlflow": (SOURCE,),
    "source": (OPTIONS,),
    "sink": (SINK, ("ingestionPipelineFQN",)),
    "openmetadata": (("workflowConfig",),),
}
"""Which step owns a problem no field claims, by the longest matching path prefix."""

OPTIONAL_BLOCKS = (PATTERN, SSL)
"""Blocks dropped from the file when the fields in them are cleared."""


@dataclass(frozen=True)
class Spec:
    """One form field: where its value goes in the workflow, when it counts and how it is edited."""

    key: str
    step: str
    path: Path_
    """Where the value goes in the file; () for a field that only steers others (`registrySame`)."""
    label: str
    kind: Kind = "text"
    placeholder: str = ""
    choices: tuple[str, ...] = ()
    provider: str | None = None
    """For securityConfig fields: the `SECURITY_CONFIGS` tag whose block holds this field."""
    when: Callable[[Values], bool] | None = None
    """Whether the field counts, given every value; a field that does not is left out of the file."""
    rewrites: tuple[str, ...] = ()
    """Fields written again when this one changes (their value, or their absence, depends on it)."""
    required: bool = False
    """Kept as typed when emptied, so the engine says what it needs; an optional field is removed."""


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
                              placeholder=placeholder, provider=tag,
                              when=lambda v, tag=tag: provider_tag(v["authProvider"]) == tag))
    return specs


def _label(name: str) -> str:
    """`secretKey` -> "Secret key", `orgURL` -> "Org URL": the YAML key, readable."""
    words = re.findall(r"[A-Z]{2,}(?![a-z])|[A-Z]?[a-z]+", name)
    text = " ".join(w if w.isupper() else w.lower() for w in words).replace("jwt", "JWT").replace(" id", " ID")
    return text[:1].upper() + text[1:]


def _is_list(annotation: Any) -> bool:
    return any(typing.get_origin(a) is list for a in (annotation, *typing.get_args(annotation)))


SPECS: tuple[Spec, ...] = (
    Spec("serviceName", "mlflow", SOURCE + ("serviceName",), "Service name", placeholder="local_mlflow",
         required=True),
    Spec("trackingUri", "mlflow", MLFLOW + ("trackingUri",), "Tracking URI", placeholder="http://localhost:5000",
         required=True, rewrites=("registryUri",)),
    Spec("registrySame", "mlflow", (), "Registry URI same as tracking URI", "bool", rewrites=("registryUri",)),
    Spec("registryUri", "mlflow", MLFLOW + ("registryUri",), "Registry URI", placeholder="http://localhost:5000",
         when=lambda v: not v["registrySame"]),
    Spec("markDeleted", "source", OPTIONS + ("markDeletedMlModels",), "Mark models deleted in MLflow as deleted",
         "bool"),
    Spec("includes", "source", PATTERN + ("includes",), "Include", "lines", placeholder="one regex per line"),
    Spec("excludes", "source", PATTERN + ("excludes",), "Exclude", "lines", placeholder="one regex per line"),
    Spec("sinkType", "sink", SINK + ("type",), "Send the models to", "choice", choices=("metadata-rest", "file"),
         rewrites=("sinkFile",)),
    Spec("sinkFile", "sink", SINK + ("config", "filename"), "File (JSON Lines)", placeholder="./mlmodels.jsonl",
         when=lambda v: v["sinkType"] == "file", required=True),
    Spec("pipelineFQN", "sink", ("ingestionPipelineFQN",), "Record runs in pipeline",
         placeholder="local_mlflow.nightly_mlflow"),
    Spec("hostPort", "openmetadata", OM + ("hostPort",), "Server URL", placeholder="http://localhost:8585/api",
         required=True),
    Spec("authProvider", "openmetadata", OM + ("authProvider",), "Auth provider", "choice",
         choices=tuple(p.value for p in AuthProvider)),
    *_security_specs(),
    Spec("verifySSL", "openmetadata", OM + ("verifySSL",), "Verify TLS", "choice",
         choices=tuple(v.value for v in VerifySSL)),
    Spec("caCertificate", "openmetadata", SSL + ("caCertificate",), "CA certificate file",
         placeholder="/etc/ssl/certs/openmetadata-ca.pem"),
)
BY_KEY = {spec.key: spec for spec in SPECS}


@dataclass(frozen=True)
class Switch:
    """A choice that selects which block the file holds: changing it away from the file's own
    choice replaces the block (`fresh`) before the new choice's fields are written into it."""

    key: str
    block: Path_
    fresh: Callable[[Any], Any]
    """The block to start from for a new choice."""
    chosen: Callable[[Any], Any]
    """Which block a value of the field selects."""
    in_file: Callable[[dict[str, Any]], Any]
    """Which block the file holds."""


def provider_tag(provider: str) -> str | None:
    """The securityConfig block a provider takes, or None for no-auth."""
    if provider == AuthProvider.no_auth.value:
        return None
    return provider if provider in SECURITY_CONFIGS else "openmetadata"


def _block_tag(data: dict[str, Any]) -> str | None:
    """The securityConfig block a file holds, read as the engine reads it (a bare jwtToken is a bot JWT)."""
    block = _get(data, SECURITY)
    if not isinstance(block, dict):
        return None
    if "jwtToken" in block:
        return "openmetadata"
    return provider_tag(str(_plain(_get(data, OM + ("authProvider",))) or "openmetadata"))


SWITCHES = (
    Switch("sinkType", SINK, lambda choice: {"type": choice, "config": {}}, lambda choice: choice,
           lambda data: _get(data, SINK + ("type",))),
    Switch("authProvider", SECURITY, lambda choice: None, provider_tag, _block_tag),
)


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
    unset: dict[str, list[str]] = field(default_factory=dict)
    """Variables the workflow refers to that this environment lacks, by the YAML key that uses them:
    the file is fine, but Test and Run cannot go without them."""

    def step_valid(self, step: str) -> bool:
        if step not in FORM_STEPS:
            return self.config is not None
        return not self.general.get(step) and not any(BY_KEY[k].step == step for k in self.errors)

    def problem_count(self, step: str) -> int:
        return len(self.general.get(step, ())) + sum(BY_KEY[k].step == step for k in self.errors)

    def unset_message(self) -> str:
        """Why Test and Run cannot go on, naming each unset variable and where the file uses it."""
        names = sorted({name for found in self.unset.values() for name in found})
        if not names:
            return ""
        where = ", ".join(sorted(self.unset))
        verb = "is" if len(names) == 1 else "are"
        return (f"environment variable {', '.join(names)} {verb} not set ({where}): export "
                f"{names[0]}=... before starting the app, or type the value on its step")


class Draft:
    """The values of every form field, which ones the user edited, and the mapping they started from."""

    def __init__(self, base: Workflow | dict[str, Any], references: dict[Path_, str] | None = None,
                 path: Path | None = None):
        self.base: dict[str, Any] = (base.model_dump(exclude_unset=True) if isinstance(base, BaseModel)
                                     else copy.deepcopy(base))
        self.base_references = dict(references or {})
        self.path = path
        """The file being edited (the Review step diffs against it, Write saves over it), or None."""
        self.values: Values = {}
        self.reference_mode: dict[str, bool] = {}
        """For secret fields: True when the value is a `${VAR}` reference, not the secret itself."""
        self.edited: set[str] = set()
        for spec in SPECS:
            self.values[spec.key] = self._initial(spec)
            if spec.kind == "secret":
                self.reference_mode[spec.key] = self._base_reference(spec) is not None
        self.saved = self.snapshot()
        self.disk_stamp = file_stamp(path)
        """The file as it was when opened or last written: saving over it asks only if it changed since."""

    # ------------------------------------------------------------------------------- construction

    @classmethod
    def new(cls) -> "Draft":
        return cls(parse_workflow(TEMPLATE_YAML, "template").config)

    @classmethod
    def from_loaded(cls, loaded: LoadedWorkflow) -> "Draft":
        return cls(loaded.config, loaded.references, loaded.path)

    @classmethod
    def open(cls, path: Path) -> "Draft":
        """A workflow file as it is, mistakes and unset `${VAR}`s included; `ConfigError` only when
        it holds no mapping to edit (unreadable, not YAML)."""
        from workflow import KeepUnsetReferences, load_workflow_data

        data, references = load_workflow_data(path, KeepUnsetReferences())
        return cls(data, references, path)

    @classmethod
    def from_text(cls, text: str, path: Path | None) -> "Draft":
        """YAML edited outside the app (Review's $EDITOR), read as a file would be."""
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            file = Path(folder, "workflow.yaml")
            file.write_text(text, encoding="utf-8")
            draft = cls.open(file)
        draft.path = path
        return draft

    # ------------------------------------------------------------------------------------ editing

    def set(self, key: str, value: Any, *, reference: bool | None = None) -> None:
        """Record an edit; `reference` switches a secret between inline and `${VAR}`."""
        self.values[key] = value
        if reference is not None:
            self.reference_mode[key] = reference
        self.edited.add(key)

    def is_active(self, key: str) -> bool:
        """Whether a field currently counts (the others are hidden and left out of the file)."""
        when = BY_KEY[key].when
        return when is None or when(self.values)

    def resolved(self, key: str, environ: typing.Mapping[str, str] | None = None) -> str:
        """A text field's value with `${VAR}` references expanded, as a run would see it."""
        return expand_string(str(self.values[key]), os.environ if environ is None else environ)[0].strip()

    def snapshot(self) -> tuple[Any, ...]:
        """What a save would write, to tell whether there are unsaved edits (`unsaved`)."""
        data, references, _ = self._overlay({})
        return data, sorted(references.items(), key=repr)

    def unsaved(self) -> bool:
        return self.snapshot() != self.saved

    def mark_saved(self, path: Path) -> None:
        self.path = path
        self.saved = self.snapshot()
        self.disk_stamp = file_stamp(path)

    def saves_in_place(self, target: Path) -> bool:
        """Whether writing to `target` saves the file being edited, unchanged on disk since we read or
        wrote it: the normal save, which needs no question."""
        if self.path is None or self.disk_stamp is None:
            return False
        try:
            return os.path.samefile(self.path, target) and file_stamp(target) == self.disk_stamp
        except OSError:
            return False

    # ---------------------------------------------------------------------------------- checking

    def check(self, environ: typing.Mapping[str, str] | None = None) -> Report:
        """Validate the whole workflow with the engine's model; route each problem to its field."""
        env = os.environ if environ is None else environ
        data, references, warnings = self._overlay(env)
        report = Report(warnings=warnings, references=references)
        self._unset(report, env)
        try:
            report.config = Workflow.model_validate(data)
        except ValidationError as exc:
            for problem in explain(exc, data):
                self._route(problem.path, _say(problem.message, problem.hint), report)
        if report.config is not None:
            for key, text in self._advice(report.config).items():
                report.warnings.setdefault(key, text)
        return report

    def _unset(self, report: Report, env: typing.Mapping[str, str]) -> None:
        """Note the references whose variables are not set here, under the field that holds each."""
        for path, text in report.references.items():
            missing = expand_string(text, env)[1]
            if not missing:
                continue
            report.unset[".".join(map(str, path[-1:]))] = missing
            owner = self._owner(path)
            if owner is not None:
                report.warnings.setdefault(owner.key, f"{', '.join(missing)} is not set here: the file is fine, "
                                                      "but Test and Run need it")

    def _owner(self, path: Path_) -> Spec | None:
        owners = [s for s in SPECS if s.path and self.is_active(s.key) and path[: len(s.path)] == s.path]
        return max(owners, key=lambda s: len(s.path)) if owners else None

    def _route(self, dotted: str, message: str, report: Report) -> None:
        path = tuple(int(p) if p.isdigit() else p for p in dotted.split(".")) if dotted else ()
        owner = self._owner(path)
        if owner is not None and owner.kind != "bool":
            unset = report.unset.get(str(owner.path[-1]))
            if unset:
                message = f"{', '.join(unset)} is not set here, so this cannot be checked ({message})"
            report.errors.setdefault(owner.key, message)
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
        block = connection.securityConfig
        for name in ("domain", "tokenEndpoint", "orgURL", "authority"):
            url = str(getattr(block, name, "") or "").strip()
            if not url or "$" in url:
                continue
            key = f"sec-{provider_tag(connection.provider)}-{name}"
            problem = host_name_problem(url)
            if problem:
                advice[key] = problem
            elif "://" not in url and name != "domain":
                advice[key] = f"no scheme: https://{url} is used (write http:// for an endpoint without TLS)"
        token = getattr(block, "jwtToken", None)
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
        """The base mapping with each edited field written over it, plus the references and warnings."""
        data = copy.deepcopy(self.base)
        written: list[Path_] = []
        references: dict[Path_, str] = {}
        warnings: dict[str, str] = {}
        keys = self.edited | {k for key in self.edited for k in BY_KEY[key].rewrites}
        for switch in SWITCHES:
            if switch.key in self.edited and switch.chosen(self.values[switch.key]) != switch.in_file(self.base):
                _put(data, switch.block, switch.fresh(self.values[switch.key]))
                written.append(switch.block)
                keys |= {s.key for s in SPECS if s.path[: len(switch.block)] == switch.block}
        # Fields that do not count first: another provider's field of the same name may be the one that does.
        for spec in sorted((s for s in SPECS if s.key in keys and s.path), key=lambda s: self.is_active(s.key)):
            value = self._file_value(spec, env, references, warnings) if self.is_active(spec.key) else None
            _put(data, spec.path, value)
            written.append(spec.path)
        data = _prune(data)
        for block in OPTIONAL_BLOCKS:
            if _get(data, block) == {}:
                del _get(data, block[:-1])[block[-1]]
        kept = {p: t for p, t in self.base_references.items() if not any(p[: len(w)] == w for w in written)}
        return data, {**kept, **references}, warnings

    def _file_value(self, spec: Spec, env: typing.Mapping[str, str], references: dict[Path_, str],
                    warnings: dict[str, str]) -> Any:
        """A field's value as the file holds it, `${VAR}`s expanded (the text is kept in `references`)."""
        value = self.values[spec.key]
        if spec.kind == "bool":
            return bool(value)
        if spec.kind == "lines":
            return [p for p in value if p.strip()] or None
        if spec.kind == "list":
            return [s.strip() for s in value.split(",") if s.strip()] or None
        text = str(value) if spec.required else str(value).strip()
        if spec.kind == "secret" and self.reference_mode[spec.key] and text:
            text = reference_text(text)
        if not text and not spec.required:
            return None
        if "$" not in text or (spec.kind == "secret" and not self.reference_mode[spec.key]):
            return text
        expanded, missing = expand_string(text, env)
        if expanded != text or missing:
            references[spec.path] = text
        if missing:
            warnings[spec.key] = f"{', '.join(missing)} is not set here: the file is fine, but Test and Run need it"
            return text
        return expanded

    # ----------------------------------------------------------------------------------- initial

    def _base_reference(self, spec: Spec) -> str | None:
        if spec.provider and _block_tag(self.base) != spec.provider:
            return None
        return self.base_references.get(spec.path)

    def _initial(self, spec: Spec) -> Any:
        """The value a field shows first: the reference text if the file had one, else the value."""
        tracking, registry = _get(self.base, MLFLOW + ("trackingUri",)), _get(self.base, MLFLOW + ("registryUri",))
        if spec.key == "registrySame":
            return registry in (None, tracking)
        if spec.key == "registryUri" and registry == tracking:
            return ""  # the box is ticked: the field shows the tracking URI greyed instead
        if spec.key == "authProvider":
            return _plain(_get(self.base, spec.path)) or ("openmetadata" if _get(self.base, SECURITY) else "no-auth")
        reference = self._base_reference(spec)
        if reference is not None and spec.kind not in ("lines", "list"):
            return variable_name(reference) if spec.kind == "secret" else reference
        value = _get(self.base, spec.path) if spec.provider is None or _block_tag(self.base) == spec.provider else None
        value = _default(spec.path) if value is None else _plain(value)
        if spec.kind == "bool":
            return bool(value)
        if spec.kind == "lines":
            return [str(v) for v in value] if isinstance(value, list) else []
        if isinstance(value, list):
            return ", ".join(map(str, value))
        return "" if value is None else str(value)


# ----------------------------------------------------------------------------------------- helpers


def file_stamp(path: Path | None) -> tuple[int, int, int] | None:
    """A file's identity and last change (inode, size, mtime), or None when it is not there."""
    try:
        info = os.stat(path) if path is not None else None
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns) if info else None


def _say(message: str, hint: str) -> str:
    """An engine problem as a line under a field: the form already says where, so drop "add `x`"."""
    if message == "required key is missing":
        return "required"
    return f"{message} ({hint})" if hint and not hint.startswith("add `") else message


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Enum):
        return value.value
    return value


def _default(path: Path_) -> Any:
    """The engine model's default for a key the file leaves out (None when it has none)."""
    model: Any = Workflow
    for part in path:
        info = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if info is None:
            return None
        model = next((a for a in (info.annotation, *typing.get_args(info.annotation))
                      if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return None if info.is_required() else _plain(info.get_default(call_default_factory=True))
    return None


def _get(data: Any, path: Path_) -> Any:
    for part in path:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _put(data: dict[str, Any], path: Path_, value: Any) -> None:
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
