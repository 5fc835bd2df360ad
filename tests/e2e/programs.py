"""Small Pulumi programs the end-to-end tests share."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import pulumi

from sealos_provider import (
    ContainerRuntime,
    ContainerRuntimeArgs,
    EnvArgs,
    Registry,
    RegistryArgs,
    RootfsImage,
    RootfsImageArgs,
)


def runtime_and_registry(
    connection: Mapping[str, Any], internal_address: str, password: str, **env_overrides: Any
) -> Callable[[], None]:
    """Docker and the registry on one host (what has real programs here), exporting the registry's endpoint;
    `env_overrides` are further `EnvArgs` fields (e.g. cri_data)."""

    def program() -> None:
        env = EnvArgs(registry_password=password, **env_overrides)
        common = dict(connection=dict(connection), internal_address=internal_address, env=env)
        image = RootfsImage("rootfs", RootfsImageArgs(components=["runtime", "registry"]))
        runtime = ContainerRuntime("runtime", ContainerRuntimeArgs(image=image, cri_dockerd=False, **common))
        registry = Registry("registry", RegistryArgs(image=image, runtime=runtime, **common))
        pulumi.export("endpoint", registry.endpoint)

    return program
