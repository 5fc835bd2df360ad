"""ConnectionSpec: how to reach one host, with the field names of `pulumi_command.remote.ConnectionArgs`.

One connection value serves both packages: the same dict (snake_case or the camelCase names the Pulumi engine uses)
or even a `ConnectionArgs` object is accepted. On top of pulumi-command's fields it adds what that package lacks: a
host-key policy, sudo options, a per-command timeout and a key file path.

The spec is a frozen dataclass of plain values, so a provider can pickle it; secret fields are excluded from `repr`
and are listed by `secret_values()` so the session can redact them. Nothing here opens a socket.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from .errors import InvalidConnection

HOST_KEY_POLICIES = ("strict", "pinned", "tofu", "insecure")
SECRET_FIELDS = ("password", "private_key", "private_key_password", "sudo_password")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$"
)
_USER = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.@-]*\$?$")
_PULUMI_SECRET_SIG = "4dabf18193072939515e22adb298388d"

# camelCase (as the engine and YAML programs spell them) -> field name.
_ALIASES = {
    "privateKey": "private_key",
    "privateKeyPassword": "private_key_password",
    "privateKeyPath": "private_key_path",
    "agentSocketPath": "agent_socket_path",
    "dialErrorLimit": "dial_error_limit",
    "perDialTimeout": "per_dial_timeout",
    "hostKeyPolicy": "host_key_policy",
    "hostKey": "host_key",
    "knownHostsPath": "known_hosts_path",
    "sudoPassword": "sudo_password",
    "commandTimeout": "command_timeout",
}


@dataclass(frozen=True)
class ConnectionSpec:
    """How to reach and log into one host.

    + host: name, IPv4 or IPv6 literal (brackets optional)
    + port, user: 22 and root by default
    + password / private_key (PEM text) / private_key_path / private_key_password / agent_socket_path: credentials,
      tried in the order key, agent, password (the password also answers keyboard-interactive prompts)
    + dial_error_limit: dial attempts (-1 = unlimited), per_dial_timeout: seconds per attempt (0 = no timeout)
    + proxy: a jump host (another ConnectionSpec, nestable)
    + host_key_policy: strict (known_hosts_path) | pinned (host_key) | tofu (host_key = the recorded key, if any) |
      insecure (explicit opt-in)
    + sudo: None = auto (sudo when user is not root); sudo_password goes on stdin only
    + command_timeout: default per-command timeout in seconds
    """

    host: str
    port: int = 22
    user: str = "root"
    password: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)
    private_key_password: str | None = field(default=None, repr=False)
    agent_socket_path: str | None = None
    dial_error_limit: int = 10
    per_dial_timeout: float = 15
    proxy: "ConnectionSpec | None" = None
    host_key_policy: str = "tofu"
    host_key: str | None = None
    known_hosts_path: str | None = None
    sudo: bool | None = None
    sudo_password: str | None = field(default=None, repr=False)
    command_timeout: float = 300
    private_key_path: str | None = None

    # ----------------------------------------------------------------------------------------------- construction
    @classmethod
    def from_dict(cls, data: Any, *, _prefix: str = "") -> "ConnectionSpec":
        """Build from a dict (snake_case or camelCase keys), a nested proxy dict, or a ConnectionArgs-like object.

        Numbers may arrive as floats (the engine sends every number as a float); integral floats are accepted for
        integer fields. Unknown keys are refused by name, so a typo does not silently drop a setting.
        """
        if isinstance(data, ConnectionSpec):
            return data
        if data is None:
            raise InvalidConnection(_prefix + "host", "a connection is required (at least `host`)")
        raw = _as_mapping(data, _prefix)
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in raw.items():
            name = _ALIASES.get(key, key)
            if name not in known:
                raise InvalidConnection(
                    _prefix + str(key), f"unknown connection field; known fields: {', '.join(sorted(known))}"
                )
            value = _unwrap_secret(value)
            if value is None:
                continue
            values[name] = value
        if "host" not in values:
            raise InvalidConnection(_prefix + "host", "is required: the address of the host to connect to")
        for name in ("port", "dial_error_limit"):
            if name in values:
                values[name] = _as_int(values[name], _prefix + name)
        for name in ("per_dial_timeout", "command_timeout"):
            if name in values:
                values[name] = _as_number(values[name], _prefix + name)
        if "sudo" in values and not isinstance(values["sudo"], bool):
            raise InvalidConnection(_prefix + "sudo", "must be true, false or unset (auto: sudo when user is not root)")
        for name in (
            "host",
            "user",
            "password",
            "private_key",
            "private_key_password",
            "agent_socket_path",
            "host_key_policy",
            "host_key",
            "known_hosts_path",
            "sudo_password",
            "private_key_path",
        ):
            if name in values and not isinstance(values[name], str):
                raise InvalidConnection(_prefix + name, f"must be a string, got {type(values[name]).__name__}")
        if "host" in values:
            values["host"] = _strip_brackets(values["host"])
        if "proxy" in values:
            values["proxy"] = cls.from_dict(values["proxy"], _prefix=_prefix + "proxy.")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain snake_case dict (secrets included: it is the input value; store it only as a Pulumi secret)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, ConnectionSpec):
                value = value.to_dict()
            out[f.name] = value
        return out

    # ----------------------------------------------------------------------------------------------- derived values
    @property
    def address(self) -> str:
        """`host:port`, with IPv6 literals bracketed (`[fd00::1]:22`): the form used in every message."""
        return join_host_port(self.host, self.port)

    @property
    def known_hosts_name(self) -> str:
        """The name OpenSSH writes in known_hosts: the bare host on port 22, `[host]:port` otherwise."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"

    @property
    def use_sudo(self) -> bool:
        return self.user != "root" if self.sudo is None else self.sudo

    def secret_values(self) -> list[str]:
        """Every secret of this spec and of its proxies: what the session redacts."""
        out = [v for v in (getattr(self, n) for n in SECRET_FIELDS) if v]
        if self.proxy is not None:
            out.extend(self.proxy.secret_values())
        return out

    def with_host_key(self, host_key: str | None) -> "ConnectionSpec":
        """A copy with `host_key` set (tofu: the key recorded by the previous operation)."""
        from dataclasses import replace

        return replace(self, host_key=host_key)

    # ----------------------------------------------------------------------------------------------- validation
    def validate(self, _prefix: str = "") -> "ConnectionSpec":
        """Raise InvalidConnection naming the first bad field and the fix; return self when all is well."""
        p = _prefix
        if not self.host or not _valid_host(self.host):
            raise InvalidConnection(
                p + "host",
                f"{self.host!r} is not a host name or IP address (IPv6 literals may be written with or without brackets; give the port in `port`)",
            )
        if not 1 <= self.port <= 65535:
            raise InvalidConnection(p + "port", f"{self.port} is out of range; use 1-65535")
        if not self.user or not _USER.match(self.user):
            raise InvalidConnection(p + "user", f"{self.user!r} is not a valid user name")
        if self.dial_error_limit == 0 or self.dial_error_limit < -1:
            raise InvalidConnection(
                p + "dial_error_limit",
                f"{self.dial_error_limit} is invalid; use a positive number of attempts or -1 for unlimited",
            )
        if self.per_dial_timeout < 0:
            raise InvalidConnection(p + "per_dial_timeout", "must be >= 0 seconds (0 = no timeout)")
        if self.command_timeout <= 0:
            raise InvalidConnection(p + "command_timeout", "must be > 0 seconds")
        if self.host_key_policy not in HOST_KEY_POLICIES:
            raise InvalidConnection(
                p + "host_key_policy", f"{self.host_key_policy!r} is not one of {', '.join(HOST_KEY_POLICIES)}"
            )
        if self.host_key_policy == "pinned" and not self.host_key:
            raise InvalidConnection(
                p + "host_key",
                "is required with host_key_policy 'pinned': give the host's public key (authorized_keys format) or its SHA256: fingerprint (ssh-keyscan -p PORT HOST | ssh-keygen -lf -)",
            )
        if self.host_key:
            try:
                parse_host_key(self.host_key)
            except ValueError as exc:
                raise InvalidConnection(p + "host_key", str(exc)) from None
        if self.host_key_policy == "strict":
            if not self.known_hosts_path:
                raise InvalidConnection(
                    p + "known_hosts_path", "is required with host_key_policy 'strict' (for example ~/.ssh/known_hosts)"
                )
            if not os.path.isfile(os.path.expanduser(self.known_hosts_path)):
                raise InvalidConnection(
                    p + "known_hosts_path",
                    f"{self.known_hosts_path} does not exist; create it with ssh-keyscan or choose another policy",
                )
        if self.private_key is not None and "PRIVATE KEY" not in self.private_key:
            raise InvalidConnection(
                p + "private_key",
                "does not look like a PEM or OpenSSH private key (the text between -----BEGIN ... PRIVATE KEY----- and -----END ...-----); to use a key file set private_key_path",
            )
        if self.private_key_path is not None and not os.path.isfile(os.path.expanduser(self.private_key_path)):
            raise InvalidConnection(p + "private_key_path", f"{self.private_key_path} does not exist")
        if self.private_key and self.private_key_path:
            raise InvalidConnection(
                p + "private_key_path", "set either private_key (inline) or private_key_path, not both"
            )
        if self.proxy is not None:
            if self.proxy.sudo or self.proxy.sudo_password:
                raise InvalidConnection(
                    p + "proxy.sudo", "a jump host only forwards the connection; sudo does not apply to it"
                )
            self.proxy.validate(p + "proxy.")
        return self


def join_host_port(host: str, port: int) -> str:
    """`host:port`, bracketing IPv6 literals."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_host_key(text: str) -> tuple[str, str | None]:
    """('fingerprint', None) for `SHA256:...`, or (key_type, base64) for an authorized_keys/known_hosts-style line.

    A known_hosts line (`host ssh-ed25519 AAAA...`) is accepted too, using its key part.
    """
    text = text.strip()
    if text.startswith("SHA256:"):
        body = text[len("SHA256:") :]
        try:
            raw = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the SHA256: fingerprint is not valid base64 (copy it from `ssh-keygen -lf`)") from None
        if len(raw) != 32:
            raise ValueError("the SHA256: fingerprint must decode to 32 bytes (copy it from `ssh-keygen -lf`)")
        return text, None
    parts = text.split()
    for i in range(len(parts) - 1):
        if parts[i].startswith(("ssh-", "ecdsa-", "sk-")):
            try:
                blob = base64.b64decode(parts[i + 1], validate=True)
            except (binascii.Error, ValueError):
                break
            return parts[i], base64.b64encode(blob).decode()
    raise ValueError(
        "is neither an authorized_keys-format public key (`ssh-ed25519 AAAA...`) nor a SHA256: fingerprint"
    )


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return True
    except ValueError:
        return bool(_HOSTNAME.match(host))


def _strip_brackets(host: str) -> str:
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1]
    return host


def _unwrap_secret(value: Any) -> Any:
    if isinstance(value, Mapping) and _PULUMI_SECRET_SIG in value:
        return value.get("value")
    return value


def _as_mapping(data: Any, prefix: str) -> Mapping[str, Any]:
    if isinstance(data, Mapping):
        return data
    # A pulumi_command ConnectionArgs / ProxyConnectionArgs (or anything with the same attributes).
    names = [f.name for f in fields(ConnectionSpec)]
    out = {}
    for name in names:
        try:
            value = getattr(data, name)
        except (AttributeError, KeyError):
            continue
        if value is not None:
            out[name] = value
    if "host" not in out:
        raise InvalidConnection(
            prefix + "host", f"cannot read a connection from a {type(data).__name__}: give a dict or a ConnectionArgs"
        )
    return out


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise InvalidConnection(name, "must be a whole number")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise InvalidConnection(name, f"must be a whole number, got {value!r}")


def _as_number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise InvalidConnection(name, "must be a number of seconds")
    if isinstance(value, (int, float)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidConnection(name, f"must be a number of seconds, got {value!r}") from None
