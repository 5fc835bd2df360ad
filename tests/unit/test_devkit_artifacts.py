"""Local artifact sets: real programs from Debian and the Go module proxy, doubles for the rest, checked on a node."""
from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sealos_provider.devkit import local_artifacts as la

pytestmark = pytest.mark.slow

DOCKER_MEMBERS = {f"docker/{n}" for n in la.DOCKER_BINARIES}


@pytest.fixture(scope="module")
def real_set(docker_engine) -> Path:
    return la.ensure_artifacts("real", fill=False)


@pytest.fixture(scope="module")
def doubles_set(docker_engine) -> Path:
    return la.ensure_artifacts("with-doubles", fill=False)


def test_docker_tgz_has_the_upstream_static_layout(real_set):
    with tarfile.open(real_set / "cri" / "docker.tgz") as tar:
        files = {m.name: m for m in tar.getmembers() if m.isfile()}
    assert set(files) == DOCKER_MEMBERS
    assert all(m.mode == 0o755 for m in files.values())
    assert files["docker/dockerd"].size > 10_000_000  # the real engine, not a stub


def test_real_set_has_no_double_and_records_its_sources(real_set):
    sources = json.loads((real_set / "SOURCES.json").read_text())
    assert {k for k, v in sources.items() if v["kind"] == "double"} == set()
    for slot in ("cri/docker.tgz", "images/registry.tar", "bin/conntrack", "opt/lsof", "cri/crictl.tar.gz"):
        assert sources[slot]["kind"] == "real" and (real_set / slot).is_file(), slot
    for slot in la.DOUBLE_SLOTS:
        assert not (real_set / slot).exists()
    with tarfile.open(real_set / "cri" / "crictl.tar.gz") as tar:
        assert tar.getnames() == ["crictl"]


def test_doubles_set_marks_every_double(doubles_set):
    sources = json.loads((doubles_set / "SOURCES.json").read_text())
    doubles = {k for k, v in sources.items() if v["kind"] == "double"}
    assert set(la.DOUBLE_SLOTS) <= doubles
    for slot in doubles:
        assert sources[slot]["role"].endswith("-double")
    assert sources["cri/docker.tgz"]["kind"] == "real"


def test_registry_tar_loads_and_serves_like_registry_2(real_set, tmp_path):
    load = subprocess.run(["docker", "load", "-i", str(real_set / "images" / "registry.tar")],
                          capture_output=True, text=True, check=True)
    image = load.stdout.strip().split("Loaded image: ")[-1]
    cfg = json.loads(subprocess.run(["docker", "image", "inspect", image], capture_output=True, text=True,
                                    check=True).stdout)[0]["Config"]
    assert cfg["Entrypoint"] == ["/entrypoint.sh"] and cfg["Cmd"] == ["/etc/docker/registry/config.yml"]
    assert "5000/tcp" in cfg["ExposedPorts"]
    # `serve <cfg>` form, as init-registry.sh / the registry unit use it
    name = f"reg-check-{tmp_path.name[-8:]}".lower().replace("_", "-")
    run = subprocess.run(["docker", "run", "-d", "--name", name, "-p", "127.0.0.1::5000", image,
                          "serve", "/etc/docker/registry/config.yml"], capture_output=True, text=True, check=True)
    try:
        port = subprocess.run(["docker", "port", name, "5000"], capture_output=True, text=True,
                              check=True).stdout.split(":")[-1].strip()
        ok = ""
        for _ in range(50):
            ok = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                 f"http://127.0.0.1:{port}/v2/"], capture_output=True, text=True).stdout
            if ok == "200":
                break
            subprocess.run(["sleep", "0.1"])
        assert ok == "200"
    finally:
        subprocess.run(["docker", "rm", "-f", run.stdout.strip()], capture_output=True)


def test_runtime_and_tools_run_inside_a_node(doubles_set, nodes):
    node = nodes(1)[0]
    for slot in ("cri/docker.tgz", "images/registry.tar", "opt/lsof", "bin/conntrack", "cri/crictl.tar.gz",
                 "bin/kubeadm", "bin/kubelet"):
        subprocess.run(["docker", "cp", str(doubles_set / slot), f"{node.container}:/root/{Path(slot).name}"],
                       check=True, capture_output=True)
    script = r"""
set -e
cd /root
tar -xzf docker.tgz -C /usr/bin --strip-components=1
tar -xzf crictl.tar.gz -C /usr/bin
install -m 0755 kubeadm kubelet /usr/bin/
printf '[Service]\nType=notify\nExecStart=/usr/bin/dockerd\nDelegate=yes\nKillMode=process\n' \
  > /etc/systemd/system/docker.service
systemctl daemon-reload && systemctl start docker
img=$(docker load -i registry.tar | sed -n 's/^Loaded image: //p')
docker run -d --name registry -p 5000:5000 "$img" >/dev/null
for i in $(seq 50); do curl -fs http://127.0.0.1:5000/v2/ >/dev/null && break; sleep 0.2; done
curl -fs -o /dev/null -w '%{http_code}\n' http://127.0.0.1:5000/v2/
./lsof -v 2>&1 | grep -c revision
./conntrack --version
crictl --version
"""
    out = node.exec(script, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split()
    assert "200" in lines and "v1.37.0" in out.stdout and "conntrack" in out.stdout
    # kubeadm double: init writes admin.conf and prints a join command whose hash matches the CA it wrote
    init = node.exec("kubeadm init", check=True).stdout
    assert "--token" in init and "sha256:" in init and node.internal_ip in init
    cert = x509.load_pem_x509_certificate(node.read_file("/etc/kubernetes/pki/ca.crt"))
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert f"sha256:{hashlib.sha256(spki).hexdigest()}" in init
    assert node.exec("test -s /etc/kubernetes/admin.conf").returncode == 0
    node.exec("kubeadm reset -f", check=True)
    assert node.exec("test -e /etc/kubernetes/admin.conf").returncode == 1
    # kubelet double stays up and answers healthz; every call is logged
    node.exec("systemd-run --unit kubelet-double /usr/bin/kubelet --config /var/lib/kubelet/config.yaml", check=True)
    assert node.exec("for i in $(seq 30); do curl -fs http://127.0.0.1:10248/healthz && exit 0; sleep 0.1; done; "
                     "exit 1").returncode == 0
    log = [json.loads(line) for line in node.read_file("/var/log/sealos-provider-doubles.log").splitlines()]
    assert [e["argv"][:2] for e in log] == [["kubeadm", "init"], ["kubeadm", "reset"],
                                            ["/usr/bin/kubelet", "--config"]]
    assert {e["double"] for e in log} == {"kubeadm-double", "kubelet-double"}
    assert all(e["cwd"] and e["time"] for e in log)


def test_daemon_doubles_open_their_sockets_and_stay_up(doubles_set, nodes):
    node = nodes(1)[0]
    subprocess.run(["docker", "cp", str(doubles_set / "cri" / "image-cri-shim"),
                    f"{node.container}:/usr/bin/image-cri-shim"], check=True, capture_output=True)
    with tarfile.open(doubles_set / "cri" / "cri-dockerd.tgz") as tar:
        assert tar.getnames() == ["cri-dockerd", "cri-dockerd/cri-dockerd"]
    subprocess.run(["docker", "cp", str(doubles_set / "cri" / "cri-dockerd.tgz"), f"{node.container}:/root/"],
                   check=True, capture_output=True)
    script = r"""
set -e
tar -xzf /root/cri-dockerd.tgz -C /usr/bin --strip-components=1
printf 'shim: /var/run/image-cri-shim.sock\ncri: /var/run/cri-dockerd.sock\n' > /etc/image-cri-shim.yaml
# cri-dockerd the way the rootfs runs it: socket-activated by systemd (fd://)
printf '[Socket]\nListenStream=/var/run/cri-dockerd.sock\n[Install]\nWantedBy=sockets.target\n' \
  > /etc/systemd/system/cri-docker.socket
printf '[Service]\nExecStart=/usr/bin/cri-dockerd --container-runtime-endpoint fd://\n' \
  > /etc/systemd/system/cri-docker.service
systemctl daemon-reload
systemctl start cri-docker.socket cri-docker.service
systemd-run --unit image-cri-shim /usr/bin/image-cri-shim --file /etc/image-cri-shim.yaml
for i in $(seq 50); do test -S /var/run/image-cri-shim.sock && break; sleep 0.1; done
sleep 0.5
systemctl is-active cri-docker.service image-cri-shim.service
test -S /var/run/image-cri-shim.sock && echo shim-socket
systemctl stop image-cri-shim.service
test -e /var/run/image-cri-shim.sock || echo shim-socket-removed
"""
    out = node.exec(script, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["active", "active", "shim-socket", "shim-socket-removed"]
    log = node.read_file("/var/log/sealos-provider-doubles.log").decode()
    assert '"double":"cri-dockerd-double"' in log and '"double":"image-cri-shim-double"' in log


def test_unknown_set_names_the_choices():
    with pytest.raises(la.DevkitError, match="use one of real, with-doubles"):
        la.set_dir("fake")
