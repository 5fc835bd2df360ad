"""The container runtime on one host: rootfs base, preflight check, registry hosts entry, Docker, cri-dockerd.

Order follows `sealos run` (check, hosts entry, runtime), with one difference that fixes sealos's first-start flaw:
daemon.json is in place before Docker first starts (init-docker.sh), so data-root and the insecure registry apply
from the start.
"""

from __future__ import annotations

import posixpath
import shlex
from dataclasses import dataclass
from typing import Mapping

from ..filetree import FileEntry
from .base import Step
from .common import config_targets, configs_match, intact, push_step, record_path, remove_empty_dirs_script
from .context import HostContext
from .facts import FactQuery, query
from .hosts_file import ensure_entry_script, entry_line, remove_entry_script
from .layout import RUNTIME, UNITS, select

DOCKER_TARGETS = ("/etc/docker/daemon.json", "/etc/systemd/system/docker.service")
CRI_DOCKERD_TARGETS = ("/etc/systemd/system/cri-docker.service", "/etc/systemd/system/cri-docker.socket")


@dataclass(frozen=True)
class RuntimePlan:
    """Everything the runtime steps need, computed locally (no SSH) from the inputs."""

    tree: tuple[FileEntry, ...]  # the whole rendered host tree; the runtime pushes its own part
    env: Mapping[str, str]
    hooks: Mapping[str, str]  # check / clean commands from the Kubefile
    registry_address: str  # the address the registry domain maps to on this host
    cri_dockerd: bool = True  # False: Docker alone (a registry-only host needs no CRI)
    previous_domain: str = ""  # on update: the registry domain the last up mapped (its entry goes when it changed)

    @property
    def part(self) -> list[FileEntry]:
        return select(self.tree, RUNTIME)

    @property
    def targets(self) -> dict[str, str]:
        targets = config_targets(RUNTIME, self.part, self.env)
        if not self.cri_dockerd:
            targets = {k: v for k, v in targets.items() if k not in CRI_DOCKERD_TARGETS}
        return targets

    def fact_query(self, state_dir: str = "") -> FactQuery:
        components = ("docker", "cri-dockerd") if self.cri_dockerd else ("docker",)
        return query(
            files=self.targets.keys(),
            units=self.units,
            paths=[self.env.get("criData", "/var/lib/docker")],
            lines=[("/etc/hosts", self.hosts_line)],
            records=[record_path(state_dir, c) for c in components] if state_dir else [],
        )

    @property
    def hosts_line(self) -> str:
        return entry_line(self.registry_address, self.env["registryDomain"])

    def steps(self) -> list[Step]:
        return runtime_steps(self)

    def extra_drift(self, ctx: HostContext) -> list[str]:
        if ctx.facts.line_present.get(("/etc/hosts", self.hosts_line)):
            return []
        return [f"/etc/hosts lacks '{self.hosts_line}'"]

    @property
    def units(self) -> tuple[str, ...]:
        return UNITS[RUNTIME] if self.cri_dockerd else ("docker.service",)


def _subset(targets: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k, v in targets.items() if k in names}


def runtime_steps(plan: RuntimePlan) -> list[Step]:
    targets = plan.targets
    domain = plan.env["registryDomain"]

    def check(ctx: HostContext) -> None:
        ctx.hook(plan.hooks["check"], step="check")

    def hosts_entry(ctx: HostContext) -> None:
        out = ctx.run(ensure_entry_script(plan.registry_address, domain), step="registry hosts entry").stdout
        ctx.log(f"/etc/hosts: {domain} -> {plan.registry_address} ({str(out).strip()})")
        if plan.previous_domain and plan.previous_domain != domain:
            out = ctx.run(remove_entry_script(plan.previous_domain), step="remove the old registry hosts entry").stdout
            ctx.log(f"/etc/hosts: {plan.previous_domain} no longer mapped ({str(out).strip()})")

    def hosts_entry_undo(ctx: HostContext) -> None:
        ctx.run(remove_entry_script(domain), step="remove registry hosts entry")

    def docker_done(ctx: HostContext) -> bool:
        return (
            ctx.facts.in_service("docker.service")
            and configs_match(ctx, _subset(targets, DOCKER_TARGETS))
            and intact(ctx, "docker")
        )

    def cri_dockerd_done(ctx: HostContext) -> bool:
        return (
            ctx.facts.in_service("cri-docker.service")
            and ctx.facts.in_service("cri-docker.socket")
            and configs_match(ctx, _subset(targets, CRI_DOCKERD_TARGETS))
            and intact(ctx, "cri-dockerd")
        )

    def remove_dirs(ctx: HostContext) -> None:
        ctx.run(remove_empty_dirs_script([ctx.paths.cluster_dir]), step="remove empty product dirs")
        # The cluster and data-root dirs go only when nothing else lives there.
        ctx.run(
            f"rmdir {shlex.quote(ctx.paths.cluster_dir)} 2>/dev/null || true; "
            f"rmdir {shlex.quote(posixpath.dirname(ctx.paths.cluster_dir))} 2>/dev/null || true; "
            f"rmdir {shlex.quote(ctx.paths.data_root)} 2>/dev/null || true\n",
            step="remove empty product dirs",
        )

    steps = [
        Step("product directories", apply=lambda ctx: None, undo=remove_dirs),
        push_step(RUNTIME, plan.part),
        Step("check host (check hook)", apply=check, done=docker_done),
        Step(f"hosts entry {domain}", apply=hosts_entry, undo=hosts_entry_undo),
        Step(
            "install Docker (init-docker.sh)",
            apply=lambda ctx: ctx.hook("bash init-docker.sh", step="init-docker"),
            done=docker_done,
            undo=lambda ctx: ctx.hook("bash clean-docker.sh", step="clean-docker"),
        ),
    ]
    if plan.cri_dockerd:
        steps.append(
            Step(
            "install cri-dockerd (init-cri-dockerd.sh)",
            apply=lambda ctx: ctx.hook("bash init-cri-dockerd.sh", step="init-cri-dockerd"),
            done=cri_dockerd_done,
            undo=lambda ctx: ctx.hook("bash clean-cri-dockerd.sh", step="clean-cri-dockerd"),
            )
        )
    return steps
