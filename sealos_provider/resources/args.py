"""Typed arguments shared by the resources: how to reach a host, and the Kubefile's env as inputs.

`ConnectionArgs` uses pulumi-command's field names, so one connection serves both packages; a
`pulumi_command.remote.ConnectionArgs` object (or a plain dict) is accepted wherever ours is. Secret fields are wrapped
in `Output.secret` before they reach the engine, so the state file holds them encrypted whatever the caller passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping, Optional, Union

import pulumi

CONNECTION_SECRETS = ("password", "private_key", "private_key_password", "sudo_password")
ENV_SECRETS = ("registry_password",)

_CONNECTION_FIELDS = (
    "host",
    "port",
    "user",
    "password",
    "private_key",
    "private_key_password",
    "agent_socket_path",
    "dial_error_limit",
    "per_dial_timeout",
    "proxy",
    "host_key_policy",
    "host_key",
    "known_hosts_path",
    "sudo",
    "sudo_password",
    "command_timeout",
)


@dataclass
class ConnectionArgs:
    """How to reach a host over SSH. Field names follow `pulumi_command.remote.ConnectionArgs`; the extra fields are
    the host-key policy (`tofu` by default: the first key seen is recorded and any later change fails loudly;
    `strict` with `known_hosts_path`, `pinned` with `host_key`, or an explicit `insecure`) and sudo for non-root users.
    """

    host: pulumi.Input[str]
    port: Optional[pulumi.Input[int]] = None
    user: Optional[pulumi.Input[str]] = None
    password: Optional[pulumi.Input[str]] = None
    private_key: Optional[pulumi.Input[str]] = None
    private_key_password: Optional[pulumi.Input[str]] = None
    agent_socket_path: Optional[pulumi.Input[str]] = None
    dial_error_limit: Optional[pulumi.Input[int]] = None
    per_dial_timeout: Optional[pulumi.Input[int]] = None
    proxy: Optional[Any] = None
    host_key_policy: Optional[pulumi.Input[str]] = None
    host_key: Optional[pulumi.Input[str]] = None
    known_hosts_path: Optional[pulumi.Input[str]] = None
    sudo: Optional[pulumi.Input[bool]] = None
    sudo_password: Optional[pulumi.Input[str]] = None
    command_timeout: Optional[pulumi.Input[int]] = None


@dataclass
class EnvArgs:
    """The Kubefile's ENV as typed inputs (snake_case; `criData` is `cri_data`). Unset fields take the Kubefile's
    defaults; `extra` passes further keys to the scripts and templates unchanged."""

    cri_data: Optional[pulumi.Input[str]] = None
    cri_dockerd_data: Optional[pulumi.Input[str]] = None
    registry_data: Optional[pulumi.Input[str]] = None
    registry_config: Optional[pulumi.Input[str]] = None
    registry_domain: Optional[pulumi.Input[str]] = None
    registry_port: Optional[pulumi.Input[int]] = None
    registry_username: Optional[pulumi.Input[str]] = None
    registry_password: Optional[pulumi.Input[str]] = None
    sandbox_image: Optional[pulumi.Input[str]] = None
    default_vip: Optional[pulumi.Input[str]] = None
    cri_endpoint: Optional[pulumi.Input[str]] = None
    image_endpoint: Optional[pulumi.Input[str]] = None
    extra: Optional[pulumi.Input[Mapping[str, str]]] = None


def _as_dict(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return {k: v for k, v in obj.items() if v is not None}
    out = {}
    for name in names:
        value = getattr(obj, name, None)
        if value is None:  # pulumi input types keep camelCase-free python names; try pulumi.get as a fallback
            try:
                value = pulumi.get(obj, name)
            except Exception:  # noqa: BLE001
                value = None
        if value is not None:
            out[name] = value
    return out


def connection_input(conn: Union[ConnectionArgs, Mapping[str, Any], Any]) -> dict[str, Any]:
    """A connection as the engine should store it: plain fields, secrets wrapped, proxy nested the same way."""
    if conn is None:
        raise TypeError("connection is required (host, and a key, password or agent)")
    out = _as_dict(conn, _CONNECTION_FIELDS)
    for name in CONNECTION_SECRETS:
        if out.get(name) is not None:
            out[name] = pulumi.Output.secret(out[name])
    if out.get("proxy") is not None:
        out["proxy"] = connection_input(out["proxy"])
    return out


def env_input(env: Union[EnvArgs, Mapping[str, Any], None]) -> dict[str, Any]:
    names = tuple(f.name for f in fields(EnvArgs))
    out = _as_dict(env, names)
    for name in ENV_SECRETS:
        if out.get(name) is not None:
            out[name] = pulumi.Output.secret(out[name])
    return out


@dataclass
class NodeArgs:
    """Arguments every per-host resource takes."""

    connection: Union[ConnectionArgs, Mapping[str, Any], Any]
    image: Any  # a RootfsImage resource
    internal_address: Optional[pulumi.Input[str]] = None
    env: Union[EnvArgs, Mapping[str, Any], None] = None
    cluster_name: Optional[pulumi.Input[str]] = None
    data_root: Optional[pulumi.Input[str]] = None
    keep_data: Optional[pulumi.Input[bool]] = None
    arch: Optional[pulumi.Input[str]] = None
    extra: dict[str, Any] = field(default_factory=dict)


# Outputs every node resource computes; seeded with None so Pulumi exposes them as attributes.
NODE_OUTPUTS = ("rendered", "tree_digest", "installed", "host_key", "drift", "last_run")


def node_props(resource_name: str, args: NodeArgs, *outputs: str) -> dict[str, Any]:
    """The inputs every node resource sends, plus None seeds for the common outputs and for `outputs`."""
    image = args.image
    seeds = {name: None for name in NODE_OUTPUTS + outputs}
    return seeds | {
        "resource_name": resource_name,
        "connection": connection_input(args.connection),
        "internal_address": args.internal_address,
        "rootfs_dir": image.rootfs_dir,
        "artifact_cache": image.artifact_cache,
        "image_digest": image.digest,
        "arch": args.arch if args.arch is not None else image.arch,
        "cluster_name": args.cluster_name or "default",
        "data_root": args.data_root or "/var/lib/sealos",
        "env": env_input(args.env),
        "keep_data": args.keep_data if args.keep_data is not None else False,
    }
