"""Three hosts: the first only runs the registry (on its own Docker); the second is the control plane, the third a
worker. Every host's /etc/hosts maps the registry domain to the registry host's internal address."""

from pathlib import Path

import pulumi

from sealos_provider import (
    ContainerRuntime,
    ContainerRuntimeArgs,
    EnvArgs,
    KubeNode,
    KubeNodeArgs,
    Registry,
    RegistryArgs,
    RootfsImage,
    RootfsImageArgs,
)

config = pulumi.Config()
hosts = config.require_object("nodes")[:3]
components = config.get_object("components") or ["runtime", "cri", "registry", "kube"]
env = EnvArgs(registry_password=config.require_secret("registryPassword"))
image = RootfsImage("rootfs", RootfsImageArgs(components=components, artifact_cache=config.get("artifactCache")))


def connection(node):
    return {
        "host": node["host"],
        "port": node.get("port", 22),
        "user": node.get("user", "root"),
        "private_key": Path(node["privateKeyPath"]).expanduser().read_text(),
    }


registry_host = hosts[0]
registry_address = registry_host.get("internalAddress") or registry_host["host"]
runtimes = [
    ContainerRuntime(
        f"runtime-{n['name']}",
        ContainerRuntimeArgs(
            connection=connection(n), image=image, internal_address=n.get("internalAddress"), env=env,
            registry_address=registry_address,
            cri_dockerd=i > 0 and "cri" in components,  # the registry host needs no CRI
        ),
    )
    for i, n in enumerate(hosts)
]
registry = Registry(
    "registry",
    RegistryArgs(connection=connection(registry_host), image=image, internal_address=registry_host.get("internalAddress"),
                 env=env, runtime=runtimes[0]),
)
pulumi.export("registry", registry.endpoint)

if "kube" in components and "cri" in components:
    master = KubeNode(
        "master",
        KubeNodeArgs(connection=connection(hosts[1]), image=image, internal_address=hosts[1].get("internalAddress"),
                     env=env, runtime=runtimes[1], registry=registry, role="control-plane"),
    )
    worker = KubeNode(
        "worker",
        KubeNodeArgs(connection=connection(hosts[2]), image=image, internal_address=hosts[2].get("internalAddress"),
                     env=env, runtime=runtimes[2], registry=registry, role="worker", control_plane=master),
    )
    pulumi.export("kubeconfig", master.kubeconfig)
