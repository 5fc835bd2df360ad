"""Host-key policies against a real sshd: tofu recording and "host key changed", pinned keys and fingerprints,
strict known_hosts (plain and hashed), insecure; host-key errors fail at once (no retries)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from sealos_provider.remote.errors import HostKeyError
from sealos_provider.remote.session import open_session

from .conftest import Keys, Sshd


def fp(pub_line: str) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-lf", "-"], input=pub_line + "\n", text=True, capture_output=True, check=True
    ).stdout
    return out.split()[1]


def _spec(sshd: Sshd, keys: Keys, **kw: object) -> dict:
    return {
        "host": "127.0.0.1",
        "port": sshd.port,
        "private_key": keys.private("ed25519"),
        "dial_error_limit": 5,
        "per_dial_timeout": 5,
        **kw,
    }


def test_tofu_records_the_key_then_detects_a_change(sshd: Sshd, sshd2: Sshd, keys: Keys) -> None:
    with open_session(_spec(sshd, keys)) as s:
        recorded = s.host_key
        assert recorded == sshd.host_pub("ed25519")
        assert s.host_key_fingerprint == fp(recorded)
    with open_session(_spec(sshd, keys, host_key=recorded)) as s:
        assert s.host_key == recorded
    # The "host" now answers with another key (sshd2's): the next operation must refuse it.
    other = sshd2.host_pub("ed25519")
    started = time.monotonic()
    with pytest.raises(HostKeyError) as err:
        open_session(_spec(sshd, keys, host_key=other))
    assert time.monotonic() - started < 3, "host-key errors must not be retried"
    text = str(err.value)
    assert "host key changed" in text
    assert f"recorded {fp(other)}" in text and f"now presents {fp(recorded)}" in text
    assert err.value.expected == fp(other) and err.value.seen == fp(recorded)


def test_tofu_with_a_recorded_rsa_key_negotiates_that_key(sshd: Sshd, keys: Keys) -> None:
    rsa = sshd.host_pub("rsa")
    with open_session(_spec(sshd, keys, host_key=rsa)) as s:
        assert s.host_key == rsa


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa", "rsa"])
def test_pinned_key_and_fingerprint(sshd: Sshd, keys: Keys, kind: str) -> None:
    pub = sshd.host_pub(kind)
    with open_session(_spec(sshd, keys, host_key_policy="pinned", host_key=pub)) as s:
        assert s.host_key == pub
    with open_session(_spec(sshd, keys, host_key_policy="pinned", host_key=fp(pub))) as s:
        assert s.host_key_fingerprint == fp(pub)


def test_pinned_wrong_key_is_rejected_with_both_fingerprints(sshd: Sshd, sshd2: Sshd, keys: Keys) -> None:
    wrong = sshd2.host_pub("ed25519")
    with pytest.raises(HostKeyError) as err:
        open_session(_spec(sshd, keys, host_key_policy="pinned", host_key=wrong))
    text = str(err.value)
    assert "host key mismatch" in text and fp(wrong) in text and fp(sshd.host_pub("ed25519")) in text


def test_strict_known_hosts(sshd: Sshd, sshd2: Sshd, keys: Keys, tmp_path: Path) -> None:
    kh = tmp_path / "known_hosts"
    kh.write_text(f"[127.0.0.1]:{sshd.port} {sshd.host_pub('ed25519')}\n")
    with open_session(_spec(sshd, keys, host_key_policy="strict", known_hosts_path=str(kh))) as s:
        assert s.run("echo ok").stdout == "ok\n"
    subprocess.run(["ssh-keygen", "-H", "-f", str(kh)], check=True, capture_output=True)
    assert "127.0.0.1" not in kh.read_text()
    with open_session(_spec(sshd, keys, host_key_policy="strict", known_hosts_path=str(kh))) as s:
        assert s.run("echo ok").stdout == "ok\n"
    # Unknown host (sshd2 is not listed).
    with pytest.raises(HostKeyError, match="is not in .*ssh-keyscan"):
        open_session(_spec(sshd2, keys, host_key_policy="strict", known_hosts_path=str(kh)))
    # Listed with another key.
    kh.write_text(f"[127.0.0.1]:{sshd.port} {sshd2.host_pub('ed25519')}\n")
    with pytest.raises(HostKeyError, match="host key mismatch.*ssh-keygen -R"):
        open_session(_spec(sshd, keys, host_key_policy="strict", known_hosts_path=str(kh)))


def test_insecure_accepts_any_key(sshd: Sshd, sshd2: Sshd, keys: Keys) -> None:
    with open_session(_spec(sshd, keys, host_key_policy="insecure", host_key=sshd2.host_pub("ed25519"))) as s:
        assert s.run("echo ok").stdout == "ok\n"
