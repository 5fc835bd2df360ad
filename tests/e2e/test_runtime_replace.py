"""Input changes on one host that move things. Moving Docker's data root (`env.cri_data`) replaces the host's
ContainerRuntime, deleting first; the Registry on that host is only updated: its blobs, config and credentials stay,
and the images pushed before are served by the new Docker's registry container. Moving the registry domain moves its
/etc/hosts entry."""

from __future__ import annotations

from e2e_hosts import curl_status
from programs import runtime_and_registry

PASSWORD = "replace-pw"
REF = "sealos.hub:5000/e2e/kept:1"


def deployed(nodes, pulumi_workspace, host_snapshot, project: str):
    """One fresh node with Docker and the registry up: (node, its listing before, connection, stack)."""
    node = nodes(1)[0]
    before = host_snapshot(node)
    connection = {"host": node.ssh_host, "port": node.ssh_port, "user": "root", "private_key": node.private_key}
    stack = pulumi_workspace.stack(runtime_and_registry(connection, node.internal_ip, PASSWORD), project=project, stack="dev")
    assert stack.up(color="never").summary.result == "succeeded"
    return node, before, connection, stack


def test_cri_data_change_replaces_the_runtime_and_keeps_the_registrys_images(
    nodes, pulumi_workspace, real_artifacts, host_snapshot
):
    node, before, connection, stack = deployed(nodes, pulumi_workspace, host_snapshot, "runtime-replace")
    login = "docker login --username admin --password-stdin sealos.hub:5000 >/dev/null"
    push = node.exec(
        f"set -e; {login}; d=$(mktemp -d); echo kept > $d/kept; tar -C $d -c . | docker import - {REF} >/dev/null; "
        f"docker push {REF} >/dev/null",
        input=PASSWORD,
    )
    assert push.returncode == 0, push.stderr

    moved = runtime_and_registry(connection, node.internal_ip, PASSWORD, cri_data="/data/docker")
    preview = stack.preview(color="never", program=moved)
    assert preview.change_summary.get("replace") == 1 and preview.change_summary.get("update") == 1, preview.stdout
    # honest per resource: the runtime's rendered files change, the registry's stay (nothing shown as removed)
    assert "ContainerRuntime runtime replace [diff: ~env,rendered,tree_digest]" in preview.stdout, preview.stdout
    assert "Registry registry update [diff: ~env,runtime_id]" in preview.stdout, preview.stdout
    # and it says, before anything happens, which data the replace's delete removes
    assert "warning: replacing runtime (env changed) runs its delete first, which removes /var/lib/docker and " \
        "/var/lib/cri-dockerd" in preview.stdout + preview.stderr, preview.stdout
    result = stack.up(color="never", program=moved)
    assert result.summary.resource_changes == {"replace": 1, "update": 1, "same": 2}, result.summary.resource_changes

    assert node.exec("docker info -f '{{.DockerRootDir}}'").stdout.strip() == "/data/docker"
    assert node.exec("systemctl is-active docker registry").stdout.split() == ["active", "active"]
    assert curl_status(node, "http://sealos.hub:5000/v2/", "admin", PASSWORD) == "200"
    catalog = node.exec(
        "curl -s -K - http://sealos.hub:5000/v2/_catalog",
        input=f'user = "admin:{PASSWORD}"\n',
    ).stdout
    assert '"e2e/kept"' in catalog, catalog
    pull = node.exec(f"set -e; {login}; docker pull {REF} >/dev/null && docker image inspect {REF} >/dev/null", input=PASSWORD)
    assert pull.returncode == 0, pull.stderr

    assert set(stack.up(color="never", program=moved).summary.resource_changes) == {"same"}
    assert stack.destroy(color="never", program=moved).summary.result == "succeeded"
    assert host_snapshot(node) == before
    assert node.exec("test -e /data/docker").returncode != 0  # the install made it: destroy removes it


def test_registry_domain_change_moves_the_hosts_entry_and_destroy_removes_it(
    nodes, pulumi_workspace, real_artifacts, host_snapshot
):
    node, before, connection, stack = deployed(nodes, pulumi_workspace, host_snapshot, "domain-move")
    for domain in ("hub.internal", "registry.lab"):
        moved = runtime_and_registry(connection, node.internal_ip, PASSWORD, registry_domain=domain)
        assert stack.up(color="never", program=moved).summary.result == "succeeded"
        ours = [line for line in node.hosts().splitlines() if "# sealos-provider" in line]
        assert ours == [f"{node.internal_ip} {domain}  # sealos-provider"], ours
        assert curl_status(node, f"http://{domain}:5000/v2/", "admin", PASSWORD) == "200"
    assert stack.destroy(color="never", program=moved).summary.result == "succeeded"
    assert host_snapshot(node) == before
