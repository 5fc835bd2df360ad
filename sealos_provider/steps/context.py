"""Everything a step needs to act on one host, in one object: the open session, where things live, the env, the log.

Steps never open connections themselves; the resource opens one session per operation and hands it over here.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from ..image.hooks import hook_script
from .facts import FactQuery, Facts, gather_script, parse_facts

DEFAULT_DATA_ROOT = "/var/lib/sealos"
DEFAULT_CLUSTER = "default"


@dataclass(frozen=True)
class HostPaths:
    """Where the product keeps its files on a host: sealos's layout, so a tree pushed here also serves `sealos`."""

    data_root: str = DEFAULT_DATA_ROOT
    cluster: str = DEFAULT_CLUSTER

    @property
    def cluster_dir(self) -> str:
        return posixpath.join(self.data_root, "data", self.cluster)

    @property
    def rootfs(self) -> str:
        return posixpath.join(self.cluster_dir, "rootfs")

    @property
    def state(self) -> str:
        """Install records: outside the rootfs, so pushing a tree never touches them."""
        return posixpath.join(self.cluster_dir, "state")

    @property
    def scripts(self) -> str:
        return posixpath.join(self.rootfs, "scripts")


@dataclass
class HostContext:
    """One host, one operation. `session` is a `sealos_provider.remote.session.Session` (kept untyped here so the step
    layer can be exercised with a recorded session in unit tests)."""

    session: Any
    paths: HostPaths
    env: Mapping[str, str]
    log: Callable[[str], None]
    host_label: str
    fact_query: FactQuery = field(default_factory=FactQuery)
    _facts: Optional[Facts] = None

    # -- facts -----------------------------------------------------------------------------------------------------
    @property
    def facts(self) -> Facts:
        if self._facts is None:
            result = self.session.run_script(gather_script(self.fact_query), step="gather facts", check=False, stream=False)
            text = result.stdout if isinstance(result.stdout, str) else result.stdout.decode()
            self._facts = parse_facts(text, self.fact_query)
        return self._facts

    def invalidate_facts(self) -> None:
        self._facts = None

    # -- running hooks ---------------------------------------------------------------------------------------------
    def hook(self, command: str, *, step: str, env: Optional[Mapping[str, str]] = None, timeout: float | None = None):
        """Run a rootfs hook (e.g. `bash init-docker.sh`) from the rootfs scripts dir, env exported, text on stdin."""
        merged = dict(self.env if env is None else env)
        merged.setdefault("SEALOS_PROVIDER_STATE_DIR", self.paths.state)
        script = hook_script(self.paths.rootfs, merged, command)
        return self.session.run_script(script, step=step, timeout=timeout)

    def run(self, script: str, *, step: str, check: bool = True, timeout: float | None = None):
        return self.session.run_script(script, step=step, check=check, timeout=timeout)
