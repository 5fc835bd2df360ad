"""Digests of rendered trees and the RootfsImage model: stable across order and mtimes, sensitive to bytes and modes."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import yaml

from sealos_provider.filetree import tree_digest
from sealos_provider.image.artifacts import ArtifactError, ArtifactStore
from sealos_provider.image.env import RootfsEnv
from sealos_provider.image.render import render_tree
from sealos_provider.image.rootfs import RootfsImage

ROOTFS = Path(__file__).resolve().parents[2] / "rootfs"
ENV = {"registryPort": "5000", "x": "1"}


def _tree(root: Path) -> None:
    files = {
        "Kubefile": ("FROM scratch\nLABEL version=v1.28.15\nLABEL check=\"check.sh \\$registryData\"\n"
                     "ENV registryPort=5000\n", 0o644),
        "etc/a.conf.tmpl": ("port={{ .registryPort }}\n", 0o600),
        "etc/b.txt": ("static\n", 0o644),
        "scripts/init.sh": ("#!/bin/bash\necho init\n", 0o755),
        "scripts/check.sh": ("#!/bin/bash\necho check\n", 0o755),
        "registry/docker/registry/v2/blobs/x": ("blob", 0o644),
    }
    for rel, (text, mode) in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        os.chmod(path, mode)


def test_digest_stable_across_runs_order_and_mtimes(tmp_path: Path) -> None:
    _tree(tmp_path)
    first = tree_digest(render_tree(tmp_path, ENV))
    assert tree_digest(reversed(render_tree(tmp_path, ENV))) == first
    past = time.time() - 86400
    for path in tmp_path.rglob("*"):
        os.utime(path, (past, past))
    assert tree_digest(render_tree(tmp_path, ENV)) == first
    copy = tmp_path.parent / "copy"
    shutil.copytree(tmp_path, copy)  # another directory, other inode order and mtimes
    assert tree_digest(render_tree(copy, ENV)) == first


@pytest.mark.parametrize(
    "change",
    ["byte_static", "byte_template", "mode_script", "mode_template", "env_value", "new_file", "rename"],
)
def test_digest_changes_with_any_byte_or_mode(tmp_path: Path, change: str) -> None:
    _tree(tmp_path)
    before = tree_digest(render_tree(tmp_path, ENV))
    env = dict(ENV)
    if change == "byte_static":
        (tmp_path / "etc/b.txt").write_text("statiC\n")
    elif change == "byte_template":
        (tmp_path / "etc/a.conf.tmpl").write_text("port={{ .registryPort }} \n")
    elif change == "mode_script":
        os.chmod(tmp_path / "scripts/init.sh", 0o744)
    elif change == "mode_template":
        os.chmod(tmp_path / "etc/a.conf.tmpl", 0o640)
    elif change == "env_value":
        env["registryPort"] = "5001"
    elif change == "new_file":
        (tmp_path / "etc/c.txt").write_text("")
    elif change == "rename":
        (tmp_path / "etc/b.txt").rename(tmp_path / "etc/b2.txt")
    assert tree_digest(render_tree(tmp_path, env)) != before


# -- RootfsImage ---------------------------------------------------------------------------------------------------


def _manifest(path: Path) -> Path:
    slots = {
        "bin/kubelet": {"component": "kube", "kind": "binary", "version": "v1.28.15", "mode": "0755",
                        "sources": {"amd64": {"url": "", "sha256": ""}}},
        "cri/docker.tgz": {"component": "runtime", "kind": "archive", "version": "27.5.1", "mode": "0644",
                           "sources": {"amd64": {"url": "", "sha256": ""}}},
    }
    path.write_text(yaml.safe_dump({"schema": 1, "slots": slots}))
    return path


def _image(tmp_path: Path) -> RootfsImage:
    root = tmp_path / "rootfs"
    _tree(root)
    manifest = _manifest(root / "artifacts.yaml")
    store = ArtifactStore(cache_dir=tmp_path / "cache", arch="amd64", manifest=manifest)
    return RootfsImage.load(root, store)


def test_rootfs_image_model(tmp_path: Path) -> None:
    image = _image(tmp_path)
    assert image.version == "v1.28.15"
    assert image.hooks() == {"check": "bash check.sh $registryData", "init": "bash init.sh",
                             "clean": "bash clean.sh", "init-registry": "bash init-registry.sh",
                             "clean-registry": "bash clean-registry.sh"}
    env = image.default_env()
    assert env.kube_version == "v1.28.15" and env.registry_port == 5000
    problems = image.check_artifacts({"kube"})
    assert len(problems) == 1 and "bin/kubelet" in problems[0] and "fill --slot bin/kubelet" in problems[0]
    with pytest.raises(ArtifactError, match="bin/kubelet"):
        image.host_tree(env, {"kube"})


def test_host_tree(tmp_path: Path) -> None:
    image = _image(tmp_path)
    (tmp_path / "kubelet").write_bytes(b"kubelet bits")
    (tmp_path / "docker.tgz").write_bytes(b"docker bits")
    image.store.fill_file("bin/kubelet", tmp_path / "kubelet")
    image.store.fill_file("cri/docker.tgz", tmp_path / "docker.tgz")
    env = image.default_env({"registry_port": 5443})
    tree = {e.path: e for e in image.host_tree(env, {"kube"})}
    assert sorted(tree) == ["Kubefile", "bin/kubelet", "etc/a.conf", "etc/b.txt", "scripts/check.sh",
                            "scripts/init.sh"]
    assert tree["etc/a.conf"].read() == b"port=5443\n" and tree["etc/a.conf"].mode == 0o600
    assert tree["bin/kubelet"].read() == b"kubelet bits" and tree["bin/kubelet"].mode == 0o755
    both = {e.path for e in image.host_tree(env, {"kube", "runtime"}, include_registry_store=True)}
    assert {"cri/docker.tgz", "registry/docker/registry/v2/blobs/x"} <= both
    assert "artifacts.yaml" not in both
    assert [e.path for e in image.registry_store_tree()] == ["registry/docker/registry/v2/blobs/x"]
    bad = RootfsEnv.from_inputs({}, validate=False)
    bad.registry_port = 0
    with pytest.raises(ValueError, match="registry_port"):
        image.host_tree(bad, {"kube"})


def test_source_digest_covers_sources_and_artifacts(tmp_path: Path) -> None:
    image = _image(tmp_path)
    first = image.source_digest
    assert first == image.source_digest and first.startswith("sha256:")
    (tmp_path / "kubelet").write_bytes(b"kubelet bits")
    image.store.fill_file("bin/kubelet", tmp_path / "kubelet")
    filled = image.source_digest
    assert filled != first
    (tmp_path / "kubelet").write_bytes(b"other kubelet")
    image.store.fill_file("bin/kubelet", tmp_path / "kubelet")
    assert image.source_digest != filled
    again = image.source_digest
    (image.rootfs_dir / "etc/a.conf.tmpl").write_text("port={{ .registryPort }}\n\n")
    assert image.source_digest != again


def test_the_real_rootfs_loads() -> None:
    store = ArtifactStore(cache_dir=Path("/nonexistent-cache-dir"), arch="amd64")
    image = RootfsImage.load(ROOTFS, store)
    assert image.version and set(image.hooks()) >= {"check", "init", "clean", "init-registry", "clean-registry"}
    env = image.default_env().validate()
    assert env.to_env()["registryDomain"] == "sealos.hub"
    assert len(image.check_artifacts({"runtime", "cri", "registry", "kube", "tools"})) == 11
    assert image.source_digest.startswith("sha256:")


@pytest.mark.parametrize("password", ["plain-pw-123", 'quo"te\\back<&>', "ünï cødé", "{{ x }} $(id) 'q'"])
def test_rendered_files_that_hold_the_password_are_owner_only_however_it_is_escaped(password: str) -> None:
    image = RootfsImage.load(ROOTFS, ArtifactStore(cache_dir=Path("/nonexistent-cache-dir"), arch="amd64"))
    env = image.default_env({"registry_password": password}).validate()
    tree = {e.path: e for e in render_tree(ROOTFS, env.to_env(), secrets_probe=env.with_secrets_replaced().to_env())}
    holders = {path for path, e in tree.items() if e.mode & 0o077 == 0 and not path.startswith("scripts/")}
    assert {"etc/registry.yml", "etc/image-cri-shim.yaml"} <= holders
    for path in ("etc/registry.yml", "etc/image-cri-shim.yaml"):
        assert tree[path].mode == 0o600, path
    # everything else rendered keeps its template's mode: only what holds the secret is closed
    assert tree["etc/daemon.json"].mode == 0o644 and tree["etc/registry_config.yml"].mode & 0o044
    host = {e.path: e.mode for e in image.host_tree(env, set())}
    assert host["etc/registry.yml"] == 0o600 and host["etc/daemon.json"] == 0o644
