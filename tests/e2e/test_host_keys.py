"""Trust on first use across operations: the first `up` records the host key as an output; when the host later shows
another key, `refresh` and `up` fail with "host key changed", naming both fingerprints, and touch nothing."""

from __future__ import annotations

import base64
import hashlib

import pulumi
import pytest
from pulumi.automation.errors import CommandError

from sealos_provider import ContainerRuntime, ContainerRuntimeArgs, RootfsImage, RootfsImageArgs


def sha256_fingerprint(authorized_key: str) -> str:
    blob = base64.b64decode(authorized_key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def test_tofu_records_the_key_and_a_changed_key_fails_loudly(nodes, pulumi_workspace, real_artifacts):
    node = nodes(1)[0]
    keep_data = {"value": False}  # flipped later to force an update, the kind of `up` that connects

    def program() -> None:
        image = RootfsImage("rootfs", RootfsImageArgs(components=["runtime"]))
        rt = ContainerRuntime(
            "runtime",
            ContainerRuntimeArgs(
                connection={"host": node.ssh_host, "port": node.ssh_port, "private_key": node.private_key},
                image=image,
                internal_address=node.internal_ip,
                cri_dockerd=False,
                keep_data=keep_data["value"],
            ),
        )
        pulumi.export("host_key", rt.host_key)

    stack = pulumi_workspace.stack(program, project="tofu", stack="dev")
    up = stack.up(color="never")
    recorded = up.outputs["host_key"].value
    served = {
        line.split()[0]: " ".join(line.split()[:2])
        for line in node.exec("cat /etc/ssh/ssh_host_*_key.pub").stdout.splitlines()
        if line.strip()
    }
    assert recorded in served.values()  # the key the host really serves

    # the host is "reinstalled": new host keys
    node.exec("rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && systemctl restart ssh", check=True)
    new_key = next(
        " ".join(l.split()[:2]) for l in node.exec("cat /etc/ssh/ssh_host_*_key.pub").stdout.splitlines()
        if l.split()[0] == recorded.split()[0]
    )
    daemon_json = node.read_file("/etc/docker/daemon.json")
    keep_data["value"] = True
    for operation in (lambda: stack.refresh(color="never"), lambda: stack.up(color="never")):
        with pytest.raises(CommandError) as failure:
            operation()
        text = str(failure.value)
        assert "host key changed" in text
        assert sha256_fingerprint(recorded) in text and sha256_fingerprint(new_key) in text
    assert node.read_file("/etc/docker/daemon.json") == daemon_json  # nothing was touched
