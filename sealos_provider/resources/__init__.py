"""The Pulumi resources: the only layer that imports pulumi.

Type tokens (`pulumi-python:dynamic/sealos:<Name>`) and provider class paths are fixed: state stores the provider by
module path and class name, so renaming either breaks `destroy` of existing stacks.
"""

from .args import ConnectionArgs, EnvArgs
from .container_runtime import ContainerRuntime, ContainerRuntimeArgs
from .kube_node import KubeNode, KubeNodeArgs
from .registry import Registry, RegistryArgs
from .rootfs_image import RootfsImage, RootfsImageArgs

__all__ = [
    "ConnectionArgs",
    "EnvArgs",
    "RootfsImage",
    "RootfsImageArgs",
    "ContainerRuntime",
    "ContainerRuntimeArgs",
    "Registry",
    "RegistryArgs",
    "KubeNode",
    "KubeNodeArgs",
]
