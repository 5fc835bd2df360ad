"""Every example under examples/ runs as written: its `__main__.py`, with its own Pulumi.yaml's project name, goes
through the real engine on node containers of its own (the kube and cri parts on the recording doubles), lands what
its docstring promises on the hosts, and its `destroy` leaves each node as it was.

`smoke-check-command` is not here: it creates `pulumi_command.remote.Command` resources, whose plugin cannot be built
on these machines (see the README).
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
import yaml

from e2e_hosts import curl_status, kubeadm_calls

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
PASSWORD = "examples pw $(x) 'q'"


def check_single_node(nodes) -> None:
    (node,) = nodes
    for unit in ("docker", "registry", "cri-docker", "image-cri-shim"):
        assert node.exec(f"systemctl is-active {unit}").stdout.strip() == "active", unit
    assert node.exec("systemctl is-enabled kubelet").stdout.strip() == "enabled"  # kubeadm init starts it
    assert curl_status(node, "http://sealos.hub:5000/v2/") == "401"
    assert curl_status(node, "http://sealos.hub:5000/v2/", "admin", PASSWORD) == "200"
    assert [c["argv"][1] for c in kubeadm_calls(node)] == ["init"]


def check_three_nodes(nodes) -> None:
    registry, master, worker = nodes
    for node in nodes:
        assert f"{registry.internal_ip} sealos.hub" in node.hosts(), node.name
        assert curl_status(node, "http://sealos.hub:5000/v2/", "admin", PASSWORD) == "200", node.name
    # the registry host runs the registry on its own Docker and nothing of Kubernetes
    assert registry.exec("systemctl is-active docker registry").stdout.split() == ["active", "active"]
    assert registry.exec("systemctl is-active cri-docker").stdout.strip() != "active"
    assert kubeadm_calls(registry) == []
    assert master.exec("systemctl is-active registry").stdout.strip() != "active"
    assert [c["argv"][1] for c in kubeadm_calls(master)] == ["init"]
    joins = kubeadm_calls(worker)
    assert [c["argv"][1] for c in joins] == ["join"]
    assert joins[0]["time"] > kubeadm_calls(master)[0]["time"]


def check_custom_ports_and_paths(nodes) -> None:
    (node,) = nodes
    assert node.exec("docker info -f '{{.DockerRootDir}}'").stdout.strip() == "/data/docker"
    assert json.loads(node.read_file("/etc/docker/daemon.json"))["insecure-registries"] == ["registry.internal:5443"]
    assert f"{node.internal_ip} registry.internal" in node.hosts()
    assert curl_status(node, "http://registry.internal:5443/v2/") == "401"
    assert curl_status(node, "http://registry.internal:5443/v2/", "builder", PASSWORD) == "200"
    assert node.exec("stat -c %a /etc/sealos-registry/registry_htpasswd").stdout.strip() == "600"
    assert node.exec("test -d /data/registry && test -d /var/lib/sealos/data/lab/rootfs").returncode == 0
    assert node.exec("test -e /var/lib/sealos/data/default").returncode != 0


EXAMPLE_CASES = {
    "single-node": (1, check_single_node),
    "three-nodes-dedicated-registry": (3, check_three_nodes),
    "custom-ports-and-paths": (1, check_custom_ports_and_paths),
}


def test_every_runnable_example_is_covered() -> None:
    runnable = {p.parent.name for p in EXAMPLES.glob("*/__main__.py")} - {"smoke-check-command"}
    assert runnable == set(EXAMPLE_CASES)


@pytest.mark.parametrize("example", sorted(EXAMPLE_CASES))
def test_example_up_lands_on_the_hosts_and_destroy_restores_them(
    example, nodes, pulumi_workspace, doubles_artifact_cache, host_snapshot
):
    count, check = EXAMPLE_CASES[example]
    project_dir = EXAMPLES / example
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"]
    nodeset = nodes(count)
    before = {n.name: host_snapshot(n) for n in nodeset}
    config = {
        f"{project}:nodes": json.dumps(
            [
                {"name": n.name, "host": n.ssh_host, "port": n.ssh_port, "privateKeyPath": str(n.key_path),
                 "internalAddress": n.internal_ip}
                for n in nodeset
            ]
        ),
        f"{project}:registryPassword": ("secret", PASSWORD),
        f"{project}:artifactCache": str(doubles_artifact_cache),
    }

    def program() -> None:
        runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")

    stack = pulumi_workspace.stack(program, project=project, stack="example", config=config)
    logs: list[str] = []
    up = stack.up(on_output=logs.append, color="never")
    assert up.summary.result == "succeeded", "\n".join(logs[-40:])
    check(list(nodeset))
    assert PASSWORD not in pulumi_workspace.state_text()
    assert all(PASSWORD not in line for line in logs)

    again = stack.up(color="never")
    assert set(again.summary.resource_changes) == {"same"}

    down = stack.destroy(color="never")
    assert down.summary.result == "succeeded"
    for node in nodeset:
        assert host_snapshot(node) == before[node.name], node.name
    if example == "custom-ports-and-paths":  # keep_data=True: the data directories the install made stay
        assert nodeset[0].exec("test -d /data/docker && test -d /data/registry").returncode == 0
