"""RootfsImage through the real engine (no host involved): refreshes of an unchanged tree report nothing, however
often they run, and an edit of the tree shows up in preview and in refresh."""

from __future__ import annotations

import shutil
from pathlib import Path

import pulumi

from sealos_provider import RootfsImage, RootfsImageArgs

REPO = Path(__file__).resolve().parents[2]


def test_refresh_is_quiet_on_an_unchanged_tree_and_sees_an_edit(pulumi_workspace, real_artifacts, tmp_path):
    rootfs = tmp_path / "rootfs"
    shutil.copytree(REPO / "rootfs", rootfs, ignore=shutil.ignore_patterns(".gitkeep"))

    def program() -> None:
        image = RootfsImage("rootfs", RootfsImageArgs(rootfs_dir=str(rootfs), components=["runtime", "registry"]))
        pulumi.export("digest", image.digest)

    stack = pulumi_workspace.stack(program, project="image-refresh", stack="dev")
    first = stack.up(color="never").outputs["digest"].value
    for _ in range(3):
        assert set(stack.refresh(color="never").summary.resource_changes) == {"same"}
    assert set(stack.preview(color="never").change_summary) == {"same"}

    script = rootfs / "scripts" / "init-docker.sh"
    script.write_text(script.read_text() + "\n# edited\n")
    assert stack.preview(color="never").change_summary.get("update") == 1  # check hashes the tree again
    refreshed = stack.refresh(color="never")
    assert refreshed.summary.resource_changes.get("update") == 1
    image_state = next(r for r in stack.export_stack().deployment["resources"] if r["urn"].endswith("::rootfs"))
    assert image_state["outputs"]["digest"] != first  # refresh records the tree as it is now
    assert stack.up(color="never").outputs["digest"].value == image_state["outputs"]["digest"]
    assert set(stack.refresh(color="never").summary.resource_changes) == {"same"}
