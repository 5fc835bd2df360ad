"""The repository's ready stack: hosts and settings come from stack config (see Pulumi.yaml), resources are built
here, and `__main__.py` only calls `program()`. The demo driver runs the same function as an inline program.

Config (the project namespace, `sealos-provider:`):
- `nodes`: list of {name, host, port, user, privateKeyPath, internalAddress, roles, hostKeyPolicy, hostKey}; roles are
  any of `registry`, `control-plane`, `worker` (a node without roles only gets the container runtime).
- `sshPrivateKey` (secret): key text used for nodes that have no `privateKeyPath`.
- `registryUsername`, `registryPassword` (secret); `env`: further env overrides in snake_case (cri_data, ...).
- `components`: which of runtime (Docker), cri (cri-dockerd), registry, kube to install (default: all four).
- `rootfsDir`, `artifactCache`, `keepData`, `clusterName`, `dataRoot`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pulumi

from .resources import (
    ContainerRuntime,
    ContainerRuntimeArgs,
    KubeNode,
    KubeNodeArgs,
    Registry,
    RegistryArgs,
    RootfsImage,
    RootfsImageArgs,
)



def _connection(node: dict[str, Any], default_key: Optional[pulumi.Output]) -> dict[str, Any]:
    conn: dict[str, Any] = {"host": node["host"], "port": int(node.get("port", 22)), "user": node.get("user", "root")}
    if node.get("privateKeyPath"):
        conn["private_key"] = pulumi.Output.secret(Path(node["privateKeyPath"]).expanduser().read_text())
    elif default_key is not None:
        conn["private_key"] = default_key
    for src, dst in (("hostKeyPolicy", "host_key_policy"), ("hostKey", "host_key"), ("password", "password")):
        if node.get(src):
            conn[dst] = node[src]
    return conn


def program() -> None:
    cfg = pulumi.Config()
    nodes: list[dict[str, Any]] = cfg.require_object("nodes")
    if not nodes:
        raise ValueError("config `nodes` is empty: list at least one node (host, port, user, privateKeyPath)")
    components = cfg.get_object("components") or ["runtime", "cri", "registry", "kube"]
    default_key = cfg.get_secret("sshPrivateKey")
    env: dict[str, Any] = dict(cfg.get_object("env") or {})
    if cfg.get("registryUsername") and "registry_username" not in env:  # env.registry_username, when set, wins
        env["registry_username"] = cfg.get("registryUsername")
    password = cfg.get_secret("registryPassword")
    if password is not None:
        env["registry_password"] = password
    common = dict(
        cluster_name=cfg.get("clusterName"),
        data_root=cfg.get("dataRoot"),
        keep_data=cfg.get_bool("keepData"),
    )

    image = RootfsImage(
        "rootfs",
        RootfsImageArgs(rootfs_dir=cfg.get("rootfsDir"), artifact_cache=cfg.get("artifactCache"), components=components),
    )

    registry_nodes = [n for n in nodes if "registry" in n.get("roles", [])] or nodes[:1]
    registry_node = registry_nodes[0]
    registry_address = registry_node.get("internalAddress") or registry_node["host"]

    runtimes: dict[str, ContainerRuntime] = {}
    for node in nodes:
        runtimes[node["name"]] = ContainerRuntime(
            f"runtime-{node['name']}",
            ContainerRuntimeArgs(
                connection=_connection(node, default_key),
                image=image,
                internal_address=node.get("internalAddress"),
                env=env,
                registry_address=registry_address,
                cri_dockerd="cri" in components,
                **common,
            ),
        )

    registry = None
    if "registry" in components:
        registry = Registry(
            "registry",
            RegistryArgs(
                connection=_connection(registry_node, default_key),
                image=image,
                internal_address=registry_node.get("internalAddress"),
                env=env,
                runtime=runtimes[registry_node["name"]],
                **common,
            ),
        )
        pulumi.export("registry_endpoint", registry.endpoint)
        pulumi.export("registry_url", registry.url)

    kube_nodes: dict[str, KubeNode] = {}
    if "kube" in components and "cri" not in components:
        raise ValueError("components: kube needs cri (kubelet talks to Docker through cri-dockerd); add cri or drop kube")
    if "kube" in components and registry is not None:
        masters = [n for n in nodes if "control-plane" in n.get("roles", [])]
        workers = [n for n in nodes if "worker" in n.get("roles", [])]
        first: Optional[KubeNode] = None
        for node in masters + workers:
            role = "control-plane" if node in masters else "worker"
            kube_nodes[node["name"]] = KubeNode(
                f"kube-{node['name']}",
                KubeNodeArgs(
                    connection=_connection(node, default_key),
                    image=image,
                    internal_address=node.get("internalAddress"),
                    env=env,
                    role=role,
                    runtime=runtimes[node["name"]],
                    registry=registry,
                    control_plane=first,
                    **common,
                ),
            )
            if first is None and role == "control-plane":
                first = kube_nodes[node["name"]]

    pulumi.export("image", {"version": image.version, "digest": image.digest})
    pulumi.export(
        "nodes",
        {
            name: {
                "address": rt.internal_address,
                "daemon_json": rt.installed.apply(lambda i: (i or {}).get("/etc/docker/daemon.json")),
                "steps_ran": rt.last_run.apply(lambda r: (r or {}).get("ran", [])),
                "kube": kube_nodes[name].role if name in kube_nodes else None,
            }
            for name, rt in runtimes.items()
        },
    )
