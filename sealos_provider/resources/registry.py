"""Registry: the private image registry on its host, run from the rootfs's `images/registry.tar` on that host's Docker.

It therefore comes after that host's ContainerRuntime. Blobs live under `registryData` itself (not a symlink into the
rootfs, sealos #1605), the tree's `registry/` store is served after init, and the registry is healthy only when it
answers 401 without credentials and 200 with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

import pulumi
from pulumi.dynamic import Resource

from ..filetree import FileEntry
from ..image.env import RootfsEnv
from ..steps.htpasswd import htpasswd_line
from ..steps.layout import REGISTRY
from ..steps.registry import HTPASSWD_PATH, RegistryPlan
from .args import NodeArgs, node_props
from .base import NodeProvider
from .hosttree import Desired, desired_part, host_env, load_image, merged_env


def _htpasswd(env: RootfsEnv) -> FileEntry:
    return FileEntry.from_bytes(HTPASSWD_PATH, htpasswd_line(env.registry_username, env.registry_password), mode=0o600)


class RegistryProvider(NodeProvider):
    resource_type = "Registry"
    component = REGISTRY
    own_inputs = ("runtime_id", "wait_seconds")
    computed_inputs = ("endpoint",)
    data_env = ("registry_data",)
    ordering_inputs = ("runtime_id",)

    def secrets(self, props: Mapping[str, Any]) -> list[str]:
        pw = (props.get("env") or {}).get("registry_password")
        return [pw] if isinstance(pw, str) else []

    def validate(self, props: dict[str, Any]) -> list[tuple[str, str]]:
        wait = props.get("wait_seconds", 120)
        if not isinstance(wait, int) or wait < 1:
            return [("wait_seconds", f"must be a whole number of seconds >= 1, got {wait!r}")]
        return []

    def _want(self, props: Mapping[str, Any]) -> tuple[Any, RootfsEnv, Desired]:
        image = load_image(props)
        env = merged_env(image, props)
        return image, env, desired_part(image, env, REGISTRY, include_registry_store=True, extra_files=[_htpasswd(env)])

    def desired(self, props: dict[str, Any]) -> dict[str, Any]:
        _, env, want = self._want(props)
        return {**want.as_inputs(), "endpoint": f"{env.registry_domain}:{env.registry_port}"}

    def plan(self, props: Mapping[str, Any], olds: Optional[Mapping[str, Any]] = None) -> RegistryPlan:
        image, env, want = self._want(props)
        hooks = {"init-registry": image.kubefile.hook("init-registry"), "clean-registry": image.kubefile.hook("clean-registry")}
        flat = host_env(env, props)
        flat.pop("registryPassword", None)  # the hooks never need it: every child process would inherit it
        return RegistryPlan(
            tree=want.tree, env=flat, hooks=hooks, password=env.registry_password, wait_seconds=int(props.get("wait_seconds", 120))
        )

    def after_converge(self, props: Mapping[str, Any], plan: RegistryPlan, session: Any) -> dict[str, Any]:
        return {
            "endpoint": f"{plan.env['registryDomain']}:{plan.env['registryPort']}",
            "url": plan.url,
            "address": props["internal_address"],
        }


@dataclass
class RegistryArgs(NodeArgs):
    """`runtime`: the ContainerRuntime of the same host (the registry runs on its Docker). `wait_seconds`: how long
    to wait for the registry to answer after init (sealos waits 120 s)."""

    runtime: Any = None
    wait_seconds: Optional[pulumi.Input[int]] = None


class Registry(Resource, module="sealos", name="Registry"):
    """The private registry on one host (type token fixed: renaming breaks old stacks)."""

    connection: pulumi.Output[dict]
    internal_address: pulumi.Output[str]
    env: pulumi.Output[dict]
    endpoint: pulumi.Output[str]
    url: pulumi.Output[str]
    address: pulumi.Output[str]
    rendered: pulumi.Output[dict]
    tree_digest: pulumi.Output[str]
    installed: pulumi.Output[dict]
    host_key: pulumi.Output[str]
    drift: pulumi.Output[list]
    last_run: pulumi.Output[dict]

    def __init__(self, resource_name: str, args: RegistryArgs, opts: Optional[pulumi.ResourceOptions] = None):
        if args.runtime is None:
            raise TypeError("Registry needs runtime=<the ContainerRuntime of the same host>: it runs on that Docker")
        props = node_props(resource_name, args, "endpoint", "url", "address")
        props["runtime_id"] = args.runtime.id
        props["wait_seconds"] = args.wait_seconds if args.wait_seconds is not None else 120
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[args.runtime]))
        super().__init__(RegistryProvider(), resource_name, props, opts)
