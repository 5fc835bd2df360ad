"""Non-root users through sudo: NOPASSWD, a sudo password on stdin only, and the preflight errors that come before
any change."""

from __future__ import annotations

import shlex

import pytest

from sealos_provider.remote.errors import SudoError
from sealos_provider.remote.session import open_session

from .conftest import USER_PASSWORD, Keys, Sshd, UnixUser


def _spec(sshd: Sshd, keys: Keys, user: UnixUser, **kw: object) -> dict:
    return {
        "host": "127.0.0.1",
        "port": sshd.port,
        "user": user.name,
        "private_key": keys.private("ed25519"),
        "dial_error_limit": 1,
        "per_dial_timeout": 5,
        **kw,
    }


def test_nopasswd(sshd: Sshd, keys: Keys, test_user: UnixUser) -> None:
    test_user.set_sudoers(f"{test_user.name} ALL=(ALL) NOPASSWD: ALL\n")
    with open_session(_spec(sshd, keys, test_user)) as s:
        assert s.sudo_mode == "nopasswd"
        assert s.run("id -u").stdout == "0\n"
        assert s.run("id -un", sudo=False).stdout == f"{test_user.name}\n"
        s.put("/root/sp-sudo-put-test", b"x", mode=0o600)
        assert s.run("stat -c '%U %a' /root/sp-sudo-put-test; rm /root/sp-sudo-put-test").stdout == "root 600\n"


def test_sudo_password_goes_on_stdin_only(sshd: Sshd, keys: Keys, test_user: UnixUser) -> None:
    test_user.set_sudoers(f"{test_user.name} ALL=(ALL) ALL\n")
    lines: list[str] = []
    with open_session(_spec(sshd, keys, test_user, sudo_password=USER_PASSWORD), log=lines.append) as s:
        assert s.sudo_mode == "password"
        assert s.run("id -u").stdout == "0\n"
        # Every process's argv and environment while a sudo command runs: the password is in none of them.
        seen = s.run("cat /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'", stream=False)
        assert USER_PASSWORD not in seen.stdout
        # stdin and env still arrive intact after the password line.
        r = s.run('printf "%s|" "$A"; cat', stdin=b"data\n", env={"A": "v'1"})
        assert r.stdout == "v'1|data\n"
        r = s.run_script('set -e\nwhoami\necho "$HOME" >/dev/null\n', step="script")
        assert r.stdout == "root\n"
        s.run(f"echo {shlex.quote(USER_PASSWORD)}", step="echo")
    assert lines and all(USER_PASSWORD not in l for l in lines)
    assert any(l.endswith("echo: ***") for l in lines)


def test_password_needed_but_not_given(sshd: Sshd, keys: Keys, test_user: UnixUser) -> None:
    test_user.set_sudoers(f"{test_user.name} ALL=(ALL) ALL\n")
    with pytest.raises(SudoError, match="sudo needs a password for user .*: set sudo_password"):
        open_session(_spec(sshd, keys, test_user))


def test_wrong_sudo_password(sshd: Sshd, keys: Keys, test_user: UnixUser) -> None:
    test_user.set_sudoers(f"{test_user.name} ALL=(ALL) ALL\n")
    with pytest.raises(SudoError) as err:
        open_session(_spec(sshd, keys, test_user, sudo_password="wrong-sudo-pw-99"))
    assert "sudo rejected sudo_password" in str(err.value) and "wrong-sudo-pw-99" not in str(err.value)


def test_user_not_in_sudoers(sshd: Sshd, keys: Keys, test_user: UnixUser) -> None:
    with pytest.raises(SudoError, match=f"user {test_user.name} is not in sudoers"):
        open_session(_spec(sshd, keys, test_user, sudo_password=USER_PASSWORD))


def test_requiretty(sshd: Sshd, keys: Keys, test_user: UnixUser) -> None:
    test_user.set_sudoers(f"Defaults:{test_user.name} requiretty\n{test_user.name} ALL=(ALL) NOPASSWD: ALL\n")
    with pytest.raises(SudoError, match=r"requires a tty .*!requiretty"):
        open_session(_spec(sshd, keys, test_user))


def test_sudo_false_runs_as_the_user_without_preflight(sshd: Sshd, keys: Keys, test_user: UnixUser) -> None:
    with open_session(_spec(sshd, keys, test_user, sudo=False)) as s:
        assert s.sudo_mode is None
        assert s.run("id -un").stdout == f"{test_user.name}\n"
