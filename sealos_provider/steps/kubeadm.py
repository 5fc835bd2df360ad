"""kubeadm configuration with sealos's defaults, and the join credentials that flow from the first control plane.

sealos generates kubeadm configs from Go code (spec §6, step 7); here they are plain data: the CRI is cri-dockerd's
socket (never an auto-detected leftover containerd socket, sealos #2603/#1866), the kubelet's cgroup driver is
systemd and its image service is image-cri-shim, the control-plane endpoint is `apiserver.cluster.local:6443`, and
images come from the private registry. Every default is overridable through `KubeadmSettings`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import yaml

APISERVER_DOMAIN = "apiserver.cluster.local"
TOKEN_RE = re.compile(r"^[a-z0-9]{6}\.[a-z0-9]{16}$")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True)
class KubeadmSettings:
    pod_subnet: str = "100.64.0.0/10"
    service_subnet: str = "10.96.0.0/22"
    dns_domain: str = "cluster.local"
    apiserver_domain: str = APISERVER_DOMAIN
    apiserver_port: int = 6443
    kube_proxy_mode: str = "ipvs"
    image_repository: Optional[str] = None  # default: <registryDomain>:<registryPort>
    extra_cert_sans: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)  # merged into ClusterConfiguration

    @classmethod
    def from_inputs(cls, d: Mapping[str, Any] | None) -> "KubeadmSettings":
        d = dict(d or {})
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"kubeadm: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        if "apiserver_port" in d:
            d["apiserver_port"] = int(d["apiserver_port"])
        if "extra_cert_sans" in d:
            d["extra_cert_sans"] = tuple(d["extra_cert_sans"])
        return cls(**d)


def new_token() -> str:
    """A bootstrap token in kubeadm's format (`[a-z0-9]{6}.[a-z0-9]{16}`), from the OS's CSPRNG."""
    pick = lambda n: "".join(secrets.choice(_ALPHABET) for _ in range(n))  # noqa: E731
    return f"{pick(6)}.{pick(16)}"


def new_certificate_key() -> str:
    """The key kubeadm encrypts uploaded control-plane certificates with (32 random bytes, hex)."""
    return secrets.token_hex(32)


def ca_cert_hash(ca_pem: bytes) -> str:
    """`sha256:<hex>` of the CA's SubjectPublicKeyInfo: what `kubeadm join --discovery-token-ca-cert-hash` checks."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(ca_pem)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(spki).hexdigest()


def _common_kubelet(env: Mapping[str, str]) -> dict:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "cgroupDriver": "systemd",
        "imageServiceEndpoint": "unix://" + env.get("SEALOS_SYS_IMAGE_ENDPOINT", "/var/run/image-cri-shim.sock"),
    }


def cri_socket(env: Mapping[str, str]) -> str:
    return "unix://" + env.get("SEALOS_SYS_CRI_ENDPOINT", "/var/run/cri-dockerd.sock")


def init_config(
    env: Mapping[str, str],
    settings: KubeadmSettings,
    *,
    advertise_address: str,
    node_name: str,
    token: str,
    certificate_key: str,
) -> str:
    """The multi-document kubeadm config for `kubeadm init` on the first control plane."""
    repo = settings.image_repository or f"{env['registryDomain']}:{env['registryPort']}"
    sans = ["127.0.0.1", settings.apiserver_domain, advertise_address, env.get("defaultVIP", "10.103.97.2")]
    sans += list(settings.extra_cert_sans)
    cluster: dict[str, Any] = {
        "apiVersion": "kubeadm.k8s.io/v1beta3",
        "kind": "ClusterConfiguration",
        "kubernetesVersion": env.get("SEALOS_SYS_KUBE_VERSION", ""),
        "controlPlaneEndpoint": f"{settings.apiserver_domain}:{settings.apiserver_port}",
        "imageRepository": repo,
        "networking": {
            "podSubnet": settings.pod_subnet,
            "serviceSubnet": settings.service_subnet,
            "dnsDomain": settings.dns_domain,
        },
        "apiServer": {"certSANs": sorted(set(sans), key=sans.index)},
    }
    cluster.update(settings.extra)
    docs = [
        {
            "apiVersion": "kubeadm.k8s.io/v1beta3",
            "kind": "InitConfiguration",
            "bootstrapTokens": [{"token": token, "ttl": "0s", "groups": ["system:bootstrappers:kubeadm:default-node-token"]}],
            "certificateKey": certificate_key,
            "localAPIEndpoint": {"advertiseAddress": advertise_address, "bindPort": settings.apiserver_port},
            "nodeRegistration": {"name": node_name, "criSocket": cri_socket(env)},
        },
        cluster,
        _common_kubelet(env),
        {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration", "mode": settings.kube_proxy_mode},
    ]
    return yaml.safe_dump_all(docs, sort_keys=False)


def join_config(
    env: Mapping[str, str],
    settings: KubeadmSettings,
    *,
    node_name: str,
    token: str,
    ca_hash: str,
    control_plane: bool,
    advertise_address: str,
    certificate_key: str = "",
) -> str:
    """The kubeadm config for `kubeadm join` (a worker, or another control plane)."""
    join: dict[str, Any] = {
        "apiVersion": "kubeadm.k8s.io/v1beta3",
        "kind": "JoinConfiguration",
        "discovery": {
            "bootstrapToken": {
                "apiServerEndpoint": f"{settings.apiserver_domain}:{settings.apiserver_port}",
                "token": token,
                "caCertHashes": [ca_hash],
            }
        },
        "nodeRegistration": {"name": node_name, "criSocket": cri_socket(env)},
    }
    if control_plane:
        join["controlPlane"] = {
            "localAPIEndpoint": {"advertiseAddress": advertise_address, "bindPort": settings.apiserver_port},
            "certificateKey": certificate_key,
        }
    return yaml.safe_dump_all([join, _common_kubelet(env)], sort_keys=False)
