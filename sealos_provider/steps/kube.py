"""A Kubernetes node: registry login (auth hook), image-cri-shim, kube binaries and units, then kubeadm init or join.

The registry login runs first, as sealos v4.1 did before kubeadm, and again whenever the credentials change; whether it
is current is known from a marker on the host that holds a slow salted hash of the credentials (PBKDF2), so a probe
never needs the password itself and the marker reveals nothing useful.
"""

from __future__ import annotations

import hashlib
import posixpath
import shlex
from dataclasses import dataclass, field
from typing import Mapping

from ..filetree import FileEntry
from .base import Step
from .common import config_targets, configs_match, intact, push_step, record_path
from .context import HostContext
from .facts import FactQuery, query
from .hosts_file import ensure_entry_script, remove_entry_script
from .kubeadm import KubeadmSettings, init_config, join_config
from .layout import KUBE, UNITS, select

CONTROL_PLANE = "control-plane"
WORKER = "worker"
ROLES = (CONTROL_PLANE, WORKER)
KUBEADM_DIRS = ("/etc/kubernetes", "/var/lib/etcd", "/etc/cni", "/opt/cni", "/root/.kube")


def auth_marker(env: Mapping[str, str], password: str) -> str:
    """PBKDF2 of the registry credentials, salted with the registry address: the content of the login marker."""
    salt = f"sealos-provider-auth:{env['registryDomain']}:{env['registryPort']}:{env['registryUsername']}".encode()
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 200_000).hex() + "\n"


@dataclass(frozen=True)
class KubePlan:
    tree: tuple[FileEntry, ...]
    env: Mapping[str, str]  # what the hooks see: without the password, which only the auth hook gets
    hooks: Mapping[str, str]
    role: str
    first: bool  # the first control plane runs `kubeadm init`, every other node joins
    node_name: str
    advertise_address: str
    apiserver_address: str  # what apiserver.cluster.local maps to on this node
    token: str
    certificate_key: str
    ca_hash: str = ""  # for joiners: from the first control plane
    registry_password: str = field(default="", repr=False)
    settings: KubeadmSettings = field(default_factory=KubeadmSettings)

    @property
    def part(self) -> list[FileEntry]:
        return select(self.tree, KUBE)

    @property
    def targets(self) -> dict[str, str]:
        return config_targets(KUBE, self.part, self.env)

    def marker_path(self, state_dir: str) -> str:
        return posixpath.join(state_dir, "auth.marker")

    def done_path(self) -> str:
        return "/etc/kubernetes/admin.conf" if self.first else "/etc/kubernetes/kubelet.conf"

    @property
    def units(self) -> tuple[str, ...]:
        return ("image-cri-shim.service",)  # kubelet is kubeadm's to start; its state is not ours to judge

    def steps(self) -> list[Step]:
        return kube_steps(self)

    def extra_drift(self, ctx: HostContext) -> list[str]:
        if ctx.facts.exists(self.done_path()):
            return []
        return [f"{self.done_path()} is missing: the node is not {'initialised' if self.first else 'joined'}"]

    def fact_query(self, state_dir: str) -> FactQuery:
        return query(
            files=list(self.targets) + [self.marker_path(state_dir)],
            units=UNITS[KUBE],
            paths=["/usr/bin/kubeadm", "/usr/bin/kubelet", self.done_path()],
            records=[record_path(state_dir, "shim"), record_path(state_dir, "kube")],
        )

    def kubeadm_config(self) -> str:
        if self.first:
            return init_config(
                self.env,
                self.settings,
                advertise_address=self.advertise_address,
                node_name=self.node_name,
                token=self.token,
                certificate_key=self.certificate_key,
            )
        return join_config(
            self.env,
            self.settings,
            node_name=self.node_name,
            token=self.token,
            ca_hash=self.ca_hash,
            control_plane=self.role == CONTROL_PLANE,
            advertise_address=self.advertise_address,
            certificate_key=self.certificate_key,
        )


def _kubeadm_run_script(config_path: str, first: bool, control_plane: bool, state_dir: str) -> str:
    """kubeadm init/join from a 0600 config file; records which of kubeadm's directories it created, so reset removes
    only those. Refuses to touch a host that already is (or was) a Kubernetes node."""
    cfg = shlex.quote(config_path)
    record = shlex.quote(posixpath.join(state_dir, "kubeadm.created"))
    dirs = " ".join(shlex.quote(d) for d in KUBEADM_DIRS)
    if first:
        cmd = f"kubeadm init --config={cfg} --upload-certs --skip-token-print --ignore-preflight-errors=SystemVerification"
    else:
        cmd = f"kubeadm join --config={cfg} --ignore-preflight-errors=SystemVerification"
    post = ""
    if first or control_plane:
        post = (
            "mkdir -p /root/.kube && install -m 0600 /etc/kubernetes/admin.conf /root/.kube/config 2>/dev/null || true\n"
        )
    return f"""set -Eeuo pipefail
mkdir -p {shlex.quote(state_dir)}
if [ ! -f {record} ]; then
  if [ -e /etc/kubernetes/kubelet.conf ] || [ -e /etc/kubernetes/admin.conf ]; then
    echo "this host already has /etc/kubernetes/kubelet.conf or admin.conf from another install; reset it first (kubeadm reset) or choose another host" >&2
    exit 1
  fi
  : > {record}.tmp
  for d in {dirs}; do [ -e "$d" ] || printf '%s\\n' "$d" >> {record}.tmp; done
  mv {record}.tmp {record}
fi
{cmd}
{post}"""


def _kubeadm_reset_script(env: Mapping[str, str], state_dir: str) -> str:
    record = shlex.quote(posixpath.join(state_dir, "kubeadm.created"))
    sock = shlex.quote("unix://" + env.get("SEALOS_SYS_CRI_ENDPOINT", "/var/run/cri-dockerd.sock"))
    return f"""set -Eeuo pipefail
if command -v kubeadm >/dev/null 2>&1; then kubeadm reset -f --cri-socket={sock}; fi
if [ -f {record} ]; then
  while IFS= read -r d; do [ -n "$d" ] && rm -rf -- "$d"; done < {record}
  rm -f {record}
fi
"""


def kube_steps(plan: KubePlan) -> list[Step]:
    targets = plan.targets
    apiserver = plan.settings.apiserver_domain

    def marker(ctx: HostContext) -> str:
        return plan.marker_path(ctx.paths.state)

    def login_done(ctx: HostContext) -> bool:
        want = hashlib.sha256(auth_marker(plan.env, plan.registry_password).encode()).hexdigest()
        return ctx.facts.sha(marker(ctx)) == want

    def login(ctx: HostContext) -> None:
        ctx.hook(plan.hooks["auth"], step="auth (registry login)", env={**plan.env, "registryPassword": plan.registry_password})
        ctx.session.put(marker(ctx), auth_marker(plan.env, plan.registry_password).encode(), mode=0o600)

    def logout(ctx: HostContext) -> None:
        ctx.hook(plan.hooks["auth"] + " logout", step="auth logout")
        ctx.run(f"rm -f {shlex.quote(marker(ctx))}\n", step="auth logout")

    def shim_done(ctx: HostContext) -> bool:
        wanted = {k: v for k, v in targets.items() if "image-cri-shim" in k}
        return ctx.facts.in_service("image-cri-shim.service") and configs_match(ctx, wanted) and intact(ctx, "shim")

    def kube_done(ctx: HostContext) -> bool:
        wanted = {k: v for k, v in targets.items() if "kubelet" in k}
        return (
            ctx.facts.unit_enabled.get("kubelet.service") == "enabled"
            and ctx.facts.exists("/usr/bin/kubeadm")
            and configs_match(ctx, wanted)
            and intact(ctx, "kube")
        )

    def kubeadm_apply(ctx: HostContext) -> None:
        path = posixpath.join(ctx.paths.cluster_dir, "etc", "kubeadm-init.yaml" if plan.first else "kubeadm-join.yaml")
        ctx.run(f"mkdir -p {shlex.quote(posixpath.dirname(path))}\n", step="kubeadm config")
        ctx.session.put(path, plan.kubeadm_config().encode(), mode=0o600)
        ctx.run(
            _kubeadm_run_script(path, plan.first, plan.role == CONTROL_PLANE, ctx.paths.state),
            step="kubeadm init" if plan.first else "kubeadm join",
            timeout=900,
        )

    def kubeadm_undo(ctx: HostContext) -> None:
        ctx.run(_kubeadm_reset_script(plan.env, ctx.paths.state), step="kubeadm reset", timeout=600)
        ctx.run(f"rm -f {shlex.quote(posixpath.join(ctx.paths.cluster_dir, 'etc'))}/kubeadm-*.yaml\n", step="kubeadm reset")

    return [
        Step(
            f"hosts entry {apiserver}",
            apply=lambda ctx: ctx.run(ensure_entry_script(plan.apiserver_address, apiserver), step="apiserver hosts entry"),
            undo=lambda ctx: ctx.run(remove_entry_script(apiserver), step="remove apiserver hosts entry"),
        ),
        Step("registry login (auth hook)", apply=login, done=login_done, undo=logout),
        push_step(KUBE, plan.part),
        Step(
            "install image-cri-shim (init-shim.sh)",
            apply=lambda ctx: ctx.hook("bash init-shim.sh", step="init-shim"),
            done=shim_done,
            undo=lambda ctx: ctx.hook("bash clean-shim.sh", step="clean-shim"),
        ),
        Step(
            "install kubelet, kubeadm, kubectl (init-kube.sh)",
            apply=lambda ctx: ctx.hook("bash init-kube.sh", step="init-kube"),
            done=kube_done,
            undo=lambda ctx: ctx.hook("bash clean-kube.sh", step="clean-kube"),
        ),
        Step(
            "kubeadm init" if plan.first else f"kubeadm join ({plan.role})",
            apply=kubeadm_apply,
            done=lambda ctx: ctx.facts.exists(plan.done_path()),
            undo=kubeadm_undo,
        ),
    ]
