"""Steps shared by the components: pushing a component's part of the rootfs, comparing rendered and installed files,
cleaning up the directories the product made."""

from __future__ import annotations

import shlex
from typing import Iterable, Mapping

from ..filetree import FileEntry
from .base import Step
from .context import HostContext
from .facts import FactQuery, query
from .layout import UNITS, installed_paths


def push_step(component: str, entries: list[FileEntry]) -> Step:
    """Push `component`'s files into the rootfs. Content-addressed, so it always runs: an unchanged tree costs one
    manifest comparison and sends nothing; its undo removes exactly the files this push placed."""

    def apply(ctx: HostContext) -> None:
        stats = ctx.session.push_tree(entries, ctx.paths.rootfs, manifest_name=component)
        ctx.log(
            f"rootfs/{component}: {stats.files_sent} of {stats.files_total} files sent "
            f"({stats.bytes_sent} bytes), {stats.files_removed} removed"
        )

    def undo(ctx: HostContext) -> None:
        ctx.session.remove_tree(ctx.paths.rootfs, manifest_name=component)

    return Step(title=f"push rootfs ({component} files)", apply=apply, undo=undo)


def config_targets(component: str, entries: Iterable[FileEntry], env: Mapping[str, str]) -> dict[str, str]:
    """installed path -> sha256 the rendered rootfs copy has: what the host must show once the component is in."""
    by_path = {e.path: e for e in entries}
    return {dst: by_path[src].sha256 for src, dst in installed_paths(component, env, by_path).items()}


def component_query(component: str, targets: Mapping[str, str]) -> FactQuery:
    return query(files=targets.keys(), units=UNITS[component])


def configs_match(ctx: HostContext, targets: Mapping[str, str]) -> bool:
    return all(ctx.facts.sha(path) == sha for path, sha in targets.items())


def record_path(state_dir: str, component: str) -> str:
    """The install record of files a component's init script created (see common.sh)."""
    return f"{state_dir}/{component}.created"


def intact(ctx: HostContext, component: str) -> bool:
    """Every file the component's install created is still there (asked with `records=` in the fact query)."""
    return not ctx.facts.gone(record_path(ctx.paths.state, component))


def drift(ctx: HostContext, component: str, targets: Mapping[str, str], units: Iterable[str] | None = None) -> list[str]:
    """Human-readable differences between what the host shows and what the inputs want (empty: in sync)."""
    out: list[str] = []
    for path, sha in sorted(targets.items()):
        seen = ctx.facts.sha(path)
        if seen is None:
            out.append(f"{path} is missing")
        elif seen != sha:
            out.append(f"{path} differs from the rendered copy")
    for unit in units if units is not None else UNITS[component]:
        state = ctx.facts.unit_active.get(unit, "unknown")
        if state != "active":
            out.append(f"{unit} is {state or 'unknown'}")
        elif not ctx.facts.in_service(unit):
            out.append(f"{unit} is {ctx.facts.unit_enabled.get(unit)}: it would not start at boot")
    for record, gone in sorted(ctx.facts.missing_recorded.items()):
        out += [f"{path} is missing (installed by {record.rsplit('/', 1)[-1].split('.')[0]})" for path in gone]
    return out


def remove_empty_dirs_script(paths: Iterable[str]) -> str:
    """rmdir each path and its parents while they are empty: never removes a directory that holds anything."""
    lines = ["set -u"]
    for path in paths:
        lines.append(f"find {shlex.quote(path)} -depth -type d -empty -delete 2>/dev/null || true")
    return "\n".join(lines) + "\n"
