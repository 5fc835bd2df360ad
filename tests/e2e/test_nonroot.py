"""A non-root SSH user whose sudo needs a password: the whole runtime + registry install runs through sudo, the sudo
password travels on stdin only, and nothing of it reaches the state, the logs or the host afterwards."""

from __future__ import annotations

from programs import runtime_and_registry
from sealos_provider.devkit.node_image import OPSPW_PASSWORD

REGISTRY_PASSWORD = "nonroot-registry-pw"


def test_sudo_with_password_installs_and_destroys_cleanly(nodes, pulumi_workspace, real_artifacts, host_snapshot):
    node = nodes(1)[0]
    before = host_snapshot(node)
    connection = {
        "host": node.ssh_host,
        "port": node.ssh_port,
        "user": "opspw",
        "private_key": node.private_key,
        "sudo_password": OPSPW_PASSWORD,
    }

    program = runtime_and_registry(connection, node.internal_ip, REGISTRY_PASSWORD)
    stack = pulumi_workspace.stack(program, project="nonroot", stack="dev")
    logs: list[str] = []
    up = stack.up(on_output=logs.append, color="never")
    assert up.summary.result == "succeeded"
    assert up.outputs["endpoint"].value == "sealos.hub:5000"
    assert node.exec("systemctl is-active docker registry").stdout.split() == ["active", "active"]
    assert node.exec("curl -s -o /dev/null -w '%{http_code}' http://sealos.hub:5000/v2/").stdout == "401"
    # the product's files belong to root even though the SSH user is not root
    assert node.exec("stat -c %U /var/lib/sealos/data/default/rootfs/scripts/common.sh").stdout.strip() == "root"

    state = pulumi_workspace.state_text()
    for secret in (OPSPW_PASSWORD, REGISTRY_PASSWORD):
        assert secret not in state
        assert all(secret not in line for line in logs)

    again = stack.up(color="never")
    assert set(again.summary.resource_changes) == {"same"}

    # refresh reads root-owned records through sudo (password on stdin): in sync, and no secret in its logs
    refreshed: list[str] = []
    stack.refresh(on_output=refreshed.append, color="never")
    drifts = {
        r["urn"].rsplit("::", 1)[1]: r["outputs"]["drift"]
        for r in stack.export_stack().deployment["resources"]
        if "drift" in r.get("outputs", {})
    }
    assert drifts and all(d == [] for d in drifts.values()), drifts
    assert all(OPSPW_PASSWORD not in line and REGISTRY_PASSWORD not in line for line in refreshed)

    down = stack.destroy(color="never")
    assert down.summary.result == "succeeded"
    assert host_snapshot(node) == before
