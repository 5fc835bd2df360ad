"""A post-install smoke check with `pulumi_command.remote.Command`: the same connection dict serves both packages.

The first node pushes a tiny locally made image to the registry, every node pulls it back through `<domain>:<port>`.
The password reaches `docker login` on stdin only (Command's `stdin`), never on a command line. Needs the
`pulumi-resource-command` plugin (see the README: it cannot be built here, its Go module is not served).
"""

from pathlib import Path

import pulumi
from pulumi_command import remote

from sealos_provider import ContainerRuntime, ContainerRuntimeArgs, EnvArgs, Registry, RegistryArgs, RootfsImage, RootfsImageArgs

config = pulumi.Config()
nodes = config.require_object("nodes")
password = config.require_secret("registryPassword")
image_ref = config.get("smokeImage") or "demo/hello:1"
env = EnvArgs(registry_password=password)
image = RootfsImage(
    "rootfs", RootfsImageArgs(components=["runtime", "registry"], artifact_cache=config.get("artifactCache"))
)


def connection(node):
    return {
        "host": node["host"],
        "port": node.get("port", 22),
        "user": node.get("user", "root"),
        "private_key": pulumi.Output.secret(Path(node["privateKeyPath"]).expanduser().read_text()),
    }


registry_address = nodes[0].get("internalAddress") or nodes[0]["host"]
runtimes = [
    ContainerRuntime(f"runtime-{n['name']}", ContainerRuntimeArgs(connection=connection(n), image=image, cri_dockerd=False,
                     internal_address=n.get("internalAddress"), env=env, registry_address=registry_address))
    for n in nodes
]
registry = Registry("registry", RegistryArgs(connection=connection(nodes[0]), image=image,
                    internal_address=nodes[0].get("internalAddress"), env=env, runtime=runtimes[0]))

ref = registry.endpoint.apply(lambda ep: f"{ep}/{image_ref}")
login = registry.endpoint.apply(lambda ep: f"docker login --username admin --password-stdin {ep} >/dev/null")
push = remote.Command(
    "push-smoke-image",
    connection=connection(nodes[0]),
    stdin=password,
    create=pulumi.Output.all(login, ref).apply(
        lambda a: f"{a[0]} && d=$(mktemp -d) && echo hello > $d/hello && tar -C $d -c . | docker import - {a[1]} && docker push {a[1]}"
    ),
    opts=pulumi.ResourceOptions(depends_on=[registry]),
)
for n, rt in zip(nodes, runtimes):
    remote.Command(
        f"pull-{n['name']}",
        connection=connection(n),
        stdin=password,
        create=pulumi.Output.all(login, ref).apply(lambda a: f"{a[0]} && docker pull {a[1]} && docker image inspect {a[1]} >/dev/null && echo pulled"),
        opts=pulumi.ResourceOptions(depends_on=[push, rt]),
    )
