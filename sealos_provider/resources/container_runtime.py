"""ContainerRuntime: Docker and cri-dockerd on one host, from the rootfs's init-docker.sh and init-cri-dockerd.sh.

Create pushes the rootfs base (only changed files), runs `check`, maps the registry domain in /etc/hosts, and installs
Docker (daemon.json with data-root = criData and the registry as an insecure registry) and cri-dockerd. Delete runs
the clean scripts, which remove exactly what the install recorded.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import pulumi
from pulumi.dynamic import Resource

from ..steps.layout import RUNTIME
from ..steps.runtime import RuntimePlan
from .args import ConnectionArgs, EnvArgs, NodeArgs, node_props
from .base import NodeProvider
from .hosttree import desired_part, host_env, load_image, merged_env


class ContainerRuntimeProvider(NodeProvider):
    resource_type = "ContainerRuntime"
    component = RUNTIME
    own_inputs = ("registry_address", "cri_dockerd")
    data_env = ("cri_data", "cri_dockerd_data")

    def secrets(self, props: Mapping[str, Any]) -> list[str]:
        pw = (props.get("env") or {}).get("registry_password")
        return [pw] if isinstance(pw, str) else []

    def validate(self, props: dict[str, Any]) -> list[tuple[str, str]]:
        problems = []
        addr = props.get("registry_address") or props.get("internal_address")
        try:
            ipaddress.ip_address(str(addr))
        except ValueError:
            problems.append(
                ("registry_address", f"{addr!r} is not an IP address: give the registry host's address as other nodes reach it")
            )
        return problems

    @staticmethod
    def _slots(props: Mapping[str, Any]) -> set[str]:
        return {"runtime", "cri"} if props.get("cri_dockerd", True) else {"runtime"}

    def plan(self, props: Mapping[str, Any], olds: Optional[Mapping[str, Any]] = None) -> RuntimePlan:
        image = load_image(props)
        env = merged_env(image, props)
        want = desired_part(image, env, RUNTIME, artifact_components=self._slots(props))
        flat = host_env(env, props)
        flat.pop("registryPassword", None)  # the runtime's scripts never need it
        return RuntimePlan(
            tree=want.tree,
            env=flat,
            hooks={"check": image.kubefile.hook("check"), "clean": image.kubefile.hook("clean")},
            registry_address=str(props.get("registry_address") or props["internal_address"]),
            cri_dockerd=bool(props.get("cri_dockerd", True)),
            previous_domain=self._previous_domain(image, olds),
        )

    @staticmethod
    def _previous_domain(image: Any, olds: Optional[Mapping[str, Any]]) -> str:
        """The registry domain the last up mapped in /etc/hosts (an update to a new domain removes that entry)."""
        if not olds:
            return ""
        try:
            return merged_env(image, olds).registry_domain
        except Exception:  # noqa: BLE001 - old state this version cannot read: nothing to clean up after
            return ""

    def desired(self, props: dict[str, Any]) -> dict[str, Any]:
        image = load_image(props)
        env = merged_env(image, props)
        out = desired_part(image, env, RUNTIME, artifact_components=self._slots(props)).as_inputs()
        if not props.get("cri_dockerd", True):  # cri-dockerd's units are rendered but not installed: not ours to show
            out["rendered"] = {k: v for k, v in out["rendered"].items() if not k.startswith("etc/cri-docker.")}
        out["registry_address"] = props.get("registry_address") or props["internal_address"]
        return out


@dataclass
class ContainerRuntimeArgs(NodeArgs):
    """`registry_address`: the address the registry domain maps to in this host's /etc/hosts (the registry host's
    internal address; default: this host's own, for a single node). `cri_dockerd=False` installs Docker alone (a host
    that only serves the registry needs no CRI)."""

    registry_address: Optional[pulumi.Input[str]] = None
    cri_dockerd: Optional[pulumi.Input[bool]] = None


class ContainerRuntime(Resource, module="sealos", name="ContainerRuntime"):
    """Docker + cri-dockerd installed from the rootfs on one host (type token fixed: renaming breaks old stacks)."""

    connection: pulumi.Output[dict]
    internal_address: pulumi.Output[str]
    registry_address: pulumi.Output[str]
    env: pulumi.Output[dict]
    rendered: pulumi.Output[dict]
    tree_digest: pulumi.Output[str]
    installed: pulumi.Output[dict]
    host_key: pulumi.Output[str]
    drift: pulumi.Output[list]
    last_run: pulumi.Output[dict]
    rootfs_dir: pulumi.Output[str]
    artifact_cache: pulumi.Output[str]
    arch: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    data_root: pulumi.Output[str]

    def __init__(self, resource_name: str, args: ContainerRuntimeArgs, opts: Optional[pulumi.ResourceOptions] = None):
        props = node_props(resource_name, args)
        props["registry_address"] = args.registry_address
        props["cri_dockerd"] = args.cri_dockerd if args.cri_dockerd is not None else True
        super().__init__(ContainerRuntimeProvider(), resource_name, props, opts)


__all__ = ["ContainerRuntime", "ContainerRuntimeArgs", "ConnectionArgs", "EnvArgs", "ContainerRuntimeProvider"]
