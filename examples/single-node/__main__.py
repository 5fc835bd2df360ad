"""One host: container runtime, the registry on it, and a single control plane."""

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
node = config.require_object("nodes")[0]
components = config.get_object("components") or ["runtime", "cri", "registry", "kube"]
connection = {
    "host": node["host"],
    "port": node.get("port", 22),
    "user": node.get("user", "root"),
    "private_key": Path(node["privateKeyPath"]).expanduser().read_text(),
}
env = EnvArgs(registry_password=config.require_secret("registryPassword"))
common = dict(connection=connection, internal_address=node.get("internalAddress"), env=env)

image = RootfsImage("rootfs", RootfsImageArgs(components=components, artifact_cache=config.get("artifactCache")))
runtime = ContainerRuntime("runtime", ContainerRuntimeArgs(image=image, cri_dockerd="cri" in components, **common))
registry = Registry("registry", RegistryArgs(image=image, runtime=runtime, **common))
pulumi.export("registry", registry.endpoint)
if "kube" in components and "cri" in components:
    master = KubeNode("master", KubeNodeArgs(image=image, runtime=runtime, registry=registry, role="control-plane", **common))
    pulumi.export("kubeconfig", master.kubeconfig)
