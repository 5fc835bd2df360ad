"""Smoke test of the ground: the real Pulumi CLI (Automation API, inline program) runs a dynamic provider that writes
a file on a node container over SSH, and `pulumi destroy` removes it."""
from __future__ import annotations

import pulumi

from sealos_provider.devkit.smoke_resource import RemoteFile

CONTENT = "written by pulumi up through the real engine\n"
PATH = "/srv/smoke/hello.txt"


def test_real_cli_up_writes_file_on_node_and_destroy_removes_it(nodes, pulumi_workspace):
    node = nodes(1)[0]

    def program() -> None:
        f = RemoteFile("hello", host=node.ssh_host, port=node.ssh_port, private_key=node.private_key,
                       path=PATH, content=CONTENT)
        pulumi.export("path", f.path)

    stack = pulumi_workspace.stack(program, project="smoke", stack="dev")
    up = stack.up()
    assert up.summary.result == "succeeded"
    assert up.summary.resource_changes == {"create": 2}
    assert up.outputs["path"].value == PATH
    assert node.read_file(PATH) == CONTENT.encode()
    assert node.exec(f"stat -c %U {PATH}").stdout.strip() == "root"

    # the private key went in as a secret: no line of it is in the state in plaintext
    state = pulumi_workspace.state_text()
    assert '"pulumi-python:dynamic:Resource"' in state and '"ciphertext"' in state
    assert all(line not in state for line in node.private_key.splitlines()[1:-1])

    # a second up is a no-op
    again = stack.up()
    assert again.summary.resource_changes == {"same": 2}

    down = stack.destroy()
    assert down.summary.resource_changes == {"delete": 2}
    assert node.exec(f"test -e {PATH}").returncode == 1
