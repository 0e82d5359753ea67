"""The form's model: what the user typed, checked by the engine's validators, turned into a `Workflow`.

No Textual here, so it is tested without a terminal. Screens only read `values` and call `set`;
everything else (which fields count, where each goes in the file, which `${VAR}` references survive)
is decided here, from the table of `Spec`s in `tui.fields`: each field says where it lives in the
file, when it counts (`when`), and which fields are written again when it changes (`rewrites`).

A save keeps what the user did not touch: the draft starts from the file's own mapping (or the
template's), overlays only the edited fields, and validates the result with the engine's `Workflow`
model, so untouched keys and their `${VAR}` references come back unchanged. The mapping need not be
valid: a file with mistakes opens with each problem under its field, which is how it gets fixed.
Unset `${VAR}`s stay as written (opening a file must not need its secrets); Test and Run name them.
"""
from __future__ import annotations

import copy
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from workflow import LoadedWorkflow, UserError, Workflow, check_jwt, expand_string, explain, host_name_problem, \
    parse_workflow
from workflow import NEW_WORKFLOW_YAML as TEMPLATE_YAML

from .fields import BY_KEY, FORM_STEPS, MLFLOW, OPTIONAL_BLOCKS, SECURITY, SPECS, STEP_PREFIXES, SWITCHES, Spec, \
    Values, block_tag, provider_tag
from .mapping import Path_, get_at, model_default, plain, prune, put_at
from .references import reference_text, variable_name


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
                put_at(data, switch.block, switch.fresh(self.values[switch.key]))
                written.append(switch.block)
                keys |= {s.key for s in SPECS if s.path[: len(switch.block)] == switch.block}
        # Fields that do not count first: another provider's field of the same name may be the one that does.
        for spec in sorted((s for s in SPECS if s.key in keys and s.path), key=lambda s: self.is_active(s.key)):
            value = self._file_value(spec, env, references, warnings) if self.is_active(spec.key) else None
            put_at(data, spec.path, value)
            written.append(spec.path)
        data = prune(data)
        for block in OPTIONAL_BLOCKS:
            if get_at(data, block) == {}:
                del get_at(data, block[:-1])[block[-1]]
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
        if spec.provider and block_tag(self.base) != spec.provider:
            return None
        return self.base_references.get(spec.path)

    def _initial(self, spec: Spec) -> Any:
        """The value a field shows first: the reference text if the file had one, else the value."""
        tracking, registry = get_at(self.base, MLFLOW + ("trackingUri",)), get_at(self.base, MLFLOW + ("registryUri",))
        if spec.key == "registrySame":
            return registry in (None, tracking)
        if spec.key == "registryUri" and registry == tracking:
            return ""  # the box is ticked: the field shows the tracking URI greyed instead
        if spec.key == "authProvider":
            return plain(get_at(self.base, spec.path)) or ("openmetadata" if get_at(self.base, SECURITY) else "no-auth")
        reference = self._base_reference(spec)
        if reference is not None and spec.kind not in ("lines", "list"):
            return variable_name(reference) if spec.kind == "secret" else reference
        value = get_at(self.base, spec.path) if spec.provider is None or block_tag(self.base) == spec.provider else None
        value = model_default(spec.path) if value is None else plain(value)
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
