"""KubeNode: a Kubernetes node on one host: registry login, image-cri-shim, kubelet/kubeadm/kubectl, then `kubeadm init`
on the first control plane and `kubeadm join` on every other node.

The first control plane makes the bootstrap token and certificate key (kept across updates) and outputs them with the
CA hash as the secret `join` output; other nodes take it as input, so Pulumi's graph orders init before joins.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import pulumi
from pulumi.dynamic import Resource

from ..steps.kube import CONTROL_PLANE, ROLES, KubePlan
from ..steps.kubeadm import KubeadmSettings, ca_cert_hash, new_certificate_key, new_token
from ..steps.layout import KUBE
from .args import NodeArgs, node_props
from .base import NodeProvider
from .hosttree import desired_part, host_env, load_image, merged_env


class KubeNodeProvider(NodeProvider):
    resource_type = "KubeNode"
    component = KUBE
    own_inputs = ("role", "first", "node_name", "kubeadm", "registry_endpoint", "apiserver_address", "join")

    def secrets(self, props: Mapping[str, Any]) -> list[str]:
        out = []
        pw = (props.get("env") or {}).get("registry_password")
        if isinstance(pw, str):
            out.append(pw)
        for source in (props.get("join") or {}, props.get("join_secret") or {}):
            out += [source.get("token", ""), source.get("certificate_key", "")]
        return [s for s in out if s]

    def validate(self, props: dict[str, Any]) -> list[tuple[str, str]]:
        problems = []
        role = props.get("role")
        if role not in ROLES:
            problems.append(("role", f"must be one of {', '.join(ROLES)}, got {role!r}"))
        if props.get("first") and role == "worker":
            problems.append(("control_plane", "a worker needs control_plane=<the first control-plane KubeNode>: only a control plane runs kubeadm init"))
        if not props.get("first") and not props.get("join"):
            problems.append(("control_plane", "a node that is not the first control plane needs control_plane=<the first control-plane KubeNode>"))
        try:
            KubeadmSettings.from_inputs(props.get("kubeadm"))
        except (TypeError, ValueError) as exc:
            problems.append(("kubeadm", str(exc)))
        pw = (props.get("env") or {}).get("registry_password", "")
        if ":" in str(pw):
            problems.append(
                ("env.registry_password", "image-cri-shim splits its `auth: user:password` on ':' and would send a wrong password; choose a password without ':'")
            )
        for field in ("apiserver_address", "internal_address"):
            value = props.get(field)
            if value:
                try:
                    ipaddress.ip_address(str(value))
                except ValueError:
                    problems.append((field, f"{value!r} is not an IP address"))
        return problems

    def desired(self, props: dict[str, Any]) -> dict[str, Any]:
        image = load_image(props)
        env = merged_env(image, props)
        out = desired_part(image, env, KUBE).as_inputs()
        out["node_name"] = props.get("node_name") or props["resource_name"]
        out["apiserver_address"] = props.get("apiserver_address") or props["internal_address"]
        return out

    def plan(self, props: Mapping[str, Any], olds: Optional[Mapping[str, Any]] = None) -> KubePlan:
        """On create there are no `olds`: the first control plane makes a new token and certificate key; after that
        they come from its previous outputs, so updates and destroy use the same ones."""
        previous = (olds or {}).get("join_secret") or {}
        first = bool(props.get("first"))
        if first:
            join = {
                "token": previous.get("token") or new_token(),
                "certificate_key": previous.get("certificate_key") or new_certificate_key(),
            }
        else:
            join = props.get("join") or {}
        image = load_image(props)
        env = merged_env(image, props)
        want = desired_part(image, env, KUBE)
        flat = host_env(env, props)
        flat.pop("registryPassword", None)  # only the auth hook gets it (image-cri-shim.yaml is rendered beforehand)
        return KubePlan(
            tree=want.tree,
            env=flat,
            registry_password=env.registry_password,
            hooks={"auth": image.kubefile.hook("auth") or "bash auth.sh"},
            role=props["role"],
            first=first,
            node_name=props.get("node_name") or props["resource_name"],
            advertise_address=props["internal_address"],
            apiserver_address=props.get("apiserver_address") or props["internal_address"],
            token=join.get("token", ""),
            certificate_key=join.get("certificate_key", ""),
            ca_hash=join.get("ca_hash", ""),
            settings=KubeadmSettings.from_inputs(props.get("kubeadm")),
        )

    def after_converge(self, props: Mapping[str, Any], plan: KubePlan, session: Any) -> dict[str, Any]:
        """The first control plane publishes what joiners need: token, certificate key, CA hash (a secret output)."""
        if not plan.first:
            return {}
        ca = session.read_file("/etc/kubernetes/pki/ca.crt")
        if not ca:
            raise RuntimeError("kubeadm init finished but /etc/kubernetes/pki/ca.crt is missing")
        admin = session.read_file("/etc/kubernetes/admin.conf")
        return {
            "join_secret": {
                "token": plan.token,
                "certificate_key": plan.certificate_key,
                "ca_hash": ca_cert_hash(ca),
                "endpoint": f"{plan.settings.apiserver_domain}:{plan.settings.apiserver_port}",
                "apiserver_address": plan.advertise_address,
            },
            "kubeconfig": admin.decode() if admin else "",
        }


@dataclass
class KubeNodeArgs(NodeArgs):
    """`role`: control-plane or worker. `runtime`: this host's ContainerRuntime. `registry`: the Registry (its endpoint is logged in to first). `control_plane`:
    the first control-plane KubeNode, for every other node (absent on the first control plane). `kubeadm`: overrides of
    sealos's kubeadm defaults (pod_subnet, service_subnet, apiserver_domain, apiserver_port, image_repository, ...)."""

    role: pulumi.Input[str] = CONTROL_PLANE
    runtime: Any = None
    registry: Any = None
    control_plane: Any = None
    node_name: Optional[pulumi.Input[str]] = None
    kubeadm: Optional[Mapping[str, Any]] = None


class KubeNode(Resource, module="sealos", name="KubeNode"):
    """A Kubernetes node (type token fixed: renaming breaks old stacks)."""

    connection: pulumi.Output[dict]
    internal_address: pulumi.Output[str]
    role: pulumi.Output[str]
    node_name: pulumi.Output[str]
    join_secret: pulumi.Output[dict]
    kubeconfig: pulumi.Output[str]
    rendered: pulumi.Output[dict]
    installed: pulumi.Output[dict]
    host_key: pulumi.Output[str]
    drift: pulumi.Output[list]
    last_run: pulumi.Output[dict]

    def __init__(self, resource_name: str, args: KubeNodeArgs, opts: Optional[pulumi.ResourceOptions] = None):
        if args.registry is None or args.runtime is None:
            raise TypeError(
                "KubeNode needs runtime=<this host's ContainerRuntime> and registry=<the Registry>: "
                "it runs on that Docker and logs in to that registry before anything else"
            )
        props = node_props(resource_name, args, "join_secret", "kubeconfig")
        props["role"] = args.role
        props["first"] = args.control_plane is None
        props["node_name"] = args.node_name
        props["kubeadm"] = dict(args.kubeadm or {})
        props["registry_endpoint"] = args.registry.endpoint
        depends = [args.runtime, args.registry]
        if args.control_plane is not None:
            props["join"] = args.control_plane.join_secret
            props["apiserver_address"] = args.control_plane.internal_address
            depends.append(args.control_plane)
        opts = pulumi.ResourceOptions.merge(
            opts,
            pulumi.ResourceOptions(depends_on=depends, additional_secret_outputs=["join_secret", "kubeconfig", "join"]),
        )
        super().__init__(KubeNodeProvider(), resource_name, props, opts)
