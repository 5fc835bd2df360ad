"""Host-key policies: decide whether the key a host presented is the one we mean to talk to.

- strict:   the key must be in an OpenSSH known_hosts file (hashed entries and `[host]:port` names work).
- pinned:   the key must equal `host_key` (a public key or its SHA256: fingerprint).
- tofu:     trust on first use; the key seen is returned to the caller, which records it (a Pulumi output). When a
            key was recorded before (`host_key`), a different key fails with "host key changed", naming both
            fingerprints, so a reinstalled or impersonated host shows up as an error, never silently.
- insecure: accept any key; explicit opt-in only.

Host-key errors are never retried: retrying cannot fix a wrong key.
"""

from __future__ import annotations

import base64
import hashlib
import os

import paramiko

from .connection import ConnectionSpec, parse_host_key
from .errors import HostKeyError


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's `SHA256:` fingerprint (base64, no padding) of a public key."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


def fingerprint_of(host_key: str) -> str:
    """The SHA256: fingerprint of a host_key input (a public key line, or already a fingerprint)."""
    kind, blob = parse_host_key(host_key)
    if blob is None:
        return kind
    return "SHA256:" + base64.b64encode(hashlib.sha256(base64.b64decode(blob)).digest()).decode().rstrip("=")


def authorized_key(key: paramiko.PKey) -> str:
    """The key as an authorized_keys line (`ssh-ed25519 AAAA...`): the form recorded for tofu."""
    return f"{key.get_name()} {key.get_base64()}"


def preferred_key_type(spec: ConnectionSpec) -> str | None:
    """The host-key algorithm to ask for first, so a host with several keys presents the one we expect."""
    if spec.host_key_policy in ("pinned", "tofu") and spec.host_key:
        kind, blob = parse_host_key(spec.host_key)
        return kind if blob is not None else None
    if spec.host_key_policy == "strict" and spec.known_hosts_path:
        keys = _known_hosts(spec).lookup(spec.known_hosts_name)
        if keys:
            return list(keys.keys())[0]
    return None


def verify(spec: ConnectionSpec, key: paramiko.PKey, *, step: str = "connect") -> None:
    """Raise HostKeyError unless `key` is acceptable for `spec` under its policy."""
    seen_fp = fingerprint(key)
    policy = spec.host_key_policy
    if policy == "insecure":
        return
    if policy == "strict":
        entries = _known_hosts(spec).lookup(spec.known_hosts_name)
        if not entries:
            raise HostKeyError(
                f"host key {seen_fp} ({key.get_name()}) is not in {spec.known_hosts_path} for {spec.known_hosts_name}; "
                f"verify it out of band, then add it (ssh-keyscan -p {spec.port} {spec.host} >> {spec.known_hosts_path})",
                host=spec.address,
                step=step,
                seen=seen_fp,
            )
        if any(k.asbytes() == key.asbytes() for k in entries.values()):
            return
        expected = ", ".join(fingerprint(k) for k in entries.values())
        raise HostKeyError(
            f"host key mismatch: {spec.known_hosts_path} has {expected} for {spec.known_hosts_name} but the host "
            f"presented {seen_fp}; if the host was reinstalled, remove the old entry "
            f"(ssh-keygen -R '{spec.known_hosts_name}' -f {spec.known_hosts_path}) after verifying the new key",
            host=spec.address,
            step=step,
            expected=expected,
            seen=seen_fp,
        )
    if not spec.host_key:
        if policy == "tofu":
            return  # first use: the caller records Session.host_key
        raise HostKeyError("host_key_policy 'pinned' needs host_key", host=spec.address, step=step, seen=seen_fp)
    if _matches(spec.host_key, key):
        return
    expected_fp = fingerprint_of(spec.host_key)
    if policy == "tofu":
        raise HostKeyError(
            f"host key changed: recorded {expected_fp}, the host now presents {seen_fp} ({key.get_name()}). "
            "If the host was reinstalled on purpose, verify the new key out of band and set the connection's "
            "host_key to it (or replace the resource); otherwise something is intercepting the connection",
            host=spec.address,
            step=step,
            expected=expected_fp,
            seen=seen_fp,
        )
    raise HostKeyError(
        f"host key mismatch: pinned {expected_fp}, the host presented {seen_fp} ({key.get_name()}); "
        "check the host_key input against `ssh-keyscan` run from a trusted network",
        host=spec.address,
        step=step,
        expected=expected_fp,
        seen=seen_fp,
    )


def _matches(expected: str, key: paramiko.PKey) -> bool:
    kind, blob = parse_host_key(expected)
    if blob is None:
        return kind.rstrip("=") == fingerprint(key)
    return base64.b64decode(blob) == key.asbytes()


def _known_hosts(spec: ConnectionSpec) -> paramiko.HostKeys:
    path = os.path.expanduser(spec.known_hosts_path or "")
    try:
        return paramiko.HostKeys(path)
    except (OSError, paramiko.SSHException) as exc:
        raise HostKeyError(f"cannot read known_hosts_path {spec.known_hosts_path}: {exc}", host=spec.address) from None
