"""Node containers: real systemd + sshd containers on the local Docker engine (slow: they start containers)."""
from __future__ import annotations

import io
import json
import os
import subprocess

import paramiko
import pytest

from sealos_provider.devkit import nodes as nodes_mod
from sealos_provider.devkit.proc import DevkitError

pytestmark = pytest.mark.slow


def ssh_run(node, command: str, user: str = "root") -> str:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(node.ssh_host, port=node.ssh_port, username=user,
                   pkey=paramiko.Ed25519Key.from_private_key(io.StringIO(node.private_key)),
                   allow_agent=False, look_for_keys=False, timeout=10)
    try:
        _, out, err = client.exec_command(command)
        status = out.channel.recv_exit_status()
        assert status == 0, err.read().decode()
        return out.read().decode()
    finally:
        client.close()


def docker_ls(kind: str, prefix: str) -> list[str]:
    argv = ["docker", kind, "ls", "-q", "--filter", f"label={nodes_mod.LABEL_SET}={prefix}"]
    if kind == "container":
        argv.insert(3, "-a")
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()


def test_nodes_are_reachable_over_ssh_with_unique_names_and_addresses(nodes):
    ns = nodes(2)
    a, b = ns
    assert [n.name for n in ns] == [f"{ns.prefix}-1", f"{ns.prefix}-2"]
    assert a.ssh_host == "127.0.0.1" and a.ssh_port != b.ssh_port
    assert ssh_run(a, "hostname").strip() == a.name
    assert ssh_run(b, "hostname").strip() == b.name
    # the private key file is the key text, 0600
    assert a.key_path.read_text() == a.private_key and oct(a.key_path.stat().st_mode & 0o777) == "0o600"
    # internal addresses: on the node network, reachable node to node
    assert a.internal_ip in a.exec("ip -4 -o addr show eth0").stdout
    assert a.exec(f"ping -c1 -W2 {b.internal_ip}").returncode == 0
    # systemd is PID 1 and reached running (or degraded)
    assert a.exec("cat /proc/1/comm").stdout.strip() == "systemd"
    assert a.exec("systemctl is-system-running").stdout.strip() in ("running", "degraded")
    # /var/lib/docker is a volume (not overlayfs), so a Docker engine can run inside
    assert a.exec("stat -f -c %T /var/lib/docker").stdout.strip() != "overlayfs"
    # every node has its own SSH host key
    host_key = "cat /etc/ssh/ssh_host_ed25519_key.pub"
    assert a.exec(host_key).stdout != b.exec(host_key).stdout


def test_sudo_users_and_sysctl_work(nodes):
    node = nodes(1)[0]
    assert ssh_run(node, "sudo -n id -u", user="ops").strip() == "0"
    assert node.exec("sysctl -w net.ipv4.ip_forward=1").returncode == 0


def test_hosts_entries_survive_a_restart_which_is_a_real_reboot(nodes):
    node = nodes(1)[0]
    inode_before = os.stat(node.hosts_file).st_ino
    node.add_hosts_entry("10.9.8.7", "sealos.hub")
    assert node.exec("printf '10.1.1.1 apiserver.cluster.local\\n' >> /etc/hosts").returncode == 0
    node.exec("touch /run/booted-before", check=True)
    node.restart()
    hosts = node.hosts()
    assert "10.9.8.7\tsealos.hub" in hosts and "10.1.1.1 apiserver.cluster.local" in hosts
    assert os.stat(node.hosts_file).st_ino == inode_before
    assert node.exec("test -e /run/booted-before").returncode == 1  # /run is fresh: the node rebooted
    assert ssh_run(node, "hostname").strip() == node.name


def test_disconnect_cuts_ssh_and_reconnect_restores_it(nodes):
    a, b = nodes(2)
    a.disconnect()
    assert not nodes_mod._ssh_login_works(a)
    assert b.exec(f"ping -c1 -W1 {a.internal_ip}").returncode != 0
    a.reconnect()
    assert ssh_run(a, "echo back").strip() == "back"
    assert b.exec(f"ping -c1 -W2 {a.internal_ip}").returncode == 0


def test_teardown_removes_containers_volumes_and_network(node_image):
    ns = nodes_mod.start_nodes(1, prefix="tdown-check", image=node_image)
    assert docker_ls("container", ns.prefix) and docker_ls("volume", ns.prefix) and docker_ls("network", ns.prefix)
    ns.teardown()
    assert docker_ls("container", ns.prefix) == []
    assert docker_ls("volume", ns.prefix) == []
    assert docker_ls("network", ns.prefix) == []
    assert not ns.workdir.exists()
    ns.teardown()  # twice is fine


def test_sets_of_dead_owners_are_removed_at_start(node_image, nodes):
    dead = subprocess.Popen(["true"])
    dead.wait()
    ns = nodes_mod.start_nodes(1, prefix="stale-check", image=node_image)
    try:
        # pretend the set belongs to a process that has exited (a crashed test run)
        subprocess.run(["docker", "rm", "-f", ns[0].container], check=True, capture_output=True)
        subprocess.run(["docker", "create", "--label", f"{nodes_mod.LABEL}=1",
                        "--label", f"{nodes_mod.LABEL_SET}=stale-check",
                        "--label", f"{nodes_mod.LABEL_OWNER}={dead.pid}", "--name", "stale-check-1", node_image],
                       check=True, capture_output=True)
        nodes(1)  # any start cleans up
        assert docker_ls("container", "stale-check") == []
        assert docker_ls("network", "stale-check") == []
    finally:
        ns.teardown()


def test_bad_arguments_name_the_field():
    with pytest.raises(DevkitError, match="n must be >= 1"):
        nodes_mod.start_nodes(0)
    with pytest.raises(DevkitError, match="prefix 'Bad_Prefix'"):
        nodes_mod.start_nodes(1, prefix="Bad_Prefix", image="unused")


def test_to_dict_has_no_key_text(nodes):
    node = nodes(1)[0]
    d = node.to_dict()
    assert set(d) == {"name", "ssh_host", "ssh_port", "user", "key_path", "internal_ip"}
    assert "PRIVATE KEY" not in json.dumps(d)
