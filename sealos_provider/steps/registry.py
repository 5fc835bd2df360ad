"""The private registry on its host: registry image and store, htpasswd, init-registry, and a health check that proves
auth works both ways (401 without credentials, 200 with them)."""

from __future__ import annotations

import base64
import shlex
from dataclasses import dataclass, field
from typing import Mapping

from ..filetree import FileEntry
from .base import Step
from .common import config_targets, configs_match, intact, push_step, record_path
from .context import HostContext
from .facts import FactQuery, query
from .layout import REGISTRY, UNITS, select

HTPASSWD_PATH = "etc/registry_htpasswd"


@dataclass(frozen=True)
class RegistryPlan:
    tree: tuple[FileEntry, ...]  # rendered host tree incl. the registry store and etc/registry_htpasswd
    env: Mapping[str, str]  # what the hooks see: without the password (init-registry installs the htpasswd file)
    hooks: Mapping[str, str]
    password: str = field(default="", repr=False)  # only for the health check, which sends it on stdin
    wait_seconds: int = 120

    @property
    def part(self) -> list[FileEntry]:
        return select(self.tree, REGISTRY)

    @property
    def targets(self) -> dict[str, str]:
        return config_targets(REGISTRY, self.part, self.env)

    @property
    def url(self) -> str:
        return f"http://{self.env['registryDomain']}:{self.env['registryPort']}/v2/"

    @property
    def units(self) -> tuple[str, ...]:
        return UNITS[REGISTRY]

    def fact_query(self, state_dir: str = "") -> FactQuery:
        records = [record_path(state_dir, "registry")] if state_dir else []
        return query(files=self.targets.keys(), units=self.units, urls=[self.url], records=records)

    def steps(self) -> list[Step]:
        return registry_steps(self)

    def extra_drift(self, ctx: HostContext) -> list[str]:
        status = ctx.facts.url_status.get(self.url)
        if status == 401:
            return []
        return [f"{self.url} answered {status or 'nothing'} without credentials (want 401)"]


def health_script(url: str, username: str, password: str, wait_seconds: int) -> str:
    """Bash text waiting until `url` answers 401 without credentials and 200 with them. The credentials are inside
    this text (sent on stdin) and reach curl through its config on stdin: never in argv."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    u = shlex.quote(url)
    return f"""set -Eeuo pipefail
deadline=$((SECONDS + {int(wait_seconds)}))
anon=""; authed=""
while :; do
  anon="$(curl -s -o /dev/null -m 5 -w '%{{http_code}}' {u} || true)"
  authed="$(printf 'header = "Authorization: Basic %s"\\n' {shlex.quote(token)} | curl -s -o /dev/null -m 5 -w '%{{http_code}}' -K - {u} || true)"
  if [ "$anon" = 401 ] && [ "$authed" = 200 ]; then echo "registry healthy: 401 without credentials, 200 with them"; exit 0; fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "registry at {url} not healthy after {int(wait_seconds)}s: $anon without credentials (want 401), $authed with them (want 200)" >&2
    systemctl status registry.service --no-pager -l 2>&1 | tail -n 20 >&2 || true
    exit 1
  fi
  sleep 1
done
"""


def registry_steps(plan: RegistryPlan) -> list[Step]:
    targets = plan.targets
    env = plan.env

    def installed(ctx: HostContext) -> bool:
        return (
            ctx.facts.in_service("registry.service")
            and configs_match(ctx, targets)
            and ctx.facts.url_status.get(plan.url) == 401
            and intact(ctx, "registry")
        )

    def verify(ctx: HostContext) -> None:
        ctx.run(
            health_script(plan.url, env["registryUsername"], plan.password, plan.wait_seconds),
            step="registry health",
            timeout=plan.wait_seconds + 30,
        )

    return [
        push_step(REGISTRY, plan.part),
        Step(
            "install registry (init-registry hook)",
            apply=lambda ctx: ctx.hook(plan.hooks["init-registry"], step="init-registry"),
            done=installed,
            undo=lambda ctx: ctx.hook(plan.hooks["clean-registry"], step="clean-registry"),
        ),
        Step("registry answers with auth", apply=verify),
    ]
