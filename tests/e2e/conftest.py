"""End-to-end fixtures: artifact sets for the rootfs, and the e2e marker on every test here.

The generic ground (engine, node image, nodes, Pulumi workspace) lives in tests/conftest.py.
"""
from __future__ import annotations

from pathlib import Path

import pytest


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def real_artifacts(docker_engine: str) -> Path:
    """The ``real`` artifact set (Debian's docker.io, the locally built registry image, ...) filled into the default
    artifact cache; returns the set's directory (slot paths under it)."""
    from sealos_provider.devkit.local_artifacts import ensure_artifacts

    return ensure_artifacts("real")


@pytest.fixture(scope="session")
def doubles_artifacts(docker_engine: str) -> Path:
    """The ``with-doubles`` set (real programs + doubles for kube*, sealctl, cri-dockerd, image-cri-shim), filled into
    its own artifact cache (``artifact_cache_dir("with-doubles")``); returns the set's directory."""
    from sealos_provider.devkit.local_artifacts import ensure_artifacts

    return ensure_artifacts("with-doubles")


@pytest.fixture(scope="session")
def doubles_artifact_cache(doubles_artifacts: Path) -> Path:
    """The image layer's artifact cache dir holding the with-doubles set (pass it to the rootfs resource)."""
    from sealos_provider.devkit.local_artifacts import artifact_cache_dir

    cache = artifact_cache_dir("with-doubles")
    assert cache is not None
    return cache


# What "leaves the node as it was" compares: files under /etc, the bin dirs, /var/lib and /opt (3 levels, without the
# directories that change on their own: Docker's own data when criData pre-exists as a volume, systemd, apt, dpkg,
# host keys), the installed unit files, and /etc/hosts.
SNAPSHOT = (
    "find /etc /usr/bin /usr/local/bin /var/lib /opt -maxdepth 3 -xdev "
    "! -path '/var/lib/docker/*' ! -path '/var/lib/systemd/*' ! -path '/var/lib/apt/*' ! -path '/var/lib/dpkg/*' "
    "! -path '/etc/ssh/ssh_host_*' ! -path '/var/lib/private/*' 2>/dev/null | sort; "
    "echo '--- units'; systemctl list-unit-files --no-legend --no-pager | awk '{print $1}' | sort; "
    "echo '--- hosts'; cat /etc/hosts"
)


@pytest.fixture(scope="session")
def host_snapshot():
    """``host_snapshot(node)`` -> the listing that a destroy must leave unchanged."""
    return lambda node: node.exec(SNAPSHOT).stdout
