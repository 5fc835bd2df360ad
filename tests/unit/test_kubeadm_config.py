"""kubeadm configs carry sealos's defaults (cri-dockerd socket, systemd cgroups, image-cri-shim, apiserver.cluster.local)
and overrides win."""

import re

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
import datetime

from sealos_provider.steps.kubeadm import (
    KubeadmSettings,
    ca_cert_hash,
    init_config,
    join_config,
    new_certificate_key,
    new_token,
)

ENV = {"registryDomain": "sealos.hub", "registryPort": "5000", "SEALOS_SYS_KUBE_VERSION": "v1.28.15",
       "SEALOS_SYS_CRI_ENDPOINT": "/var/run/cri-dockerd.sock", "SEALOS_SYS_IMAGE_ENDPOINT": "/var/run/image-cri-shim.sock"}


def docs(text):
    return {d["kind"]: d for d in yaml.safe_load_all(text)}


def test_init_config_defaults():
    token, key = new_token(), new_certificate_key()
    assert re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}", token) and len(key) == 64
    d = docs(init_config(ENV, KubeadmSettings(), advertise_address="172.18.0.2", node_name="n1", token=token, certificate_key=key))
    assert d["InitConfiguration"]["nodeRegistration"]["criSocket"] == "unix:///var/run/cri-dockerd.sock"
    assert d["InitConfiguration"]["bootstrapTokens"][0]["token"] == token
    assert d["ClusterConfiguration"]["controlPlaneEndpoint"] == "apiserver.cluster.local:6443"
    assert d["ClusterConfiguration"]["kubernetesVersion"] == "v1.28.15"
    assert d["ClusterConfiguration"]["imageRepository"] == "sealos.hub:5000"
    assert d["ClusterConfiguration"]["networking"]["podSubnet"] == "100.64.0.0/10"
    assert "172.18.0.2" in d["ClusterConfiguration"]["apiServer"]["certSANs"]
    assert d["KubeletConfiguration"]["cgroupDriver"] == "systemd"
    assert d["KubeletConfiguration"]["imageServiceEndpoint"] == "unix:///var/run/image-cri-shim.sock"


def test_overrides_and_join():
    s = KubeadmSettings.from_inputs({"pod_subnet": "10.244.0.0/16", "apiserver_port": 7443.0})
    d = docs(init_config(ENV, s, advertise_address="10.0.0.1", node_name="n", token=new_token(), certificate_key="k"))
    assert d["ClusterConfiguration"]["networking"]["podSubnet"] == "10.244.0.0/16"
    assert d["ClusterConfiguration"]["controlPlaneEndpoint"].endswith(":7443")
    j = docs(join_config(ENV, s, node_name="w", token="abcdef.0123456789abcdef", ca_hash="sha256:x", control_plane=False, advertise_address="10.0.0.2"))
    assert j["JoinConfiguration"]["discovery"]["bootstrapToken"]["caCertHashes"] == ["sha256:x"]
    assert "controlPlane" not in j["JoinConfiguration"]


def test_unknown_setting_named():
    try:
        KubeadmSettings.from_inputs({"pod_cidr": "x"})
    except ValueError as exc:
        assert "pod_cidr" in str(exc)
    else:
        raise AssertionError("unknown kubeadm setting accepted")


def test_ca_hash_matches_openssl_recipe(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "ca.crt").write_bytes(pem)
    import subprocess
    # kubeadm's documented recipe: openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256sum
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", str(tmp_path / "ca.crt")], capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub, capture_output=True, check=True).stdout
    import hashlib
    assert ca_cert_hash(pem) == "sha256:" + hashlib.sha256(der).hexdigest()
