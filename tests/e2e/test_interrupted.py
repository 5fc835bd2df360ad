"""A `pulumi up` killed in the middle of the Docker install (the engine, its provider process and the SSH connection
all gone at once, as when the machine running Pulumi dies) is repaired by the next `up`, and the `destroy` after it
still leaves the node exactly as it was: the scripts record what they create before they create it, so an
interrupted install leaves nothing the records do not know about."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

import pytest
from pulumi.automation.errors import CommandError

from programs import runtime_and_registry
from sealos_provider.devkit.proc import parent_pids, with_descendants


REGISTRY_PASSWORD = "interrupted-pw"
STATE = "/var/lib/sealos/data/default/state"


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def pending_operations(stack) -> list:
    """The operations the state says were in flight when the last update ended."""
    return stack.export_stack().deployment.get("pending_operations") or []


def kill_pulumi_tree() -> list[int]:
    """SIGKILL every `pulumi` process this test started and all their descendants (the dynamic provider among
    them): nothing gets to clean up, as after a crash. Returns the pids killed."""
    parents = parent_pids()
    pulumis = [pid for pid, ppid in parents.items() if ppid == os.getpid() and _comm(pid) == "pulumi"]
    tree = with_descendants(pulumis, parents)
    for pid in tree:  # stop them all first, so no child notices its parent's death and reacts
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            pass
    for pid in tree:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return tree


# Where to cut everything off: a shell test that a watcher inside the node polls while the install runs.
KILL_POINTS = {
    # daemon.json's directory recorded: the first thing init-docker.sh writes
    "after-first-record": f"test -s {STATE}/docker.dirs",
    # a binary half-written into /usr/bin (its temporary copy exists; its record was written before it)
    "mid-binary-write": "compgen -G '/usr/bin/.*.sealos-provider-new.*' >/dev/null",
}

# Runs in the node: wait for the kill point while init-docker.sh runs, then freeze the script and its children
# (SIGSTOP), so the host stays exactly at that point while the test kills the engine; prints the frozen pids.
WATCHER = """
until pid="$(pgrep -f '[b]ash init-docker.sh' | head -n 1)" && [[ -n "$pid" ]] && {condition}; do sleep 0.01; done
kids="$(pgrep -P "$pid" | tr '\\n' ' ')"
kill -STOP "$pid" $kids
echo "frozen $pid $kids"
"""


@pytest.mark.parametrize("kill_point", sorted(KILL_POINTS))
def test_up_killed_mid_docker_install_converges_and_destroys_cleanly(
    kill_point, nodes, pulumi_workspace, real_artifacts, host_snapshot
):
    node = nodes(1)[0]
    before = host_snapshot(node)
    connection = {"host": node.ssh_host, "port": node.ssh_port, "user": "root", "private_key": node.private_key}

    program = runtime_and_registry(connection, node.internal_ip, REGISTRY_PASSWORD)
    stack = pulumi_workspace.stack(program, project="interrupted", stack="dev")
    watcher = subprocess.Popen(
        ["docker", "exec", node.container, "bash", "-c", WATCHER.format(condition=KILL_POINTS[kill_point])],
        stdout=subprocess.PIPE,
        text=True,
    )
    failure: list[BaseException] = []

    def first_up() -> None:
        try:
            stack.up(color="never")
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            failure.append(exc)

    thread = threading.Thread(target=first_up, daemon=True)
    thread.start()
    try:
        frozen = watcher.communicate(timeout=240)[0].split()
    except subprocess.TimeoutExpired:
        watcher.kill()
        frozen = []
    assert frozen[:1] == ["frozen"], f"init-docker.sh never reached {kill_point}: the kill did not land mid-install"
    killed = kill_pulumi_tree()
    # ... and the frozen script dies where it stands, as in a host crash (children first: they are orphaned after).
    node.exec(f"kill -KILL {' '.join(reversed(frozen[1:]))}")
    thread.join(120)
    assert killed and not thread.is_alive()
    assert failure and isinstance(failure[0], CommandError), failure
    # The host is half-installed: records written, Docker not running.
    assert node.exec("systemctl is-active docker").stdout.strip() != "active"
    if kill_point == "mid-binary-write":
        assert node.exec("compgen -G '/usr/bin/.*.sealos-provider-new.*'").returncode == 0

    # What the README says to do after a killed `pulumi up`: unlock, forget the creates that were in flight (each
    # create converges on a half-installed host anyway), up.
    assert pending_operations(stack), "the killed update should have left its in-flight create in the state"
    stack.cancel()
    stack.refresh(color="never", clear_pending_creates=True)
    assert pending_operations(stack) == []
    logs: list[str] = []
    again = stack.up(on_output=logs.append, color="never")
    assert not any("pending operations" in line for line in logs)
    assert again.summary.result == "succeeded", "\n".join(logs[-40:])
    assert again.outputs["endpoint"].value == "sealos.hub:5000"
    assert node.exec("systemctl is-active docker registry").stdout.split() == ["active", "active"]
    assert node.exec("curl -s -o /dev/null -w '%{http_code}' http://sealos.hub:5000/v2/").stdout == "401"
    # records stay sets: the re-run added no line twice
    dupes = node.exec(f"for f in {STATE}/*.created {STATE}/*.dirs {STATE}/*.data; do sort \"$f\" | uniq -d; done")
    assert dupes.stdout.strip() == "", dupes.stdout
    # and the half-written temporary copy is gone
    leftovers = node.exec("find /usr/bin /etc/docker /etc/systemd/system -maxdepth 1 -name '.*.sealos-provider-new.*'")
    assert leftovers.stdout.strip() == "", leftovers.stdout

    settled = stack.up(color="never")
    assert set(settled.summary.resource_changes) == {"same"}

    down = stack.destroy(color="never")
    assert down.summary.result == "succeeded"
    assert host_snapshot(node) == before
