"""From resource inputs to what one host receives: the image model loaded from `rootfs_dir`, the merged env, and the
rendered tree. Used by `check` (locally, to say in a preview which rendered files change) and by create/update."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from ..filetree import FileEntry, tree_digest
from ..image.artifacts import ArtifactStore
from ..image.env import EnvError, RootfsEnv
from ..image.rootfs import RootfsImage as ImageModel
from ..steps.context import HostPaths
from ..steps.layout import INSTALLED, select


class InputError(ValueError):
    """A bad input, named by its dotted field (`env.registry_port`) so check can report it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def load_image(props: Mapping[str, Any]) -> ImageModel:
    rootfs_dir = props.get("rootfs_dir")
    if not rootfs_dir or not Path(rootfs_dir, "Kubefile").is_file():
        raise InputError("rootfs_dir", f"{rootfs_dir!r} is not a rootfs tree with a Kubefile")
    store = ArtifactStore(cache_dir=props.get("artifact_cache") or None, arch=props.get("arch") or None)
    return ImageModel.load(Path(rootfs_dir), store)


def merged_env(image: ImageModel, props: Mapping[str, Any]) -> RootfsEnv:
    """Kubefile defaults, then the resource's `env` inputs; errors name the field as `env.<name>`."""
    try:
        return RootfsEnv.from_kubefile(image.kubefile, props.get("env") or {}).validate()
    except EnvError as exc:
        raise InputError(f"env.{exc.field}", exc.message) from None


def host_env(env: RootfsEnv, props: Mapping[str, Any]) -> dict[str, str]:
    """The flat env the hooks see: the Kubefile keys plus the product's own switches."""
    out = env.to_env()
    out["keepData"] = "true" if props.get("keep_data") else "false"
    return out


def paths_of(props: Mapping[str, Any]) -> HostPaths:
    return HostPaths(data_root=props.get("data_root") or "/var/lib/sealos", cluster=props.get("cluster_name") or "default")


@dataclass(frozen=True)
class Desired:
    """One resource's part of one host's tree, and the digests a preview shows."""

    tree: tuple[FileEntry, ...]
    part: tuple[FileEntry, ...]
    rendered: dict[str, str]
    digest: str

    def as_inputs(self) -> dict[str, Any]:
        return {"rendered": dict(self.rendered), "tree_digest": self.digest}


def desired_part(
    image: ImageModel,
    env: RootfsEnv,
    component: str,
    *,
    artifact_components: Iterable[str] | None = None,
    include_registry_store: bool = False,
    extra_files: Iterable[FileEntry] = (),
    missing_ok: bool = False,
) -> Desired:
    slots = set(artifact_components) if artifact_components is not None else {component}
    problems = image.check_artifacts(slots)
    if problems and not missing_ok:
        raise InputError("image", "; ".join(problems))
    tree = image.host_tree(env, slots, include_registry_store=include_registry_store)
    tree += list(extra_files)
    part = select(tree, component)
    rendered = {p: e.sha256 for e in part for p in [e.path] if p in INSTALLED[component]}
    return Desired(tuple(tree), tuple(part), rendered, tree_digest(part))


def redacted_secrets(env: Optional[RootfsEnv]) -> list[str]:
    return env.secret_values() if env is not None else []
