"""The typed environment of the docker rootfs: one validated field per Kubefile ENV key, plus free-form extra env.

sealos passes every setting of the rootfs as a flat string map (image ENV, then user env, then SEALOS_SYS_* built-ins)
and never checks it: a port of "50OO" or a relative data path only fails deep inside a hook on a host. Here each key
has a snake_case Python name, a default taken from the Kubefile, a type and a check whose error names the field and
the fix, so bad input fails at `pulumi preview` instead. `ENV_FIELDS` is the one table that the README, the resource
args and the validation all read.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

from .kubefile import Kubefile

__all__ = ["EnvError", "EnvField", "ENV_FIELDS", "RootfsEnv", "SYS_PREFIX"]

SYS_PREFIX = "SEALOS_SYS"
_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_KUBE_VERSION = re.compile(r"v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")
#: bcrypt (the htpasswd hash) ignores every byte after the 72nd, so a longer password would match its own prefix.
BCRYPT_MAX_BYTES = 72


class EnvError(ValueError):
    """An invalid env value. `field` is the snake_case input name; the message says how to fix it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class EnvField:
    """One typed env input: Python name, Kubefile key, default, one-line doc, whether its value is a secret."""

    name: str
    key: str
    default: Any
    doc: str
    secret: bool = False
    kind: str = "str"  # str | path | port | host | version | ip | image


ENV_FIELDS: tuple[EnvField, ...] = (
    EnvField("cri_data", "criData", "/var/lib/docker", "Docker data root (daemon.json `data-root`).", kind="path"),
    EnvField("cri_dockerd_data", "criDockerdData", "/var/lib/cri-dockerd",
             "cri-dockerd root directory (`--cri-dockerd-root-directory`).", kind="path"),
    EnvField("registry_data", "registryData", "/var/lib/registry",
             "Where the private registry stores its blobs.", kind="path"),
    EnvField("registry_config", "registryConfig", "/etc/registry",
             "Directory holding registry_config.yml and registry_htpasswd.", kind="path"),
    EnvField("registry_domain", "registryDomain", "sealos.hub",
             "Host name of the private registry (added to /etc/hosts on every node).", kind="host"),
    EnvField("registry_port", "registryPort", 5000, "TCP port the private registry listens on.", kind="port"),
    EnvField("registry_username", "registryUsername", "admin", "Registry user (htpasswd and image-cri-shim auth).",
             kind="user"),
    EnvField("registry_password", "registryPassword", "passw0rd",
             "Registry password (bcrypt htpasswd and image-cri-shim auth); kept secret.", secret=True,
             kind="password"),
    EnvField("sandbox_image", "sandboxImage", "pause:3.9",
             "Pause image, without registry host: pulled as <domain>:<port>/<sandboxImage>.", kind="image"),
    EnvField("default_vip", "defaultVIP", "10.103.97.2", "Virtual IP of the API server load balancer on nodes.",
             kind="ip"),
    EnvField("cri_endpoint", "SEALOS_SYS_CRI_ENDPOINT", "/var/run/cri-dockerd.sock",
             "CRI runtime socket (cri-dockerd) used by kubelet and image-cri-shim.", kind="path"),
    EnvField("image_endpoint", "SEALOS_SYS_IMAGE_ENDPOINT", "/var/run/image-cri-shim.sock",
             "CRI image service socket (image-cri-shim).", kind="path"),
    EnvField("kube_version", "SEALOS_SYS_KUBE_VERSION", "",
             "Kubernetes version; defaults to the Kubefile's `version` label.", kind="version"),
)

_BY_NAME = {f.name: f for f in ENV_FIELDS}
_BY_KEY = {f.key: f for f in ENV_FIELDS}


def _coerce(spec: EnvField, value: Any) -> Any:
    """Bring one input to its field type; Pulumi sends numbers as floats and stack config may send strings."""
    if spec.kind == "port":
        if isinstance(value, bool):
            raise EnvError(spec.name, f"must be a port number (1-65535), got {value!r}")
        if isinstance(value, float):
            if not value.is_integer():
                raise EnvError(spec.name, f"must be a whole port number (1-65535), got {value!r}")
            return int(value)
        if isinstance(value, str):
            if not value.strip().isdigit():
                raise EnvError(spec.name, f"must be a port number (1-65535), got {value!r}")
            return int(value.strip())
        if isinstance(value, int):
            return value
        raise EnvError(spec.name, f"must be a port number (1-65535), got {type(value).__name__}")
    if not isinstance(value, str):
        raise EnvError(spec.name, f"must be a string, got {type(value).__name__}")
    return value


@dataclass
class RootfsEnv:
    """Every env key the docker rootfs reads, typed; `extra` holds further keys passed through unchanged."""

    cri_data: str = "/var/lib/docker"
    cri_dockerd_data: str = "/var/lib/cri-dockerd"
    registry_data: str = "/var/lib/registry"
    registry_config: str = "/etc/registry"
    registry_domain: str = "sealos.hub"
    registry_port: int = 5000
    registry_username: str = "admin"
    registry_password: str = field(default="passw0rd", repr=False)
    sandbox_image: str = "pause:3.9"
    default_vip: str = "10.103.97.2"
    cri_endpoint: str = "/var/run/cri-dockerd.sock"
    image_endpoint: str = "/var/run/image-cri-shim.sock"
    kube_version: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    # -- construction -----------------------------------------------------------------------------------------------

    @classmethod
    def from_kubefile(cls, kubefile: Kubefile, overrides: Mapping[str, Any] | None = None) -> "RootfsEnv":
        """Defaults from the Kubefile's ENV (and its `version` label), then `overrides` (snake_case inputs, as
        `from_inputs` takes them). Kubefile ENV keys without a typed field become extra env."""
        values: dict[str, Any] = {}
        extra: dict[str, str] = {}
        for key, value in kubefile.env.items():
            spec = _BY_KEY.get(key)
            if spec is not None:
                values[spec.name] = value
            elif not key.startswith(SYS_PREFIX):
                extra[key] = value
        if kubefile.version:
            # sealos forces SEALOS_SYS_KUBE_VERSION from the label, over any ENV of that name.
            values["kube_version"] = kubefile.version
        base = cls.from_inputs({**values, "extra": extra}, validate=False)
        if not overrides:
            return base
        merged: dict[str, Any] = {f.name: getattr(base, f.name) for f in ENV_FIELDS}
        merged_extra = dict(base.extra)
        for name, value in overrides.items():
            if name == "extra":
                merged_extra.update(_check_extra(value or {}))
            else:
                merged[name] = value
        merged["extra"] = merged_extra
        return cls.from_inputs(merged, validate=False)

    @classmethod
    def from_inputs(cls, inputs: Mapping[str, Any], *, validate: bool = True) -> "RootfsEnv":
        """Build from snake_case inputs (as Pulumi passes them: ints may arrive as floats); missing keys take the
        table's defaults; unknown keys are refused with the list of known ones."""
        kwargs: dict[str, Any] = {}
        for name, value in inputs.items():
            if name == "extra":
                kwargs["extra"] = _check_extra(value or {})
                continue
            spec = _BY_NAME.get(name)
            if spec is None:
                hint = ""
                if name in _BY_KEY:
                    hint = f" (use the snake_case name {_BY_KEY[name].name!r})"
                raise EnvError(name, f"unknown env input{hint}; known inputs: {', '.join(_BY_NAME)}, extra")
            if value is None:
                continue
            kwargs[name] = _coerce(spec, value)
        env = cls(**kwargs)
        if validate:
            env.validate()
        return env

    # -- checks -----------------------------------------------------------------------------------------------------

    def validate(self) -> "RootfsEnv":
        """Raise EnvError for the first invalid field; returns self so calls can chain."""
        for spec in ENV_FIELDS:
            _validate_field(spec, getattr(self, spec.name))
        _check_extra(self.extra)
        return self

    # -- views ------------------------------------------------------------------------------------------------------

    def to_env(self) -> dict[str, str]:
        """The flat string map scripts and templates see: Kubefile keys (incl. SEALOS_SYS_*) then the extra env."""
        out = {spec.key: str(getattr(self, spec.name)) for spec in ENV_FIELDS}
        out.update(self.extra)
        return out

    def to_inputs(self) -> dict[str, Any]:
        """The snake_case form `from_inputs` accepts (a round trip gives an equal object)."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out["extra"] = dict(self.extra)
        return out

    def secret_values(self) -> list[str]:
        """Values that must never reach a log, an error text or argv: redact these."""
        out = [str(getattr(self, spec.name)) for spec in ENV_FIELDS if spec.secret and getattr(self, spec.name)]
        return out

    def with_secrets_replaced(self) -> "RootfsEnv":
        """A copy whose every secret holds another valid value: rendering with it tells which files hold a secret."""
        changes = {}
        for spec in ENV_FIELDS:
            if spec.secret:
                current = str(getattr(self, spec.name) or "")
                changes[spec.name] = "secret-probe-b" if current == "secret-probe-a" else "secret-probe-a"
        return replace(self, **changes)

    def __repr__(self) -> str:  # the password never shows, even in a traceback's locals
        shown = ", ".join(
            f"{spec.name}={'***' if spec.secret else repr(getattr(self, spec.name))}" for spec in ENV_FIELDS
        )
        return f"RootfsEnv({shown}, extra={sorted(self.extra)!r})"


def _check_extra(extra: Any) -> dict[str, str]:
    """Extra env may add keys, never shadow a typed one or a sealos built-in, and must be exportable by bash."""
    if not isinstance(extra, Mapping):
        raise EnvError("extra", f"must be a mapping of name to string, got {type(extra).__name__}")
    out: dict[str, str] = {}
    for key, value in extra.items():
        if not isinstance(key, str) or not _SHELL_NAME.fullmatch(key):
            raise EnvError("extra", f"key {key!r} is not a valid shell variable name ([A-Za-z_][A-Za-z0-9_]*)")
        if key in _BY_KEY:
            raise EnvError("extra", f"key {key!r} is a typed input: set {_BY_KEY[key].name!r} instead of extra")
        if key in _BY_NAME:
            raise EnvError("extra", f"key {key!r} is a typed input: set it directly, not under extra")
        if key.startswith(SYS_PREFIX):
            raise EnvError("extra", f"key {key!r}: {SYS_PREFIX}* keys are reserved for sealos built-ins")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise EnvError("extra", f"value of {key!r} must be a string, got {type(value).__name__}")
        text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        if "\0" in text:
            raise EnvError("extra", f"value of {key!r} contains a NUL byte, which no environment can carry")
        out[key] = text
    return out


def _validate_field(spec: EnvField, value: Any) -> None:
    name = spec.name
    if spec.kind == "port":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            raise EnvError(name, f"must be an integer port between 1 and 65535, got {value!r}")
        return
    if not isinstance(value, str):
        raise EnvError(name, f"must be a string, got {type(value).__name__}")
    if "\0" in value:
        raise EnvError(name, "contains a NUL byte, which no environment can carry")
    if spec.kind == "path":
        if not value.startswith("/"):
            raise EnvError(name, f"must be an absolute path (starting with /), got {value!r}")
        normal = posixpath.normpath(value)
        if normal.startswith("//"):
            normal = "/" + normal.lstrip("/")
        if normal != value:
            raise EnvError(name, f"must be a normalised path: write {normal!r} instead of {value!r}")
        if value == "/":
            raise EnvError(name, "must not be the root directory: the clean hooks remove this path")
        if "\n" in value:
            raise EnvError(name, "must not contain a newline")
    elif spec.kind == "host":
        if not value or len(value) > 253 or not all(_HOST_LABEL.fullmatch(p) for p in value.split(".")):
            raise EnvError(
                name,
                f"must be a valid host name (letters, digits, '-', dot-separated labels of 1-63 chars), got {value!r}",
            )
        if value.lower() == "localhost" or value.lower().endswith(".localhost"):
            raise EnvError(
                name,
                f"must not be {value!r}: every node resolves it to itself, so no node but the registry host could reach "
                "the registry; choose a name of its own such as 'sealos.hub'",
            )
    elif spec.kind == "user":
        if not value:
            raise EnvError(name, "must not be empty: set a registry user name such as 'admin'")
        if ":" in value:
            raise EnvError(name, "must not contain ':' (htpasswd and image-cri-shim split user:password on it)")
        if any(c in value for c in "\n\r"):
            raise EnvError(name, "must not contain a line break (htpasswd is one line per user)")
    elif spec.kind == "password":
        if not value:
            raise EnvError(name, "must not be empty: sealos would then write no htpasswd and the registry stays open")
        if len(value.encode()) > BCRYPT_MAX_BYTES:
            raise EnvError(name, f"is longer than {BCRYPT_MAX_BYTES} bytes; bcrypt ignores the rest, shorten it")
    elif spec.kind == "image":
        if not value or any(c.isspace() for c in value):
            raise EnvError(name, f"must be an image reference without spaces such as 'pause:3.9', got {value!r}")
    elif spec.kind == "ip":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise EnvError(name, f"must be an IPv4 or IPv6 address such as 10.103.97.2, got {value!r}") from None
    elif spec.kind == "version":
        if value and not _KUBE_VERSION.fullmatch(value):
            raise EnvError(name, f"must be a Kubernetes version such as v1.28.15 (or empty), got {value!r}")


def markdown_table() -> str:
    """The README's env table, from `ENV_FIELDS` (a test keeps the README in step with it)."""
    rows = ["| input (`env.`) | Kubefile key | default | what it is |", "|---|---|---|---|"]
    for spec in ENV_FIELDS:
        default = "(the `version` label)" if spec.name == "kube_version" else f"`{spec.default}`"
        if spec.secret:
            default += " (secret)"
        rows.append(f"| `{spec.name}` | `{spec.key}` | {default} | {spec.doc} |")
    rows.append("| `extra` | any other key | | passed to the scripts and templates unchanged (not `SEALOS_SYS*`) |")
    return "\n".join(rows) + "\n"
