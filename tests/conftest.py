"""Shared fixtures for tests that need the local ground: Docker engine, node image, node containers, Pulumi CLI.

All of them do their own setup (idempotent, cached under ~/.cache/sealos-provider) so a fresh CI machine needs no
manual step; nothing is skipped silently: a setup step that fails fails the test with its reason.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Callable, Iterator

import pytest


@pytest.fixture(scope="session")
def docker_engine() -> str:
    """A running Docker engine (installs docker.io / starts dockerd when needed)."""
    from sealos_provider.devkit.engine import ensure_engine

    return ensure_engine()


@pytest.fixture(scope="session")
def node_image(docker_engine: str) -> str:
    """The node image tag (built from its recipe on first use)."""
    from sealos_provider.devkit.node_image import ensure_node_image

    return ensure_node_image()


@pytest.fixture
def nodes(node_image: str) -> Iterator[Callable[..., "object"]]:
    """Factory: ``nodes(n)`` -> a NodeSet of n ready nodes; every set is torn down after the test, pass or fail."""
    from sealos_provider.devkit.nodes import NodeSet, start_nodes

    made: list[NodeSet] = []

    def factory(n: int = 1, *, prefix: str | None = None) -> NodeSet:
        prefix = prefix or f"t{os.getpid() % 100000}-{secrets.token_hex(2)}"
        nodeset = start_nodes(n, prefix=prefix, image=node_image)
        made.append(nodeset)
        return nodeset

    yield factory
    for nodeset in made:
        nodeset.teardown()


@pytest.fixture(scope="session")
def pulumi_bin() -> Path:
    """The bin dir holding ``pulumi`` at the pinned version and the dynamic-provider shim (built when missing)."""
    from sealos_provider.devkit.pulumi_cli import ensure_pulumi

    return ensure_pulumi()


@pytest.fixture
def pulumi_workspace(tmp_path: Path, pulumi_bin: Path):
    """A temp file backend + PULUMI_HOME with offline settings; ``.stack(program)`` makes inline-program stacks."""
    from sealos_provider.devkit.pulumi_cli import Workspace

    ws = Workspace(tmp_path / "pulumi", pulumi_bin)
    yield ws
    ws.destroy_all()
