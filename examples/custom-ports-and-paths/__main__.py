"""Custom env: every Kubefile ENV key is a typed input. Changing `registry_port` later re-renders and restarts on the
registry host and on every node that uses it; changing `cri_data` replaces the runtime (deleting first: data moves)."""

from pathlib import Path

import pulumi

from sealos_provider import ContainerRuntime, ContainerRuntimeArgs, EnvArgs, Registry, RegistryArgs, RootfsImage, RootfsImageArgs

config = pulumi.Config()
node = config.require_object("nodes")[0]
components = config.get_object("components") or ["runtime", "cri", "registry"]
connection = {
    "host": node["host"],
    "port": node.get("port", 22),
    "user": node.get("user", "root"),
    "private_key": Path(node["privateKeyPath"]).expanduser().read_text(),
}
env = EnvArgs(
    registry_port=5443,
    registry_domain="registry.internal",
    registry_username="builder",
    registry_password=config.require_secret("registryPassword"),
    cri_data="/data/docker",
    cri_dockerd_data="/data/cri-dockerd",
    registry_data="/data/registry",
    registry_config="/etc/sealos-registry",
)
image = RootfsImage(
    "rootfs",
    RootfsImageArgs(components=[c for c in components if c != "kube"], artifact_cache=config.get("artifactCache")),
)
runtime = ContainerRuntime(
    "runtime",
    ContainerRuntimeArgs(connection=connection, image=image, internal_address=node.get("internalAddress"), env=env,
                         cluster_name="lab", keep_data=True, cri_dockerd="cri" in components),
)
registry = Registry(
    "registry",
    RegistryArgs(connection=connection, image=image, internal_address=node.get("internalAddress"), env=env,
                 runtime=runtime, cluster_name="lab", keep_data=True),
)
pulumi.export("registry", registry.endpoint)
