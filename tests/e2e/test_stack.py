"""The product end to end: the repository's stack program (`sealos_provider.stack.program`) through the real Pulumi
engine on three node containers, asserting on the hosts.

Topology: node 1 runs the registry and the first control plane, nodes 2 and 3 are workers. Docker, the registry and
crictl are real programs; cri-dockerd, image-cri-shim and the kube binaries are the recording doubles of
tests/doubles (no package registry serves them), so the kubeadm invocations are asserted from the doubles' log.

The tests run in file order and share one stack (each `up` costs a minute): a module fixture deploys it once.
"""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from pulumi import automation as auto

from e2e_hosts import curl_status, kubeadm_calls, ssh_accepts, wait_until
from sealos_provider.stack import program
from sealos_provider.steps.context import HostPaths

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "e2e p\"a'ss#\\$x{{y}} *&!ü"  # hostile: quotes, #, backslash, $, {{, leading-ish specials, spaces, non-ASCII
NEW_PASSWORD = "rotated-Pw 2 $(id)`x`"


class Deployment:
    """The shared stack and what the tests need to reach it."""

    def __init__(self, stack, nodes, rootfs: Path, workspace) -> None:
        self.stack = stack
        self.nodes = nodes
        self.rootfs = rootfs
        self.workspace = workspace
        self.logs: list[str] = []
        self.before: dict[str, str] = {}
        self.snapshot = None

    def up(self, **kw):
        lines: list[str] = []
        result = self.stack.up(on_output=lines.append, color="never", **kw)
        self.logs += lines
        return result, "\n".join(lines)

    def outputs_of(self, name: str) -> dict:
        state = self.stack.export_stack().deployment
        for res in state["resources"]:
            if res["urn"].endswith(f"::{name}"):
                return res.get("outputs", {})
        raise KeyError(name)


@pytest.fixture(scope="module")
def deployment(node_image, pulumi_bin, doubles_artifact_cache, host_snapshot, tmp_path_factory):
    from sealos_provider.devkit.nodes import start_nodes
    from sealos_provider.devkit.pulumi_cli import Workspace

    base = tmp_path_factory.mktemp("stack")
    rootfs = base / "rootfs"
    shutil.copytree(REPO / "rootfs", rootfs, ignore=shutil.ignore_patterns(".gitkeep"))
    nodeset = start_nodes(3, image=node_image)
    ws = Workspace(base / "pulumi", pulumi_bin)
    try:
        config = {
            "sealos-e2e:nodes": json.dumps(
                [
                    {
                        "name": n.name,
                        "host": n.ssh_host,
                        "port": n.ssh_port,
                        "privateKeyPath": str(n.key_path),
                        "internalAddress": n.internal_ip,
                        "roles": roles,
                    }
                    for n, roles in zip(nodeset, (["registry", "control-plane"], ["worker"], ["worker"]))
                ]
            ),
            "sealos-e2e:components": json.dumps(["runtime", "cri", "registry", "kube"]),
            "sealos-e2e:rootfsDir": str(rootfs),
            "sealos-e2e:artifactCache": str(doubles_artifact_cache),
            "sealos-e2e:registryPassword": ("secret", PASSWORD),
        }
        stack = ws.stack(program, project="sealos-e2e", stack="e2e", config=config)
        dep = Deployment(stack, nodeset, rootfs, ws)
        dep.snapshot = host_snapshot
        dep.before = {n.name: host_snapshot(n) for n in nodeset}
        result, _ = dep.up()
        assert result.summary.result == "succeeded"
        yield dep
    finally:
        ws.destroy_all()
        nodeset.teardown()


def test_up_installs_runtime_registry_and_kube_on_every_node(deployment):
    n1, n2, n3 = deployment.nodes
    for node in deployment.nodes:
        assert node.exec("systemctl is-active docker").stdout.strip() == "active", node.name
        daemon = json.loads(node.read_file("/etc/docker/daemon.json"))
        assert daemon["data-root"] == "/var/lib/docker"
        assert daemon["insecure-registries"] == ["sealos.hub:5000"]
        assert "native.cgroupdriver=systemd" in daemon["exec-opts"]
        assert node.exec("docker info -f '{{.DockerRootDir}}'").stdout.strip() == "/var/lib/docker"
        assert f"{n1.internal_ip} sealos.hub" in node.hosts()
        # the registry answers with auth from every node: 401 without credentials, 200 with them
        assert curl_status(node, "http://sealos.hub:5000/v2/") == "401"
        assert curl_status(node, "http://sealos.hub:5000/v2/", "admin", PASSWORD) == "200"
        shim = yaml.safe_load(node.read_file("/etc/image-cri-shim.yaml"))
        assert shim["auth"] == f"admin:{PASSWORD}"  # the hostile password round-trips through YAML
        assert node.exec("stat -c %a /etc/image-cri-shim.yaml").stdout.strip() == "600"
    assert n1.exec("stat -c %a /etc/registry/registry_htpasswd").stdout.strip() == "600"
    # blobs live under registryData itself, not a symlink into the rootfs (sealos #1605)
    assert n1.exec("test -d /var/lib/registry && test ! -L /var/lib/registry").returncode == 0


def test_image_pushed_on_one_node_is_pulled_on_the_others(deployment):
    _, n2, n3 = deployment.nodes
    ref = "sealos.hub:5000/e2e/hello:1"
    push = n2.exec(
        f"set -e; d=$(mktemp -d); echo hello > $d/hello; tar -C $d -c . | docker import - {ref} >/dev/null; docker push {ref}"
    )
    assert push.returncode == 0, push.stderr
    pull = n3.exec(f"docker pull {ref} && docker image inspect {ref} >/dev/null")
    assert pull.returncode == 0, pull.stderr


def test_kubeadm_ran_init_then_joins_with_the_generated_configs(deployment):
    n1, n2, n3 = deployment.nodes

    init = [c for c in kubeadm_calls(n1) if c["argv"][1:2] == ["init"]]
    assert len(init) == 1
    assert init[0]["argv"][2:] == [
        "--config=/var/lib/sealos/data/default/etc/kubeadm-init.yaml",
        "--upload-certs",
        "--skip-token-print",
        "--ignore-preflight-errors=SystemVerification",
    ]
    for node in (n2, n3):
        joins = [c for c in kubeadm_calls(node) if c["argv"][1:2] == ["join"]]
        assert len(joins) == 1, node.name
        assert joins[0]["argv"][2:] == [
            "--config=/var/lib/sealos/data/default/etc/kubeadm-join.yaml",
            "--ignore-preflight-errors=SystemVerification",
        ]
        assert joins[0]["time"] > init[0]["time"], "a join ran before the first control plane was initialised"
        join_cfg = list(yaml.safe_load_all(node.read_file("/var/lib/sealos/data/default/etc/kubeadm-join.yaml")))
        discovery = join_cfg[0]["discovery"]["bootstrapToken"]
        assert discovery["apiServerEndpoint"] == "apiserver.cluster.local:6443"
        assert discovery["caCertHashes"][0].startswith("sha256:")
        assert join_cfg[0]["nodeRegistration"]["criSocket"] == "unix:///var/run/cri-dockerd.sock"
        assert node.exec("stat -c %a /var/lib/sealos/data/default/etc/kubeadm-join.yaml").stdout.strip() == "600"
        assert f"{n1.internal_ip} apiserver.cluster.local" in node.hosts()
    init_cfg = {d["kind"]: d for d in yaml.safe_load_all(n1.read_file("/var/lib/sealos/data/default/etc/kubeadm-init.yaml"))}
    assert init_cfg["KubeletConfiguration"]["imageServiceEndpoint"] == "unix:///var/run/image-cri-shim.sock"
    assert init_cfg["ClusterConfiguration"]["controlPlaneEndpoint"] == "apiserver.cluster.local:6443"


def test_noop_up_and_preview_change_nothing_and_open_no_ssh_connection(deployment):
    before = [ssh_accepts(n) for n in deployment.nodes]
    preview = deployment.stack.preview(color="never")
    assert set(preview.change_summary) == {"same"}
    result, _ = deployment.up()
    assert set(result.summary.resource_changes) == {"same"}
    assert [ssh_accepts(n) for n in deployment.nodes] == before


def stored_inputs(deployment) -> dict[str, dict]:
    """Every resource's inputs as the state holds them, each secret as a marker (its ciphertext may change on any
    write of the state)."""

    def plain(value):
        if isinstance(value, dict):
            return "[secret]" if "ciphertext" in value else {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return {
        r["urn"].rsplit("::", 1)[1]: plain(r.get("inputs", {}))
        for r in deployment.stack.export_stack().deployment["resources"]
    }


def test_refresh_in_sync_keeps_every_stored_input_and_reports_nothing(deployment):
    before = stored_inputs(deployment)
    for _ in range(2):
        refreshed = deployment.stack.refresh(color="never")
        assert set(refreshed.summary.resource_changes) == {"same"}
    assert stored_inputs(deployment) == before
    assert set(deployment.stack.preview(color="never").change_summary) == {"same"}


def test_password_change_updates_only_what_it_must(deployment):
    n1, n2, _ = deployment.nodes
    deployment.stack.set_config("sealos-e2e:registryPassword", auto.ConfigValue(NEW_PASSWORD, secret=True))
    result, log = deployment.up()
    changes = result.summary.resource_changes
    assert changes.get("update") == 4, changes  # the registry and the three kube nodes; no runtime
    registry = deployment.outputs_of("registry")
    assert "install registry (init-registry hook)" in registry["last_run"]["ran"]
    kube = deployment.outputs_of("kube-" + n2.name)
    assert "registry login (auth hook)" in kube["last_run"]["ran"]
    assert "install image-cri-shim (init-shim.sh)" in kube["last_run"]["ran"]
    assert "install kubelet, kubeadm, kubectl (init-kube.sh)" not in kube["last_run"]["ran"]  # nothing reinstalled
    assert "kubeadm join (worker)" not in kube["last_run"]["ran"]
    # the old credentials stop working, the new ones work
    assert curl_status(n2, "http://sealos.hub:5000/v2/", "admin", PASSWORD) == "401"
    assert curl_status(n2, "http://sealos.hub:5000/v2/", "admin", NEW_PASSWORD) == "200"
    assert yaml.safe_load(n2.read_file("/etc/image-cri-shim.yaml"))["auth"] == f"admin:{NEW_PASSWORD}"
    assert NEW_PASSWORD not in log and PASSWORD not in log


def test_template_change_resends_one_file_and_updates_only_the_runtime(deployment):
    docker_started = {n.name: n.exec("systemctl show -p ActiveEnterTimestampMonotonic docker").stdout for n in deployment.nodes}
    tmpl = deployment.rootfs / "etc" / "cri-docker.socket.tmpl"
    tmpl.write_text(tmpl.read_text() + "# e2e: a comment added to one template\n")
    result, log = deployment.up()
    # the image's digest and the three runtimes (the only ones that own that file); registry and kube nodes stay
    assert result.summary.resource_changes.get("update") == 4, result.summary.resource_changes
    updated = {line.split()[2] for line in result.stdout.splitlines() if line.strip().startswith("~") and " updated " in line}
    assert updated == {"rootfs"} | {f"runtime-{n.name}" for n in deployment.nodes}, updated
    for node in deployment.nodes:
        assert f"[runtime-{node.name}] rootfs/runtime: 1 of " in log, log
        assert "# e2e: a comment added" in node.read_file("/etc/systemd/system/cri-docker.socket").decode()
        ran = deployment.outputs_of(f"runtime-{node.name}")["last_run"]["ran"]
        assert "install Docker (init-docker.sh)" not in ran
        # only the services that read the file restart: Docker does not read cri-docker.socket
        assert node.exec("systemctl show -p ActiveEnterTimestampMonotonic docker").stdout == docker_started[node.name]


def test_refresh_detects_a_hand_edit_and_the_next_up_repairs_it(deployment):
    _, n2, _ = deployment.nodes
    good = n2.read_file("/etc/docker/daemon.json")
    n2.exec("printf '\\n' >> /etc/docker/daemon.json")
    # A script of the host's rootfs edited by hand (same size, so only its content tells), one chmod'ed.
    script = f"{HostPaths().rootfs}/scripts/clean-docker.sh"
    good_script = n2.read_file(script)
    n2.exec(f"sed -i 's/set -Eeuo pipefail/set -Eeuo pipefaiL/' {script} && chmod 0700 {HostPaths().rootfs}/scripts/check.sh")
    assert n2.read_file(script) != good_script
    deployment.stack.refresh(color="never")
    drift = deployment.outputs_of(f"runtime-{n2.name}")["drift"]
    assert drift == [
        "/etc/docker/daemon.json differs from the rendered copy",
        f"{HostPaths().rootfs}/scripts/check.sh: mode 700, expected 755",
        f"{HostPaths().rootfs}/scripts/clean-docker.sh: content changed",
    ], drift
    assert deployment.outputs_of(f"runtime-{deployment.nodes[0].name}")["drift"] == []
    result, _ = deployment.up()
    assert result.summary.resource_changes.get("update") == 1, result.summary.resource_changes
    assert n2.read_file("/etc/docker/daemon.json") == good
    assert n2.read_file(script) == good_script
    assert n2.exec(f"stat -c %a {HostPaths().rootfs}/scripts/check.sh").stdout.strip() == "755"
    assert deployment.outputs_of(f"runtime-{n2.name}")["drift"] == []


def test_a_removed_binary_and_a_disabled_unit_are_drift_and_the_next_up_repairs_them(deployment):
    _, _, n3 = deployment.nodes
    n3.exec("rm -f /usr/bin/runc /usr/bin/docker-proxy && systemctl disable docker.service")
    deployment.stack.refresh(color="never")
    drift = deployment.outputs_of(f"runtime-{n3.name}")["drift"]
    assert drift == [
        "docker.service is disabled: it would not start at boot",
        "/usr/bin/docker-proxy is missing (installed by docker)",
        "/usr/bin/runc is missing (installed by docker)",
    ], drift
    result, _ = deployment.up()
    assert result.summary.resource_changes.get("update") == 1, result.summary.resource_changes
    assert n3.exec("test -x /usr/bin/runc && test -x /usr/bin/docker-proxy").returncode == 0
    assert n3.exec("systemctl is-enabled docker.service").stdout.strip() == "enabled"
    deployment.stack.refresh(color="never")
    assert deployment.outputs_of(f"runtime-{n3.name}")["drift"] == []


def test_registry_stopped_by_hand_is_drift_too(deployment):
    n1 = deployment.nodes[0]
    n1.exec("systemctl stop registry.service")
    deployment.stack.refresh(color="never")
    drift = deployment.outputs_of("registry")["drift"]
    assert any("registry.service" in d for d in drift), drift
    deployment.up()
    assert curl_status(n1, "http://sealos.hub:5000/v2/") == "401"


def test_a_rebooted_node_comes_back_in_sync(deployment):
    n1 = deployment.nodes[0]
    n1.restart()
    assert wait_until(lambda: curl_status(n1, "http://sealos.hub:5000/v2/") == "401", 90), "registry not back after reboot"
    assert n1.exec("systemctl is-active docker registry").stdout.split() == ["active", "active"]
    deployment.stack.refresh(color="never")
    for name in ["registry"] + [f"{kind}-{n.name}" for kind in ("runtime", "kube") for n in deployment.nodes]:
        assert deployment.outputs_of(name)["drift"] == [], name
    assert curl_status(deployment.nodes[2], "http://sealos.hub:5000/v2/") == "401"


def test_registry_port_change_rerenders_on_every_node_that_uses_it(deployment):
    n1, n2, _ = deployment.nodes
    deployment.stack.set_config("sealos-e2e:env", auto.ConfigValue(json.dumps({"registry_port": 5443})))
    result, _ = deployment.up()
    assert result.summary.resource_changes.get("update") == 7, result.summary.resource_changes  # 3 runtimes, registry, 3 nodes
    for node in deployment.nodes:
        daemon = json.loads(node.read_file("/etc/docker/daemon.json"))
        assert daemon["insecure-registries"] == ["sealos.hub:5443"]
        assert yaml.safe_load(node.read_file("/etc/image-cri-shim.yaml"))["address"] == "http://sealos.hub:5443"
        assert curl_status(node, "http://sealos.hub:5443/v2/") == "401"
        assert curl_status(node, "http://sealos.hub:5000/v2/") == "000"  # nothing listens on the old port
    assert n2.exec("docker pull sealos.hub:5443/e2e/hello:1").returncode == 0  # the blobs stayed under registryData


def test_state_and_logs_hold_no_secret_in_plaintext(deployment):
    # the backend's files as they are on disk (checkpoint, backups, history); `export_stack` would decrypt them
    state = deployment.workspace.state_text()
    assert "sealos:KubeNode" in state
    key_lines = [l for l in deployment.nodes[0].private_key.splitlines() if l and "PRIVATE KEY" not in l]
    for secret in [NEW_PASSWORD, PASSWORD, *key_lines]:
        assert secret not in state
        assert all(secret not in line for line in deployment.logs)
    checkpoint = json.loads(next(deployment.workspace.backend_dir.rglob("e2e.json")).read_text())
    first = next(r for r in checkpoint["checkpoint"]["latest"]["resources"] if r["urn"].endswith("::kube-" + deployment.nodes[0].name))
    for key in ("join_secret", "kubeconfig"):
        assert "ciphertext" in json.dumps(first["outputs"][key]), key
    assert "ciphertext" in json.dumps(first["outputs"]["env"]["registry_password"])


def test_destroy_leaves_nodes_as_before_and_up_again_works(deployment):
    result = deployment.stack.destroy(color="never")
    assert result.summary.result == "succeeded"
    for node in deployment.nodes:
        after = deployment.snapshot(node)
        diff = "\n".join(difflib.unified_diff(deployment.before[node.name].splitlines(), after.splitlines(), lineterm=""))
        left = node.exec("find /var/lib/sealos -ls 2>/dev/null").stdout
        assert after == deployment.before[node.name], f"{node.name} differs after destroy:\n{diff}\n{left}"
        assert node.exec("systemctl is-active docker").stdout.strip() != "active"
        assert node.exec("test -e /var/lib/sealos").returncode != 0
    again, _ = deployment.up()
    assert again.summary.result == "succeeded"
    assert curl_status(deployment.nodes[1], "http://sealos.hub:5443/v2/", "admin", NEW_PASSWORD) == "200"
