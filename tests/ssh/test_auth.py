"""Authentication against a real sshd: every key type, inline and file keys, encrypted keys, password, agent."""

from __future__ import annotations

import pytest

from sealos_provider.remote.errors import AuthError
from sealos_provider.remote.session import open_session

from .conftest import KEY_PASSPHRASE, USER_PASSWORD, Keys, Sshd, UnixUser


def _spec(sshd: Sshd, **kw: object) -> dict:
    return {"host": "127.0.0.1", "port": sshd.port, "dial_error_limit": 1, "per_dial_timeout": 5, **kw}


@pytest.mark.parametrize("kind", ["rsa", "ecdsa", "ed25519"])
def test_inline_key_of_each_type(sshd: Sshd, keys: Keys, kind: str) -> None:
    with open_session(_spec(sshd, private_key=keys.private(kind))) as s:
        assert s.auth_method == "publickey"
        assert s.run("id -u").stdout == "0\n"


def test_key_file_path(sshd: Sshd, keys: Keys) -> None:
    with open_session(_spec(sshd, private_key_path=str(keys.paths["ecdsa"]))) as s:
        assert s.run("echo ok").stdout == "ok\n"


@pytest.mark.parametrize("name", ["encrypted", "encrypted_rsa"])
def test_encrypted_key_with_passphrase(sshd: Sshd, keys: Keys, name: str) -> None:
    with open_session(_spec(sshd, private_key=keys.private(name), private_key_password=KEY_PASSPHRASE)) as s:
        assert s.run("echo ok").stdout == "ok\n"


def test_encrypted_key_without_passphrase_says_what_to_set(sshd: Sshd, keys: Keys) -> None:
    with pytest.raises(AuthError) as err:
        open_session(_spec(sshd, private_key=keys.private("encrypted")))
    assert "set private_key_password" in str(err.value)


def test_wrong_passphrase_is_reported_without_echoing_it(sshd: Sshd, keys: Keys) -> None:
    with pytest.raises(AuthError) as err:
        open_session(_spec(sshd, private_key=keys.private("encrypted"), private_key_password="wrong-passphrase-x"))
    text = str(err.value)
    assert "check private_key_password" in text
    assert "wrong-passphrase-x" not in text and "PRIVATE KEY" not in text


def test_password_auth(sshd: Sshd, test_user: UnixUser) -> None:
    with open_session(_spec(sshd, user=test_user.name, password=USER_PASSWORD, sudo=False)) as s:
        assert s.auth_method == "password"
        assert s.run("id -un").stdout == f"{test_user.name}\n"


def test_failure_lists_each_method_and_never_the_secret(
    sshd: Sshd, keys: Keys, test_user: UnixUser, ssh_agent: str
) -> None:
    bad_password = "not-the-password-4711"
    with pytest.raises(AuthError) as err:
        open_session(
            _spec(
                sshd,
                user=test_user.name,
                private_key=keys.private("unauthorized"),
                password=bad_password,
                agent_socket_path=ssh_agent,
                sudo=False,
            )
        )
    text = str(err.value)
    assert f"127.0.0.1:{sshd.port}" in text and f"user {test_user.name}" in text
    methods = [m for m, _ in err.value.attempts]
    assert methods[0].startswith("publickey (private_key)")
    assert any(m.startswith("agent (agent_socket_path)") for m in methods)
    assert methods[-1] == "password"
    assert all(reason == "refused by the server" for _, reason in err.value.attempts)
    assert bad_password not in text and "PRIVATE KEY" not in text


def test_agent_auth(sshd: Sshd, ssh_agent: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    with open_session(_spec(sshd, agent_socket_path=ssh_agent)) as s:
        assert s.auth_method == "agent"
        assert s.run("echo ok").stdout == "ok\n"


def test_agent_from_environment(sshd: Sshd, ssh_agent: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSH_AUTH_SOCK", ssh_agent)
    with open_session(_spec(sshd)) as s:
        assert s.auth_method == "agent"


def test_no_credentials(sshd: Sshd, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    with pytest.raises(AuthError, match="no credentials for root: set private_key"):
        open_session(_spec(sshd))
