"""RootfsImage: the cluster image on the machine running Pulumi. Reads the tree and Kubefile, checks that every
artifact slot the stack needs is filled and verified, and outputs the env defaults, hooks, version and a content digest.

Everything happens in `check` and locally (no host is touched), so a bad tree or a missing binary is reported at
preview time, before any SSH connection. Editing a script or a template changes `digest`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from . import rules
from .base import has_unknown

INPUTS = ("resource_name", "rootfs_dir", "artifact_cache", "arch", "components")
# Artifact components: runtime (docker), cri (cri-dockerd, crictl), registry, kube.
COMPONENTS = ("runtime", "cri", "registry", "kube")


def default_rootfs_dir() -> Optional[str]:
    """The repository's rootfs/ next to the package (editable installs, the demo stack)."""
    candidate = Path(__file__).resolve().parents[2] / "rootfs"
    return str(candidate) if (candidate / "Kubefile").is_file() else None


def describe(props: dict[str, Any]) -> dict[str, Any]:
    """The outputs, computed from the local tree: raises ValueError-like errors with a field attribute."""
    from ..image.env import RootfsEnv
    from .hosttree import InputError, load_image

    image = load_image(props)
    components = set(props.get("components") or COMPONENTS)
    unknown = components - set(COMPONENTS)
    if unknown:
        raise InputError("components", f"unknown component(s) {sorted(unknown)}; choose from {list(COMPONENTS)}")
    problems = image.check_artifacts(components)
    if problems:
        raise InputError("components", "artifact slots not ready: " + "; ".join(problems))
    env = RootfsEnv.from_kubefile(image.kubefile)
    defaults = env.to_inputs()
    defaults.pop("registry_password", None)  # a default password is still a password: not an output
    return {
        "digest": image.source_digest,
        "version": image.version or "",
        "hooks": dict(image.hooks()),
        "env_defaults": defaults,
        "labels": dict(image.kubefile.labels),
    }


class RootfsImageProvider(ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        props = rules.normalise(dict(news))
        props.setdefault("arch", "amd64")
        # Every input comes back as an output with a value: during a preview the SDK resolves an output the state
        # lacks as unknown, and an unknown `artifact_cache` would stop every host resource's local render.
        if props.get("artifact_cache") is None:
            props["artifact_cache"] = ""
        if not props.get("rootfs_dir"):
            props["rootfs_dir"] = default_rootfs_dir()
        if has_unknown(props):
            return CheckResult(props, [])
        try:
            props["digest"] = describe(props)["digest"]
        except Exception as exc:  # noqa: BLE001 - reported against the field it names
            return CheckResult(props, [CheckFailure(getattr(exc, "field", "rootfs_dir"), str(exc))])
        return CheckResult(props, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = [k for k in INPUTS + ("digest",) if k != "resource_name"]
        changed = rules.changed_paths(olds, news, keys)
        return DiffResult(changes=bool(changed) or has_unknown(news), replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"rootfs:{props.get('resource_name', 'image')}", {**props, **describe(props)})

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**news, **describe(news)})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Re-reads the local tree: a refresh shows a script or template edited since the last up."""
        try:
            outs = {**props, **describe(props)}
        except Exception:  # noqa: BLE001 - a tree that no longer loads: keep the state, the next up reports why
            outs = dict(props)
        # The inputs stay what the last up stored (the checked inputs, `digest` included), so a refresh of an unchanged
        # tree changes nothing. A tree edited since shows in the refresh as a new `digest` output (before a refresh,
        # preview shows it as an update); the hosts' resources see the edit through their own rendered digests.
        return ReadResult(id_, outs, {k: props[k] for k in INPUTS + ("digest",) if k in props})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to remove: the image lives in the source tree and the artifact cache, both the user's."""


@dataclass
class RootfsImageArgs:
    """`rootfs_dir`: the cluster-image tree (default: this repository's rootfs/). `artifact_cache`: where the binary
    slots were fetched or filled (default ~/.cache/sealos-provider/artifacts). `components`: which parts the stack
    installs (runtime, cri, registry, kube): only their slots must be filled."""

    rootfs_dir: Optional[pulumi.Input[str]] = None
    artifact_cache: Optional[pulumi.Input[str]] = None
    arch: Optional[pulumi.Input[str]] = None
    components: Sequence[str] = field(default_factory=lambda: list(COMPONENTS))


class RootfsImage(Resource, module="sealos", name="RootfsImage"):
    """The cluster image, read locally (type token fixed: renaming breaks old stacks)."""

    rootfs_dir: pulumi.Output[str]
    artifact_cache: pulumi.Output[str]
    arch: pulumi.Output[str]
    digest: pulumi.Output[str]
    version: pulumi.Output[str]
    hooks: pulumi.Output[dict]
    env_defaults: pulumi.Output[dict]
    labels: pulumi.Output[dict]

    def __init__(self, resource_name: str, args: Optional[RootfsImageArgs] = None, opts: Optional[pulumi.ResourceOptions] = None):
        args = args or RootfsImageArgs()
        props = {
            "resource_name": resource_name,
            "rootfs_dir": args.rootfs_dir,
            "artifact_cache": args.artifact_cache,
            "arch": args.arch,
            "components": list(args.components),
            "digest": None,
            "version": None,
            "hooks": None,
            "env_defaults": None,
            "labels": None,
        }
        super().__init__(RootfsImageProvider(), resource_name, props, opts)
