"""ConnectionSpec parsing/validation and the Redactor: pure, but part of the SSH layer's contract."""

from __future__ import annotations

import pickle

import pytest

from sealos_provider.remote.connection import ConnectionSpec, join_host_port
from sealos_provider.remote.dial import backoff
from sealos_provider.remote.errors import InvalidConnection
from sealos_provider.remote.redact import Redactor

KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n"


def test_from_dict_accepts_camel_case_floats_and_nested_proxy() -> None:
    spec = ConnectionSpec.from_dict(
        {
            "host": "10.0.0.5",
            "port": 2222.0,
            "user": "ubuntu",
            "privateKey": KEY,
            "dialErrorLimit": 3.0,
            "perDialTimeout": 7.0,
            "hostKeyPolicy": "insecure",
            "sudoPassword": "pw",
            "proxy": {"host": "bastion.example.com", "port": 22.0, "password": "bp"},
        }
    )
    assert (spec.port, spec.dial_error_limit, spec.per_dial_timeout) == (2222, 3, 7.0)
    assert isinstance(spec.port, int) and isinstance(spec.dial_error_limit, int)
    assert spec.private_key == KEY and spec.sudo_password == "pw"
    assert spec.proxy == ConnectionSpec(host="bastion.example.com", port=22, password="bp")
    assert ConnectionSpec.from_dict(spec.to_dict()) == spec
    assert sorted(spec.secret_values()) == sorted([KEY, "pw", "bp"])


def test_from_dict_accepts_pulumi_command_connection_args() -> None:
    from pulumi_command import remote

    args = remote.ConnectionArgs(
        host="192.0.2.7",
        port=2200,
        user="core",
        password="secret",
        dial_error_limit=4,
        proxy=remote.ProxyConnectionArgs(host="198.51.100.1", user="jump"),
    )
    spec = ConnectionSpec.from_dict(args)
    assert (spec.host, spec.port, spec.user, spec.password, spec.dial_error_limit) == (
        "192.0.2.7",
        2200,
        "core",
        "secret",
        4,
    )
    assert spec.proxy is not None and (spec.proxy.host, spec.proxy.user) == ("198.51.100.1", "jump")


def test_from_dict_unwraps_engine_secret_values() -> None:
    wrapped = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "hunter2"}
    assert ConnectionSpec.from_dict({"host": "h", "password": wrapped}).password == "hunter2"


@pytest.mark.parametrize(
    "data, field",
    [
        ({"host": "h", "prot": 22}, "prot"),
        ({"port": 22}, "host"),
        ({"host": "h", "port": 22.5}, "port"),
        ({"host": "h", "proxy": {"host": "j", "port": "x"}}, "proxy.port"),
        ({"host": "h", "sudo": "yes"}, "sudo"),
    ],
)
def test_from_dict_names_the_bad_field(data: dict, field: str) -> None:
    with pytest.raises(InvalidConnection) as err:
        ConnectionSpec.from_dict(data)
    assert err.value.field == field
    assert f"connection.{field}:" in str(err.value)


@pytest.mark.parametrize(
    "kwargs, field, hint",
    [
        ({"host": "bad host"}, "host", "not a host name"),
        ({"host": "h", "port": 0}, "port", "1-65535"),
        ({"host": "h", "host_key_policy": "pinned"}, "host_key", "ssh-keyscan"),
        ({"host": "h", "host_key_policy": "strict"}, "known_hosts_path", "required"),
        (
            {"host": "h", "host_key_policy": "strict", "known_hosts_path": "/nonexistent/kh"},
            "known_hosts_path",
            "does not exist",
        ),
        ({"host": "h", "host_key_policy": "maybe"}, "host_key_policy", "strict, pinned, tofu, insecure"),
        ({"host": "h", "host_key": "not a key"}, "host_key", "authorized_keys"),
        ({"host": "h", "dial_error_limit": 0}, "dial_error_limit", "-1 for unlimited"),
        ({"host": "h", "proxy": ConnectionSpec(host="j", port=70000)}, "proxy.port", "1-65535"),
    ],
)
def test_validate_names_field_and_fix(kwargs: dict, field: str, hint: str) -> None:
    with pytest.raises(InvalidConnection) as err:
        ConnectionSpec(**kwargs).validate()
    assert err.value.field == field
    assert hint in str(err.value)


def test_bad_private_key_error_does_not_echo_it() -> None:
    secret = "correct horse battery staple"
    with pytest.raises(InvalidConnection) as err:
        ConnectionSpec(host="h", private_key=secret).validate()
    assert err.value.field == "private_key" and secret not in str(err.value)


def test_addresses_bracket_ipv6_everywhere() -> None:
    assert ConnectionSpec(host="fd00::1", port=2222).address == "[fd00::1]:2222"
    assert ConnectionSpec.from_dict({"host": "[fd00::1]"}).host == "fd00::1"
    assert ConnectionSpec(host="fd00::1").known_hosts_name == "fd00::1"
    assert ConnectionSpec(host="fd00::1", port=2222).known_hosts_name == "[fd00::1]:2222"
    assert ConnectionSpec(host="10.1.2.3", port=22).address == "10.1.2.3:22"
    assert join_host_port("node-1.example", 22) == "node-1.example:22"
    ConnectionSpec(host="fd00::1").validate()
    ConnectionSpec(host="node-1.example").validate()


def test_repr_hides_secrets_and_spec_pickles() -> None:
    spec = ConnectionSpec(host="h", password="pw-123456", private_key=KEY, sudo_password="sudo-pw-1")
    text = repr(spec)
    assert "pw-123456" not in text and "BEGIN" not in text and "sudo-pw-1" not in text
    assert pickle.loads(pickle.dumps(spec)) == spec


def test_sudo_auto_means_non_root() -> None:
    assert ConnectionSpec(host="h").use_sudo is False
    assert ConnectionSpec(host="h", user="ubuntu").use_sudo is True
    assert ConnectionSpec(host="h", user="ubuntu", sudo=False).use_sudo is False


def test_redactor_masks_whole_secrets_and_each_key_line() -> None:
    r = Redactor(["pw", KEY, None])
    out = r("login pw; key line b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ printed")
    assert out == "login ***; key line *** printed"
    assert r(KEY) == "***"
    r.add("password-long")
    assert r("x password-long y") == "x *** y"


def test_backoff_is_short_and_bounded() -> None:
    assert [backoff(n) for n in range(1, 7)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
