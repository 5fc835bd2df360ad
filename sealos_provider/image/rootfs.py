"""The rootfs cluster image as one object: Kubefile + source tree + artifact slots -> what one host receives.

Resources ask three questions of it: what are the defaults and hooks (from the Kubefile), what is the exact tree a
host must hold for a given env and set of components (rendered templates, artifacts at their slot paths), and has
the image's source changed (a digest over the tree and the artifact checksums, for Pulumi's diff).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..filetree import FileEntry, scan_dir, tree_digest
from .artifacts import ArtifactError, ArtifactStore
from .env import RootfsEnv
from .kubefile import OPTIONAL_HOOKS, REQUIRED_HOOKS, Kubefile, parse_kubefile
from .render import render_tree

__all__ = ["RootfsImage", "MANIFEST_NAME", "REGISTRY_STORE"]

MANIFEST_NAME = "artifacts.yaml"
#: The offline image store (registry v2 layout); sealos copies it only to registry hosts, never with the rootfs.
REGISTRY_STORE = "registry"


@dataclass
class RootfsImage:
    """A rootfs source directory with its parsed Kubefile and the artifact store that fills its binary slots."""

    rootfs_dir: Path
    kubefile: Kubefile
    store: ArtifactStore

    @classmethod
    def load(cls, rootfs_dir: Path, store: ArtifactStore) -> "RootfsImage":
        rootfs_dir = Path(rootfs_dir)
        kubefile_path = rootfs_dir / "Kubefile"
        try:
            text = kubefile_path.read_text()
        except FileNotFoundError:
            raise FileNotFoundError(f"{kubefile_path}: a rootfs needs a Kubefile at its top") from None
        return cls(rootfs_dir=rootfs_dir, kubefile=parse_kubefile(text, str(kubefile_path)), store=store)

    @property
    def version(self) -> str | None:
        """The Kubernetes version the image declares (its `version` label)."""
        return self.kubefile.version

    def default_env(self, overrides: Mapping[str, Any] | None = None) -> RootfsEnv:
        """The typed env with the Kubefile's defaults (and optional snake_case overrides)."""
        return RootfsEnv.from_kubefile(self.kubefile, overrides)

    def hooks(self) -> dict[str, str]:
        """Hook name -> the command sealos would run (optional hooks only when labelled)."""
        out: dict[str, str] = {}
        for name in REQUIRED_HOOKS + OPTIONAL_HOOKS:
            command = self.kubefile.hook(name)
            if command is not None:
                out[name] = command
        return out

    # -- trees ------------------------------------------------------------------------------------------------------

    def _slot_paths(self) -> list[str]:
        return [slot.path for slot in self.store.slots()]

    def _source_excludes(self, include_registry_store: bool) -> list[str]:
        excludes = [MANIFEST_NAME, *self._slot_paths()]
        if not include_registry_store:
            excludes.append(REGISTRY_STORE)
        return excludes

    @property
    def source_digest(self) -> str:
        """A digest of everything that defines the image: source files (templates unrendered, registry/ store
        included), and each slot's expected checksum (pinned in the manifest, else the cache's verified file)."""
        entries = scan_dir(self.rootfs_dir, exclude=self._slot_paths())
        digest = hashlib.sha256(tree_digest(entries).encode())
        status = {s.slot: s for s in self.store.status()}
        for slot in sorted(self.store.slots(), key=lambda s: s.path):
            pinned = slot.source(str(self.store.arch)).sha256
            current = status[slot.path]
            actual = current.sha256 if current.verified else ""
            digest.update(f"{slot.path}\0{slot.version}\0{slot.mode:o}\0{pinned}\0{actual}\n".encode())
        return "sha256:" + digest.hexdigest()

    def check_artifacts(self, components: Iterable[str]) -> list[str]:
        """One line per slot these components need that is not filled and verified, saying how to fill it."""
        problems = []
        wanted = set(components)
        for row in self.store.status():
            if row.component in wanted and not row.verified:
                try:
                    self.store.path(row.slot)
                except ArtifactError as exc:  # its message names the command that fills the slot
                    problems.append(str(exc))
        return problems

    def host_tree(
        self, env: RootfsEnv, components: Iterable[str], *, include_registry_store: bool = False
    ) -> list[FileEntry]:
        """The files one host receives: the tree with templates rendered (and `.tmpl` dropped), the artifact slots
        of `components` from the store at their slot paths with the manifest's mode; artifacts.yaml and the
        registry/ store left out unless asked for. A rendered file that holds a secret is owner-only (0600)."""
        env.validate()
        entries = render_tree(
            self.rootfs_dir,
            env.to_env(),
            exclude=self._source_excludes(include_registry_store),
            secrets_probe=env.with_secrets_replaced().to_env(),
        )
        for slot in self.store.slots(set(components)):
            entries.append(FileEntry.from_file(slot.path, self.store.path(slot.path), mode=slot.mode))
        return sorted(entries, key=lambda e: e.path)

    def registry_store_tree(self) -> list[FileEntry]:
        """The registry/ subtree (image blobs in registry v2 layout), paths relative to the rootfs."""
        store_dir = self.rootfs_dir / REGISTRY_STORE
        if not store_dir.is_dir():
            return []
        return [
            FileEntry(path=f"{REGISTRY_STORE}/{e.path}", mode=e.mode, sha256=e.sha256, size=e.size, source=e.source)
            for e in scan_dir(store_dir)
        ]
