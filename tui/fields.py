"""The form's fields: where each lives in the workflow file, when it counts and what it rewrites.

One table of `Spec`s, read by the `Draft` (to fill, write and check the file) and by the steps (to
lay out their fields), so a field's path and rules are written once. The securityConfig fields are
not listed by hand: they are made from the engine's `SECURITY_CONFIGS` models, one per provider.
`Switch`es are the choices (sink type, auth provider) that select which block the file holds.
"""
from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from typing import Any, Callable, Literal

from pydantic import SecretStr

from workflow import SECURITY_CONFIGS, AuthProvider, VerifySSL

from .mapping import Path_, get_at, plain

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


def block_tag(data: dict[str, Any]) -> str | None:
    """The securityConfig block a file holds, read as the engine reads it (a bare jwtToken is a bot JWT)."""
    block = get_at(data, SECURITY)
    if not isinstance(block, dict):
        return None
    if "jwtToken" in block:
        return "openmetadata"
    return provider_tag(str(plain(get_at(data, OM + ("authProvider",))) or "openmetadata"))


SWITCHES = (
    Switch("sinkType", SINK, lambda choice: {"type": choice, "config": {}}, lambda choice: choice,
           lambda data: get_at(data, SINK + ("type",))),
    Switch("authProvider", SECURITY, lambda choice: None, provider_tag, block_tag),
)
