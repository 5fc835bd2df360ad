"""Node containers: systemd + sshd "hosts" on this machine's Docker engine, for end-to-end tests and the demo.

Each node is a container of the node image on a user-defined network with a fixed address (so ``internal_ip`` and
hosts entries survive a restart) and SSH published on a fixed 127.0.0.1 port (so ``ssh_port`` survives a restart too).
/var/lib/docker and /var/lib/containerd are volumes so a Docker engine runs inside (no overlay-on-overlay). /etc/hosts
is a per-node file bind-mounted over Docker's own, edited in place, so entries the provider adds survive ``restart()``.

Every container, volume and network carries labels naming the node set and the owning process: ``start_nodes`` first
removes sets whose owner died (a crashed test run), and ``teardown()`` removes everything of its own set.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .keys import KeyPair, generate_key_pair
from .node_image import STOP_SIGNAL, ensure_node_image
from .paths import cache_root
from .proc import DevkitError, run

LABEL = "io.sealos-provider.devkit"
LABEL_SET = f"{LABEL}.set"
LABEL_OWNER = f"{LABEL}.owner-pid"
KEEP_OWNER = "0"  # owner pid for sets started by the CLI: kept until `nodes down`
LABEL_CHECKOUT = f"{LABEL}.checkout"  # the checkout whose demo started the set (two checkouts must not share nodes)
READY_STATES = ("running", "degraded")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Node:
    """One node container. ``ssh_host``/``ssh_port``/``private_key`` are what a ConnectionSpec needs."""

    name: str
    ssh_host: str
    ssh_port: int
    internal_ip: str
    private_key: str = field(repr=False)  # never in a repr: pytest prints reprs of failing tests' locals
    key_path: Path
    network: str
    hosts_file: Path
    user: str = "root"

    @property
    def container(self) -> str:
        """The container name (same as the hostname)."""
        return self.name

    def exec(
        self,
        cmd: str | Sequence[str],
        *,
        check: bool = False,
        input: str | None = None,
        user: str | None = None,
        timeout: float | None = 120,
    ) -> subprocess.CompletedProcess:
        """Run ``cmd`` in the node through ``docker exec`` (bash -c for a string): for test assertions, not SSH."""
        argv = ["docker", "exec"] + (["-i"] if input is not None else [])
        if user:
            argv += ["-u", user]
        argv.append(self.container)
        argv += ["bash", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        return run(argv, check=check, input=input, timeout=timeout)

    def read_file(self, path: str) -> bytes:
        """The bytes of ``path`` in the node (``docker exec cat``); raises when it does not exist."""
        proc = subprocess.run(["docker", "exec", self.container, "cat", path], capture_output=True)
        if proc.returncode != 0:
            raise FileNotFoundError(f"{self.name}:{path}: {proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout

    def add_hosts_entry(self, ip: str, *names: str) -> None:
        """Append ``ip names`` to the node's /etc/hosts, writing the bind-mounted file in place (same inode)."""
        line = f"{ip}\t{' '.join(names)}\n"
        with open(self.hosts_file, "a") as f:
            f.write(line)

    def hosts(self) -> str:
        """The node's /etc/hosts as the node sees it."""
        return self.read_file("/etc/hosts").decode()

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Wait until systemd is up (running/degraded) and sshd accepts the generated key."""
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            proc = subprocess.run(
                ["docker", "exec", self.container, "systemctl", "is-system-running"], capture_output=True, text=True
            )
            state = proc.stdout.strip()
            if state in READY_STATES and _ssh_login_works(self):
                return
            if state == "" and "is not running" in proc.stderr:
                raise DevkitError(f"node {self.name} stopped while booting: {_container_logs(self.container)}")
            time.sleep(0.3)
        raise DevkitError(
            f"node {self.name} not ready after {timeout:.0f}s (systemd state {state!r}, ssh port {self.ssh_port})"
        )

    def restart(self, timeout: float = 120.0) -> None:
        """Reboot the node: ``docker restart`` (systemd gets SIGRTMIN+3 and shuts down), then wait for sshd."""
        run(["docker", "restart", "-t", "15", self.container], timeout=120)
        self.wait_ready(timeout)

    def disconnect(self) -> None:
        """Cut the node off its network: other nodes and the published SSH port can no longer reach it."""
        run(["docker", "network", "disconnect", self.network, self.container])

    def reconnect(self, timeout: float = 60.0) -> None:
        """Undo ``disconnect()``: same address, SSH reachable again."""
        run(["docker", "network", "connect", "--ip", self.internal_ip, self.network, self.container])
        self.wait_ready(timeout)

    def to_dict(self) -> dict:
        """What the CLI prints: no private key text, only its path."""
        return {
            "name": self.name, "ssh_host": self.ssh_host, "ssh_port": self.ssh_port, "user": self.user,
            "key_path": str(self.key_path), "internal_ip": self.internal_ip,
        }


def _ssh_login_works(node: Node) -> bool:
    """True when sshd answers and accepts the node set's key (a real login, so "ready" means usable)."""
    import paramiko  # local import: keeps the module import light

    try:
        with socket.create_connection((node.ssh_host, node.ssh_port), timeout=2) as s:
            s.settimeout(2)
            if not s.recv(64).startswith(b"SSH-"):
                return False
    except OSError:
        return False
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(
            node.ssh_host, port=node.ssh_port, username="root",
            pkey=paramiko.Ed25519Key.from_private_key_file(str(node.key_path)),
            timeout=5, banner_timeout=5, auth_timeout=5, allow_agent=False, look_for_keys=False,
        )
        return True
    except Exception:
        return False
    finally:
        client.close()


def _container_logs(container: str) -> str:
    proc = subprocess.run(["docker", "logs", "--tail", "20", container], capture_output=True, text=True)
    return (proc.stdout + proc.stderr).strip()


def _create_network(name: str, labels: list[str]) -> str:
    """Create a bridge network on a free 172.29-31.x.0/24 subnet; returns the subnet prefix ``a.b.c``."""
    run(["docker", "network", "rm", name], check=False)
    for second in (29, 30, 31):
        for third in range(1, 255):
            prefix = f"172.{second}.{third}"
            proc = run(
                ["docker", "network", "create", "--driver", "bridge", "--subnet", f"{prefix}.0/24",
                 "--gateway", f"{prefix}.1", *labels, name],
                check=False,
            )
            if proc.returncode == 0:
                return prefix
            if "overlap" not in proc.stderr and "already" not in proc.stderr:
                raise DevkitError(f"docker network create {name} failed: {proc.stderr.strip()}")
    raise DevkitError("no free /24 subnet in 172.29-31.0.0/16 for a node network: remove unused docker networks")


@dataclass
class NodeSet:
    """A set of nodes sharing a network and a key pair; ``teardown()`` removes all of it.

    Iterating, indexing and ``len`` act on the nodes, so a NodeSet is used like the ``list[Node]`` it holds.
    """

    prefix: str
    workdir: Path
    nodes: list[Node] = field(default_factory=list)
    network: str = ""

    @property
    def key(self) -> KeyPair:
        """The set's key pair (authorized for root and the sudo test users on every node)."""
        return generate_key_pair(self.workdir / "id_ed25519")

    def teardown(self) -> None:
        """Remove the set's containers, volumes, network and work dir; safe to call twice."""
        remove_set(self.prefix)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __iter__(self):
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, index: int) -> Node:
        return self.nodes[index]

    def __enter__(self) -> "NodeSet":
        return self

    def __exit__(self, *exc) -> None:
        self.teardown()

    def write_json(self, path: Path) -> None:
        """Write the nodes' connection facts (``to_dict``) as JSON."""
        path.write_text(json.dumps([n.to_dict() for n in self.nodes], indent=2) + "\n")


def _ls(kind: str, label_filter: str) -> list[str]:
    fmt = {"container": "{{.Names}}", "volume": "{{.Name}}", "network": "{{.Name}}"}[kind]
    argv = ["docker", kind, "ls", "--filter", f"label={label_filter}", "--format", fmt]
    if kind == "container":
        argv.insert(3, "-a")
    return [line for line in run(argv).stdout.split() if line]


def remove_set(prefix: str) -> None:
    """Remove everything labelled with node set ``prefix`` (containers first, then volumes and the network)."""
    sel = f"{LABEL_SET}={prefix}"
    containers = _ls("container", sel)
    if containers:
        run(["docker", "rm", "-f", "-v", *containers], check=False, timeout=180)
    volumes = _ls("volume", sel)
    if volumes:
        run(["docker", "volume", "rm", "-f", *volumes], check=False)
    for net in _ls("network", sel):
        run(["docker", "network", "rm", net], check=False)


def set_checkouts(prefix: str) -> set[str]:
    """The checkouts whose demo started the containers of set ``prefix`` ("" for sets started otherwise)."""
    proc = run(["docker", "ps", "-a", "--filter", f"label={LABEL_SET}={prefix}", "--format",
                f'{{{{.Label "{LABEL_CHECKOUT}"}}}}'])
    return {line.strip() for line in proc.stdout.splitlines()}


def remove_stale_sets() -> list[str]:
    """Remove node sets whose owning process is gone (a crashed or killed test run); returns their prefixes."""
    proc = run(["docker", "ps", "-a", "--filter", f"label={LABEL}", "--format",
                f'{{{{.Label "{LABEL_SET}"}}}} {{{{.Label "{LABEL_OWNER}"}}}}'])
    stale: set[str] = set()
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] != KEEP_OWNER and parts[1].isdigit() and not _pid_alive(int(parts[1])):
            stale.add(parts[0])
    for prefix in sorted(stale):
        remove_set(prefix)
        shutil.rmtree(cache_root() / "nodes" / prefix, ignore_errors=True)
    return sorted(stale)


def _run_node(image: str, name: str, ip: str, port: int, network: str, labels: list[str],
              hosts_file: Path, auth_keys: Path) -> None:
    argv = [
        "docker", "run", "-d", "--name", name, "--hostname", name, *labels,
        "--network", network, "--ip", ip, "-p", f"127.0.0.1:{port}:22",
        "--stop-signal", STOP_SIGNAL, "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
        "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
        "--security-opt", "systempaths=unconfined",
        "--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
        "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
        "-v", f"{name}-docker:/var/lib/docker", "-v", f"{name}-containerd:/var/lib/containerd",
        "-v", f"{hosts_file}:/etc/hosts", "-v", f"{auth_keys}:/etc/ssh/devkit_authorized_keys:ro",
    ]
    if os.path.exists("/dev/kmsg"):
        argv += ["--device", "/dev/kmsg"]
    for vol in (f"{name}-docker", f"{name}-containerd"):
        run(["docker", "volume", "create", *labels, vol])
    run(argv + [image], timeout=120)


def start_nodes(
    n: int,
    *,
    prefix: str | None = None,
    workdir: Path | None = None,
    keep: bool = False,
    image: str | None = None,
    timeout: float = 120.0,
    checkout: str | None = None,
) -> NodeSet:
    """Start ``n`` ready nodes named ``<prefix>-1..n``; an existing set with the same prefix is replaced.

    ``keep=True`` (the CLI) marks the set as owned by nobody, so only ``remove_set``/``nodes down`` removes it;
    otherwise the calling process owns it and a later ``start_nodes`` removes it once that process has died.
    """
    if n < 1:
        raise DevkitError(f"start_nodes: n must be >= 1, got {n}")
    prefix = prefix or f"spn-{secrets.token_hex(3)}"
    if not prefix.replace("-", "").isalnum() or prefix != prefix.lower() or len(prefix) > 40:
        raise DevkitError(f"start_nodes: prefix {prefix!r} must be lowercase letters, digits and '-' (at most 40)")
    image = image or ensure_node_image()
    remove_stale_sets()
    remove_set(prefix)
    workdir = workdir or cache_root() / "nodes" / prefix
    workdir.mkdir(parents=True, exist_ok=True)
    owner = KEEP_OWNER if keep else str(os.getpid())
    labels = ["--label", f"{LABEL}=1", "--label", f"{LABEL_SET}={prefix}", "--label", f"{LABEL_OWNER}={owner}"]
    if checkout:
        labels += ["--label", f"{LABEL_CHECKOUT}={checkout}"]
    nodeset = NodeSet(prefix=prefix, workdir=workdir, network=f"{prefix}-net")
    key = nodeset.key
    auth_keys = workdir / "authorized_keys"
    auth_keys.write_text(key.public_key + "\n")
    auth_keys.chmod(0o644)
    try:
        subnet = _create_network(nodeset.network, labels)
        names = [f"{prefix}-{i}" for i in range(1, n + 1)]
        ips = {name: f"{subnet}.{10 + i}" for i, name in enumerate(names)}
        for name in names:
            hosts_file = workdir / f"{name}.hosts"
            hosts_file.write_text(
                "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                f"{ips[name]}\t{name}\n"
            )
            hosts_file.chmod(0o644)
            port = _free_port()
            _run_node(image, name, ips[name], port, nodeset.network, labels, hosts_file, auth_keys)
            nodeset.nodes.append(Node(
                name=name, ssh_host="127.0.0.1", ssh_port=port, internal_ip=ips[name],
                private_key=key.private_key, key_path=key.path, network=nodeset.network, hosts_file=hosts_file,
            ))
        with ThreadPoolExecutor(max_workers=min(8, n)) as pool:
            list(pool.map(lambda node: node.wait_ready(timeout), nodeset.nodes))
    except BaseException:
        nodeset.teardown()
        raise
    return nodeset
