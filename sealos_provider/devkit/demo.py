"""`make demo`: run a Pulumi project of this repository against local node containers, through the real Pulumi engine.

    python -m sealos_provider.devkit.demo up      [--project DIR] [--nodes N] [--components runtime,registry]
    python -m sealos_provider.devkit.demo preview [--project DIR]   (pulumi preview --diff of the demo stack)
    python -m sealos_provider.devkit.demo refresh [--project DIR]   (pulumi refresh: drift on the hosts)
    python -m sealos_provider.devkit.demo down    [--project DIR]

`up` sets up what it needs (Docker engine, node image, nodes, the Pulumi CLI, real artifacts), writes the stack config
for the nodes, runs `pulumi up` and shows what landed on the hosts. Running it again reuses the nodes and the state,
so the second `up` reports no changes. The demo never uses test doubles: the runtime and the registry have real
programs here; the kube part needs kubeadm/kubelet/kubectl, which no package registry serves, so it is skipped unless
their slots are filled (`sealos-provider-artifacts fetch` on a machine that reaches dl.k8s.io, or `fill`).

The project's `__main__.py` runs as an inline program of the Automation API (the engine and the dynamic provider
are the real ones; the Python language host `pulumi-language-python` is not needed, which matters here because its Go
module is not served). The work dir is `.demo/work` with a copy of the project's Pulumi.yaml.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from .paths import REPO_ROOT

DEMO_DIR = REPO_ROOT / ".demo"
PREFIX = "sealos-demo"
STACK = "demo"


def _layout(project_dir: Path) -> tuple[Path, str]:
    """Where a project's demo keeps its state, and its node containers' name prefix: the repository's stack uses
    `.demo` and `sealos-demo-*`; another project (an example) gets its own of both, since two stacks must never
    manage the same hosts."""
    if project_dir == REPO_ROOT:
        return DEMO_DIR, PREFIX
    name = "".join(c if c.isalnum() else "-" for c in project_dir.name.lower()).strip("-")[:24] or "project"
    return DEMO_DIR / f"project-{name}", f"sealos-{name}"


def _log(msg: str) -> None:
    print(f"demo: {msg}", flush=True)


def _password(demo_dir: Path) -> str:
    """A registry password made once for this demo (not the Kubefile's well-known default)."""
    import secrets

    password_file = demo_dir / "registry-password"
    demo_dir.mkdir(parents=True, exist_ok=True)
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(18))
        password_file.chmod(0o600)
    return password_file.read_text().strip()


def _running_nodes(demo_dir: Path, count: int | None = None) -> list[dict[str, Any]] | None:
    """The demo's nodes from the last run, if they are all still running (and as many as asked)."""
    saved = demo_dir / "nodes.json"
    if not saved.exists():
        return None
    nodes = json.loads(saved.read_text())
    if isinstance(nodes, dict):
        nodes = nodes.get("nodes", [])
    if count is not None and len(nodes) != count:
        return None
    for node in nodes:
        state = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Running}}", node["name"]], capture_output=True, text=True
        ).stdout.strip()
        if state != "true":
            return None
    return nodes


def _stack(project_dir: Path, demo_dir: Path, bin_dir: Path):
    from pulumi import automation as auto

    from .pulumi_cli import pulumi_env

    env = pulumi_env(demo_dir / "state" / project_dir.name, bin_dir)
    work = demo_dir / "work" / project_dir.name
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy2(project_dir / "Pulumi.yaml", work / "Pulumi.yaml")
    main = project_dir / "__main__.py"
    opts = auto.LocalWorkspaceOptions(
        work_dir=str(work),
        pulumi_home=env["PULUMI_HOME"],
        env_vars=env,
        secrets_provider="passphrase",
        pulumi_command=auto.PulumiCommand(root=str(bin_dir.parent), skip_version_check=True),
    )
    program = lambda: runpy.run_path(str(main), run_name="__main__")  # noqa: E731
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"]
    return auto.create_or_select_stack(stack_name=STACK, project_name=project, program=program, opts=opts), work, project


def _set_secret(stack, work: Path, bin_dir: Path, demo_dir: Path, key: str, value: str) -> None:
    """`pulumi config set --secret` with the value on stdin: the Automation API's `set_config` would put it in the
    CLI's argv, where any local user's `ps` sees it."""
    from .pulumi_cli import pulumi_env

    env = {**os.environ, **pulumi_env(demo_dir / "state" / work.name, bin_dir)}
    subprocess.run(
        [str(bin_dir / "pulumi"), "config", "set", "--secret", key, "--stack", stack.name, "--non-interactive"],
        input=value, text=True, cwd=work, env=env, check=True, capture_output=True,
    )


def _write_config(work: Path, project: str, values: dict[str, Any]) -> None:
    """Non-secret config as YAML objects (typed arrays and objects, which `config set` would store as strings)."""
    path = work / f"Pulumi.{STACK}.yaml"
    data = yaml.safe_load(path.read_text()) if path.exists() else {}
    data = data or {}
    config = data.setdefault("config", {})
    for key, value in values.items():
        config[f"{project}:{key}"] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def up(project_dir: Path, count: int, components: list[str] | None) -> int:
    from . import engine, local_artifacts, node_image, nodes, pulumi_cli

    started = time.monotonic()
    engine.ensure_engine(log=_log)
    node_image.ensure_node_image(log=_log)
    bin_dir = pulumi_cli.ensure_pulumi(log=_log)
    from ..image.artifacts import ArtifactStore

    filled_lines: list[str] = []
    local_artifacts.ensure_artifacts("real", log=filled_lines.append)
    _log(f"artifacts: the 'real' set is in the artifact cache ({sum(l.count('filled ') for l in filled_lines)} slots)")
    cache = local_artifacts.artifact_cache_dir("real")  # None: the image layer's default cache
    store = ArtifactStore(cache_dir=cache)
    filled = [c for c in ("runtime", "cri", "registry", "kube") if not store.missing({c})]
    wanted = components or [c for c in ("runtime", "cri", "registry", "kube") if c in filled]
    skipped = [c for c in ("runtime", "cri", "registry", "kube") if c not in wanted]

    demo_dir, prefix = _layout(project_dir)
    node_list = _running_nodes(demo_dir, count)
    state_dir = demo_dir / "state" / project_dir.name
    if node_list is None:
        others = nodes.set_checkouts(prefix) - {str(REPO_ROOT), ""}
        if others:
            _log(f"the node containers {prefix}-* belong to the demo of another checkout ({', '.join(sorted(others))}): "
                 "run `make demo-down` there first (two stacks must never manage the same hosts)")
            return 1
        _log(f"starting {count} node containers ({prefix}-1..{count})")
        nodeset = nodes.start_nodes(count, prefix=prefix, keep=True, checkout=str(REPO_ROOT))
        demo_dir.mkdir(parents=True, exist_ok=True)
        nodeset.write_json(demo_dir / "nodes.json")
        node_list = json.loads((demo_dir / "nodes.json").read_text())
        if isinstance(node_list, dict):
            node_list = node_list.get("nodes", [])
        shutil.rmtree(state_dir, ignore_errors=True)  # new hosts: the old state described hosts that are gone
    else:
        _log(f"reusing the running node containers {', '.join(n['name'] for n in node_list)}")

    stack, work, project = _stack(project_dir, demo_dir, bin_dir)
    roles = [["registry", "control-plane"]] + [["worker"] for _ in range(count - 1)]
    _write_config(
        work,
        project,
        {
            "nodes": [
                {
                    "name": n["name"],
                    "host": n["ssh_host"],
                    "port": n["ssh_port"],
                    "user": "root",
                    "privateKeyPath": n["key_path"],
                    "internalAddress": n["internal_ip"],
                    "roles": roles[i],
                }
                for i, n in enumerate(node_list)
            ],
            "components": wanted,
            "artifactCache": str(cache) if cache else "",
        },
    )
    _set_secret(stack, work, bin_dir, demo_dir, "registryPassword", _password(demo_dir))
    _unlock_if_abandoned(project_dir, stack)
    pending = stack.export_stack().deployment.get("pending_operations") or []
    if pending:
        # A killed update left creates in flight; every create here converges on a half-installed host, so forget
        # them (as `pulumi refresh --clear-pending-creates` does) and let this up create them again.
        _log(f"the last update was interrupted with {len(pending)} operation(s) in flight: pulumi refresh "
             "--clear-pending-creates, then up")
        stack.refresh(on_output=print, color="never", clear_pending_creates=True)
    _log(f"pulumi up: project {project}, components {', '.join(wanted)}")
    result = stack.up(on_output=print, color="never", suppress_outputs=False)
    _log(f"update summary: {result.summary.resource_changes}")
    outputs = {k: v.value for k, v in result.outputs.items() if not v.secret}
    url = outputs.get("registry_url") or (f"http://{outputs['registry']}/v2/" if outputs.get("registry") else None)
    if not _show_hosts(node_list, url):
        _log("a host is not as the stack says (changed by hand?): `make demo-refresh` finds the drift, then `make demo` repairs it")
        return 1
    for component in skipped:
        _log(f"skipped {component}: no real program here for {_skip_reason(component)}")
    down_cmd = "make demo-down" if demo_dir == DEMO_DIR else f"python -m sealos_provider.devkit.demo down --project {project_dir}"
    _log(f"done in {time.monotonic() - started:.0f}s; nodes stay up for you to look at (`{down_cmd}` removes them)")
    return 0


def _show_hosts(node_list: list[dict[str, Any]], registry_url: str | None) -> bool:
    """What landed on the hosts, read back over `docker exec` (not from Pulumi's outputs); False when a host is not as
    the stack says it should be (a no-op `up` does not look at hosts: drift is found by refresh)."""
    expected = {"docker.service": "active", f"{registry_url} without credentials": "401"}
    healthy = True
    checks = [
        ("docker.service", "systemctl is-active docker 2>/dev/null"),
        ("data-root", "docker info -f '{{.DockerRootDir}}' 2>/dev/null"),
        ("registry in /etc/hosts", "grep sealos-provider /etc/hosts | head -n1"),
    ]
    if registry_url:
        checks.append((f"{registry_url} without credentials", f"curl -s -o /dev/null -w '%{{http_code}}' {registry_url}"))
    for node in node_list:
        for title, cmd in checks:
            out = subprocess.run(["docker", "exec", node["name"], "bash", "-c", cmd], capture_output=True, text=True)
            seen = out.stdout.strip() or out.stderr.strip()
            print(f"  {node['name']}: {title}: {seen}")
            if title in expected and seen != expected[title]:
                healthy = False
    return healthy


def inspect(project_dir: Path, action: str) -> int:
    """`preview` or `refresh` of the demo stack as it stands (after an `up`): no setup, no config rewrite."""
    from . import pulumi_cli

    demo_dir, _ = _layout(project_dir)
    if not (demo_dir / "nodes.json").exists():
        _log("no demo yet: run `make demo` first")
        return 1
    bin_dir = pulumi_cli.ensure_pulumi(log=_log)
    stack, work, _ = _stack(project_dir, demo_dir, bin_dir)
    _set_secret(stack, work, bin_dir, demo_dir, "registryPassword", _password(demo_dir))  # as `up` would
    if action == "preview":
        result = stack.preview(on_output=print, color="never", diff=True)
        _log(f"preview: {result.change_summary}")
    else:
        # An interrupted `up` can leave pending creates; every create here is idempotent, so refresh drops them.
        result = stack.refresh(on_output=print, color="never", clear_pending_creates=True)
        _log(f"refresh: {result.summary.resource_changes}")
    return 0


def _state_dir(project_dir: Path) -> Path:
    demo_dir, _ = _layout(project_dir)
    return demo_dir / "state" / project_dir.name


def _lock_holders(project_dir: Path) -> list[dict[str, Any]]:
    """The locks on the demo stack (the file backend writes one JSON file per running update: pid, hostname ...)."""
    holders = []
    for path in (_state_dir(project_dir) / "backend" / ".pulumi" / "locks").rglob("*.json"):
        try:
            holders.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return holders


def _live_holders(project_dir: Path, holders: list[dict[str, Any]] | None = None) -> list[int]:
    """Pids of updates that hold the lock (``holders``, read when not given) and still run on this machine."""
    import socket

    live = []
    for holder in _lock_holders(project_dir) if holders is None else holders:
        pid = holder.get("pid")
        if isinstance(pid, int) and holder.get("hostname") in (None, socket.gethostname()) and Path(f"/proc/{pid}").exists():
            live.append(pid)
    return live


def _orphaned_providers(project_dir: Path) -> list[int]:
    """Dynamic-provider processes of this demo whose engine is gone (a killed update leaves them to init), with
    their children (the shim script runs the Python provider as a child): what unlocking an abandoned stack stops."""
    from .proc import parent_pids, with_descendants

    home = f"PULUMI_HOME={_state_dir(project_dir).resolve() / 'home'}".encode()
    parents = parent_pids()
    roots = []
    for pid in (pid for pid, ppid in parents.items() if ppid == 1):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if home in environ and (b"pulumi.dynamic" in cmdline or b"pulumi-resource-" in cmdline):
            roots.append(pid)
    return with_descendants(roots, parents)


def _unlock_if_abandoned(project_dir: Path, stack) -> None:
    """A lock whose update process is gone (killed) is released, and the provider processes it left are stopped, so
    the next `make demo` converges on its own; a lock held by a running update is left alone."""
    import signal

    holders = _lock_holders(project_dir)
    if not holders or _live_holders(project_dir, holders):
        return
    for pid in _orphaned_providers(project_dir):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        _log(f"stopped provider process {pid}, left behind by the killed update")
    pids = ", ".join(str(h.get("pid")) for h in holders)
    _log(f"unlocking the stack: the update that locked it (pid {pids}) is gone")
    stack.cancel()


def cancel(project_dir: Path) -> int:
    """Unlock the stack after an update was killed (`pulumi cancel`); the next `make demo` converges. (`make demo`
    does this itself when the lock's process is gone; this is for a lock it cannot judge.)"""
    from . import pulumi_cli

    demo_dir, _ = _layout(project_dir)
    if not (_state_dir(project_dir) / "backend").exists():
        _log("no demo stack here: nothing to unlock (`make demo` starts one)")
        return 0
    live = _live_holders(project_dir)
    if live:
        _log(f"an update is still running (pid {', '.join(map(str, live))}): not unlocking it; wait for it to end")
        return 1
    if not _lock_holders(project_dir):
        _log("the demo stack is not locked: `make demo` runs as it is")
        return 0
    stack, _, _ = _stack(project_dir, demo_dir, pulumi_cli.ensure_pulumi(log=_log))
    _unlock_if_abandoned(project_dir, stack)
    _log("stack unlocked; run `make demo` to converge")
    return 0


def down(project_dir: Path) -> int:
    from . import nodes, pulumi_cli

    demo_dir, prefix = _layout(project_dir)
    if _running_nodes(demo_dir):
        bin_dir = pulumi_cli.ensure_pulumi(log=_log)
        stack, _, _ = _stack(project_dir, demo_dir, bin_dir)
        _log("pulumi destroy")
        stack.destroy(on_output=print, color="never")
    others = nodes.set_checkouts(prefix) - {str(REPO_ROOT), ""}
    if others:
        _log(f"leaving the node containers {prefix}-* alone: they belong to the demo of {', '.join(sorted(others))}")
    else:
        nodes.remove_set(prefix)
    for child in demo_dir.iterdir() if demo_dir.exists() else []:
        if not child.name.startswith("project-"):  # examples' demos have nodes of their own: leave them
            shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()
    removed = "demo state" if others else "node containers and demo state"
    _log(f"{removed} removed (the stack's history and config too: no `pulumi stack rm` needed)")
    return 0


def _skip_reason(component: str) -> str:
    return {
        "cri": "cri-dockerd (its Go module is not served here; fill cri/cri-dockerd.tgz and cri/crictl.tar.gz)",
        "kube": "kubeadm/kubelet/kubectl and image-cri-shim (no package here; `sealos-provider-artifacts fetch --lock` "
        "where dl.k8s.io and GitHub are reachable, or `sealos-provider-artifacts fill --from-dir DIR`)",
        "registry": "the registry image (images/registry.tar)",
        "runtime": "Docker (cri/docker.tgz)",
    }[component]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sealos_provider.devkit.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["up", "preview", "refresh", "cancel", "down"])
    parser.add_argument("--project", default=str(REPO_ROOT), help="a Pulumi project dir (default: the repository's stack)")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--components", help="comma-separated subset of runtime,registry,kube (default: what has real artifacts)")
    args = parser.parse_args(argv)
    project_dir = Path(args.project).resolve()
    from pulumi.automation.errors import CommandError

    try:
        if args.action == "up":
            return up(project_dir, args.nodes, args.components.split(",") if args.components else None)
        if args.action in ("preview", "refresh"):
            return inspect(project_dir, args.action)
        if args.action == "cancel":
            return cancel(project_dir)
        return down(project_dir)
    except CommandError as exc:  # pulumi's own output was already streamed above: add its gist, not a traceback
        text = str(exc)
        if "ConcurrentUpdateError" in type(exc).__name__ or "currently locked" in text:
            live = _live_holders(project_dir)
            if live:
                _log(f"another update of the demo stack is running (pid {', '.join(map(str, live))}): wait for it to end")
            else:
                _log("the stack is locked by an update that was killed (its process is gone): `make demo-cancel` "
                     "unlocks it, then `make demo` converges")
            return 1
        _log(f"pulumi {args.action} failed; fix what it names and run `make demo` again")
        detail = [line.split("error:", 1)[1].strip() for line in text.splitlines() if "error:" in line]
        generic = ("Traceback", "update failed", "preview failed", "refresh failed", "destroy failed")
        unique = list(dict.fromkeys(d for d in detail if d and not d.startswith(generic)))
        for line in unique[-3:]:
            _log(f"error: {line}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
