"""sealos-provider: Pulumi dynamic resources that install the sealos docker-rootfs node stack over SSH.

`from sealos_provider import ContainerRuntime, Registry, KubeNode, RootfsImage` loads the Pulumi layer on first use
only, so `sealos_provider.image`, `.remote` and `.steps` stay importable without pulumi (a CLI or a test can use them
alone) and importing the package has no side effects.
"""

from __future__ import annotations

import importlib
from typing import Any

_RESOURCE_NAMES = {
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
}

__all__ = sorted(_RESOURCE_NAMES)


def __getattr__(name: str) -> Any:
    if name in _RESOURCE_NAMES:
        return getattr(importlib.import_module(".resources", __name__), name)
    raise AttributeError(f"module 'sealos_provider' has no attribute {name!r}")
