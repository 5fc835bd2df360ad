"""The typed rootfs env: defaults from the Kubefile, validation naming the field, Pulumi-style inputs, extra env."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sealos_provider.image.env import ENV_FIELDS, EnvError, RootfsEnv
from sealos_provider.image.kubefile import parse_kubefile

ROOTFS = Path(__file__).resolve().parents[2] / "rootfs"


def _kubefile():
    return parse_kubefile((ROOTFS / "Kubefile").read_text())


def test_table_and_dataclass_defaults_agree() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(RootfsEnv) if f.name != "extra"}
    assert defaults == {f.name: f.default for f in ENV_FIELDS}
    assert len({f.key for f in ENV_FIELDS}) == len(ENV_FIELDS)
    assert [f.name for f in ENV_FIELDS if f.secret] == ["registry_password"]


def test_defaults_from_the_project_kubefile() -> None:
    env = RootfsEnv.from_kubefile(_kubefile()).validate()
    kf = _kubefile()
    out = env.to_env()
    for key, value in kf.env.items():
        assert out[key] == value
    assert out["SEALOS_SYS_KUBE_VERSION"] == kf.version
    assert env.registry_port == 5000 and isinstance(env.registry_port, int)


def test_defaults_from_a_kubefile_without_the_newer_keys() -> None:
    kf = parse_kubefile("FROM scratch\nLABEL version=v1.25.3\nENV registryPort=5443\nENV BIN_DIR=/opt/bin\n")
    env = RootfsEnv.from_kubefile(kf).validate()
    assert env.registry_port == 5443
    assert env.sandbox_image == "pause:3.9" and env.default_vip == "10.103.97.2"
    assert env.kube_version == "v1.25.3"
    assert env.extra == {"BIN_DIR": "/opt/bin"}
    assert env.to_env()["BIN_DIR"] == "/opt/bin"


def test_overrides_and_pulumi_floats() -> None:
    env = RootfsEnv.from_kubefile(
        _kubefile(), {"registry_port": 5001.0, "registry_data": "/data/registry", "extra": {"BIN_DIR": "/opt"}}
    ).validate()
    assert env.registry_port == 5001 and isinstance(env.registry_port, int)
    assert env.to_env()["registryPort"] == "5001"
    assert env.to_env()["registryData"] == "/data/registry"
    assert env.extra == {"BIN_DIR": "/opt"}
    same = RootfsEnv.from_inputs(env.to_inputs())
    assert same == env


def test_to_env_keys_are_the_kubefile_keys() -> None:
    out = RootfsEnv(extra={"myKey": "v"}).to_env()
    assert list(out) == [f.key for f in ENV_FIELDS] + ["myKey"]
    assert all(isinstance(v, str) for v in out.values())


@pytest.mark.parametrize(
    "inputs, field, fragment",
    [
        ({"registry_port": 0}, "registry_port", "between 1 and 65535"),
        ({"registry_port": 65536}, "registry_port", "between 1 and 65535"),
        ({"registry_port": 50.5}, "registry_port", "whole port number"),
        ({"registry_port": "50O0"}, "registry_port", "port number"),
        ({"registry_port": True}, "registry_port", "port number"),
        ({"cri_data": "var/lib/docker"}, "cri_data", "absolute path"),
        ({"registry_data": "/var//lib/registry/"}, "registry_data", "write '/var/lib/registry'"),
        ({"registry_config": "/etc/../etc/registry"}, "registry_config", "normalised"),
        ({"cri_dockerd_data": "/"}, "cri_dockerd_data", "root directory"),
        ({"cri_endpoint": "unix:///run/x.sock"}, "cri_endpoint", "absolute path"),
        ({"registry_domain": "bad_domain"}, "registry_domain", "valid host name"),
        ({"registry_domain": "-lead.example"}, "registry_domain", "valid host name"),
        ({"registry_domain": ""}, "registry_domain", "valid host name"),
        ({"registry_domain": "localhost"}, "registry_domain", "resolves it to itself"),
        ({"registry_domain": "reg.LOCALHOST"}, "registry_domain", "resolves it to itself"),
        ({"registry_username": ""}, "registry_username", "must not be empty"),
        ({"registry_username": "ad:min"}, "registry_username", "':'"),
        ({"registry_password": ""}, "registry_password", "must not be empty"),
        ({"registry_password": "x" * 73}, "registry_password", "72 bytes"),
        ({"sandbox_image": "pause 3.9"}, "sandbox_image", "without spaces"),
        ({"default_vip": "10.103.97"}, "default_vip", "IPv4 or IPv6"),
        ({"kube_version": "latest"}, "kube_version", "v1.28.15"),
        ({"registry_domain": 5}, "registry_domain", "must be a string"),
        ({"registryPort": 5000}, "registryPort", "use the snake_case name 'registry_port'"),
        ({"no_such": 1}, "no_such", "unknown env input"),
        ({"extra": {"registryPort": "1"}}, "extra", "set 'registry_port' instead"),
        ({"extra": {"registry_port": "1"}}, "extra", "typed input"),
        ({"extra": {"SEALOS_SYS_RUN_MODE": "x"}}, "extra", "reserved"),
        ({"extra": {"bad-key": "x"}}, "extra", "shell variable name"),
        ({"extra": {"k": ["list"]}}, "extra", "must be a string"),
        ({"extra": {"k": "a\0b"}}, "extra", "NUL"),
        ({"extra": "BIN_DIR=/x"}, "extra", "mapping"),
    ],
)
def test_validation_names_the_field_and_the_fix(inputs, field: str, fragment: str) -> None:
    with pytest.raises(EnvError) as err:
        RootfsEnv.from_inputs(inputs)
    assert err.value.field == field
    assert fragment in str(err.value)
    assert str(err.value).startswith(f"{field}: ")


def test_errors_never_show_the_password() -> None:
    with pytest.raises(EnvError) as err:
        RootfsEnv.from_inputs({"registry_password": "S3CRET" * 20})
    assert "S3CRET" not in str(err.value)


def test_hostile_values_are_valid() -> None:
    env = RootfsEnv.from_inputs(
        {"registry_password": "p\"a's:s #w\\d $x {{ .a }} *&! ü", "registry_username": "ädmin",
         "registry_data": "/srv/with space/reg", "registry_domain": "sealos.hub", "default_vip": "fd00::2"}
    )
    assert env.to_env()["registryPassword"] == "p\"a's:s #w\\d $x {{ .a }} *&! ü"


def test_secret_values_and_repr() -> None:
    env = RootfsEnv(registry_password="hunter2")
    assert env.secret_values() == ["hunter2"]
    assert "hunter2" not in repr(env) and "***" in repr(env)
    assert "hunter2" not in str(env)
