"""Bad input is refused at check time (preview), naming the field and the fix, before any host is touched: these
providers are called with no host reachable at all (an address in TEST-NET-1), so any connection attempt would fail."""

from pathlib import Path

import pytest

from sealos_provider.resources.container_runtime import ContainerRuntimeProvider
from sealos_provider.resources.kube_node import KubeNodeProvider
from sealos_provider.resources.registry import RegistryProvider
from sealos_provider.resources.rootfs_image import RootfsImageProvider

ROOTFS = str(Path(__file__).resolve().parents[2] / "rootfs")


def _key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()


KEY = _key()


def props(**over):
    base = {
        "resource_name": "runtime-a",
        "connection": {"host": "192.0.2.10", "port": 22.0, "user": "root", "private_key": KEY},
        "rootfs_dir": ROOTFS,
        "arch": "amd64",
        "env": {},
    }
    base.update(over)
    return base


def failures(provider, news):
    result = provider.check({}, news)
    return {f.property: f.reason for f in result.failures}, result.inputs


@pytest.mark.parametrize(
    "env,field,words",
    [
        ({"registry_port": 70000}, "env.registry_port", "65535"),
        ({"cri_data": "var/lib/docker"}, "env.cri_data", "absolute"),
        ({"registry_username": "ad:min"}, "env.registry_username", ":"),
        ({"registry_domain": "bad domain!"}, "env.registry_domain", "host name"),
        ({"data-root": "/data/docker"}, "env.data-root", "known inputs"),  # sealos #2619: unknown keys are refused
    ],
)
def test_bad_env_is_named_at_check_time(env, field, words):
    found, _ = failures(ContainerRuntimeProvider(), props(env=env))
    assert field in found, found
    assert words in found[field]


def test_bad_key_is_named_without_echoing_it_and_env_is_still_checked():
    found, _ = failures(ContainerRuntimeProvider(), props(connection={"host": "192.0.2.10", "private_key": "garbage-secret"},
                                                          env={"registry_port": 0}))
    assert "connection.private_key" in found and "garbage-secret" not in found["connection.private_key"]
    assert "env.registry_port" in found


def test_missing_connection_and_bad_address_are_named():
    found, _ = failures(ContainerRuntimeProvider(), {k: v for k, v in props().items() if k != "connection"})
    assert "connection" in found
    found, _ = failures(ContainerRuntimeProvider(), props(registry_address="not-an-ip"))
    assert "registry_address" in found


def test_numbers_arrive_as_floats_and_are_normalised():
    _, inputs = failures(ContainerRuntimeProvider(), props(env={"registry_port": 5443.0}))
    assert inputs["connection"]["port"] == 22 and isinstance(inputs["connection"]["port"], int)
    assert inputs["env"]["registry_port"] == 5443 and isinstance(inputs["env"]["registry_port"], int)
    assert inputs["internal_address"] == "192.0.2.10"  # defaults to the connection's host


def test_kube_node_rules():
    found, _ = failures(KubeNodeProvider(), props(role="master", first=True))
    assert "role" in found and "control-plane" in found["role"]
    found, _ = failures(KubeNodeProvider(), props(role="worker", first=True))
    assert "control_plane" in found
    found, _ = failures(KubeNodeProvider(), props(role="control-plane", first=True, env={"registry_password": "a:b"}))
    assert "env.registry_password" in found and "a:b" not in found["env.registry_password"]


def test_registry_wait_and_secret_not_echoed():
    found, _ = failures(RegistryProvider(), props(wait_seconds=0, env={"registry_password": "s3cret-value"}))
    assert "wait_seconds" in found
    assert all("s3cret-value" not in reason for reason in found.values())


def test_rootfs_image_reports_a_missing_tree_and_unknown_components(tmp_path):
    found, _ = failures(RootfsImageProvider(), {"rootfs_dir": str(tmp_path), "components": ["runtime"]})
    assert "rootfs_dir" in found and "Kubefile" in found["rootfs_dir"]
    found, _ = failures(RootfsImageProvider(), {"rootfs_dir": ROOTFS, "components": ["docker"]})
    assert "components" in found and "docker" in found["components"]


def test_delete_of_an_unreachable_host_fails_and_says_how_to_let_go():
    from sealos_provider.resources.base import ProvisionError

    outputs = props(connection={"host": "127.0.0.1", "port": 1, "private_key": KEY, "dial_error_limit": 1,
                                "per_dial_timeout": 1, "host_key_policy": "insecure"})
    with pytest.raises(ProvisionError) as failure:
        ContainerRuntimeProvider().delete("runtime-a@127.0.0.1", outputs)
    text = str(failure.value)
    assert "pulumi state delete" in text and "127.0.0.1" in text
    assert KEY.splitlines()[1] not in text
