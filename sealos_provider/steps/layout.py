"""Which part of the rootfs each resource owns, and where each rendered file ends up on the host.

One tree, three owners: ContainerRuntime pushes the base (scripts, docker and cri-dockerd files), Registry the registry
image, store and config, KubeNode the shim and kube files. Each pushes its part under its own push manifest, so a push
never removes another part's files and a password change never re-sends Docker. The `INSTALLED` table is what probes
and `read` compare: the rendered copy in the rootfs against the installed file the scripts copied from it.
"""

from __future__ import annotations

import fnmatch
from typing import Iterable, Mapping

from ..filetree import FileEntry

RUNTIME = "runtime"
REGISTRY = "registry"
KUBE = "kube"
COMPONENTS = (RUNTIME, REGISTRY, KUBE)

# First match wins; anything unmatched belongs to the runtime, which pushes the common base (scripts, Kubefile, ...).
_OWNERSHIP: tuple[tuple[str, str], ...] = (
    ("etc/registry*", REGISTRY),
    ("images/registry.tar", REGISTRY),
    ("registry/*", REGISTRY),
    ("etc/image-cri-shim*", KUBE),
    ("etc/kubelet*", KUBE),
    ("etc/10-kubeadm.conf", KUBE),
    ("etc/systemd/*", KUBE),
    ("etc/sysctl.d/*", KUBE),
    ("etc/limits.d/*", KUBE),
    ("bin/*", KUBE),
    ("cri/image-cri-shim", KUBE),
    ("opt/sealctl", KUBE),
)

# Rendered or static file in the rootfs -> installed path, per component. `{registryConfig}` is filled from the env.
INSTALLED: Mapping[str, Mapping[str, str]] = {
    RUNTIME: {
        "etc/daemon.json": "/etc/docker/daemon.json",
        "etc/docker.service": "/etc/systemd/system/docker.service",
        "etc/cri-docker.service": "/etc/systemd/system/cri-docker.service",
        "etc/cri-docker.socket": "/etc/systemd/system/cri-docker.socket",
    },
    REGISTRY: {
        "etc/registry_config.yml": "{registryConfig}/registry_config.yml",
        "etc/registry_htpasswd": "{registryConfig}/registry_htpasswd",
        "etc/registry.service": "/etc/systemd/system/registry.service",
    },
    KUBE: {
        "etc/image-cri-shim.yaml": "/etc/image-cri-shim.yaml",
        "etc/image-cri-shim.service": "/etc/systemd/system/image-cri-shim.service",
        "etc/kubelet.service": "/etc/systemd/system/kubelet.service",
        "etc/10-kubeadm.conf": "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
    },
}

UNITS: Mapping[str, tuple[str, ...]] = {
    RUNTIME: ("docker.service", "cri-docker.socket", "cri-docker.service"),
    REGISTRY: ("registry.service",),
    KUBE: ("image-cri-shim.service", "kubelet.service"),
}


def owner_of(path: str) -> str:
    for pattern, owner in _OWNERSHIP:
        if fnmatch.fnmatchcase(path, pattern):
            return owner
    return RUNTIME


def select(entries: Iterable[FileEntry], component: str) -> list[FileEntry]:
    """The entries of the tree that `component` pushes."""
    return [e for e in entries if owner_of(e.path) == component]


def installed_paths(component: str, env: Mapping[str, str], present: Iterable[str]) -> dict[str, str]:
    """rootfs path -> installed path for the files of `component` that the tree actually has."""
    have = set(present)
    return {
        src: dst.format(registryConfig=env.get("registryConfig", "/etc/registry"))
        for src, dst in INSTALLED[component].items()
        if src in have
    }
