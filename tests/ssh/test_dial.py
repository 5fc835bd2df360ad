"""Dialing: bounded retries for unreachable hosts, and jump hosts (single and nested) through real sshds."""

from __future__ import annotations

import socket
import threading
import time
from typing import Iterator

import pytest

from sealos_provider.remote.dial import backoff
from sealos_provider.remote.errors import DialError
from sealos_provider.remote.session import open_session

from .conftest import Keys, Sshd, free_port


def test_refused_port_fails_after_dial_error_limit_attempts(keys: Keys) -> None:
    port = free_port()  # nothing listens there
    lines: list[str] = []
    started = time.monotonic()
    with pytest.raises(DialError) as err:
        open_session(
            {
                "host": "127.0.0.1",
                "port": port,
                "private_key": keys.private("ed25519"),
                "dial_error_limit": 3,
                "per_dial_timeout": 1,
            },
            log=lines.append,
        )
    elapsed = time.monotonic() - started
    assert elapsed < 3 * 1 + backoff(1) + backoff(2) + 1.0
    assert elapsed >= backoff(1) + backoff(2)
    assert [l for l in lines if "dial attempt" in l] == [
        f"[127.0.0.1:{port}] dial attempt {n}/3 failed: connection refused" for n in (1, 2, 3)
    ]
    assert "after 3 attempt(s)" in str(err.value) and "connection refused" in str(err.value)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never says anything: each dial must hit per_dial_timeout."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join()
    for c in conns:
        c.close()
    srv.close()


def test_silent_host_fails_within_the_documented_bound(silent_server: int, keys: Keys) -> None:
    limit, per_dial = 2, 1.0
    started = time.monotonic()
    with pytest.raises(DialError, match="after 2 attempt"):
        open_session(
            {
                "host": "127.0.0.1",
                "port": silent_server,
                "private_key": keys.private("ed25519"),
                "dial_error_limit": limit,
                "per_dial_timeout": per_dial,
            }
        )
    elapsed = time.monotonic() - started
    bound = limit * per_dial + sum(backoff(n) for n in range(1, limit))
    assert limit * per_dial * 0.9 <= elapsed <= bound + 0.75


def _root(sshd: Sshd, keys: Keys, **kw: object) -> dict:
    return {
        "host": "127.0.0.1",
        "port": sshd.port,
        "private_key": keys.private("ed25519"),
        "dial_error_limit": 2,
        "per_dial_timeout": 5,
        **kw,
    }


def test_jump_host(sshd: Sshd, sshd2: Sshd, keys: Keys) -> None:
    spec = _root(sshd2, keys, private_key=keys.private("rsa"), proxy=_root(sshd, keys))
    with open_session(spec) as s:
        assert s.run("echo through").stdout == "through\n"
        assert s.host_key == sshd2.host_pub("ed25519")
    # The jump host's sshd opened the forwarded connection to the target's port.
    assert f"target 127.0.0.1 port {sshd2.port}" in sshd.log()


def test_nested_jump_hosts(sshd: Sshd, sshd2: Sshd, keys: Keys) -> None:
    spec = _root(sshd2, keys, proxy=_root(sshd, keys, proxy=_root(sshd2, keys)))
    with open_session(spec) as s:
        assert s.run("echo two hops").stdout == "two hops\n"
    assert f"target 127.0.0.1 port {sshd.port}" in sshd2.log()


def test_jump_host_that_cannot_reach_the_target(sshd: Sshd, keys: Keys) -> None:
    port = free_port()
    with pytest.raises(DialError) as err:
        open_session(_root(sshd, keys, port=port, per_dial_timeout=2, proxy=_root(sshd, keys)))
    assert f"127.0.0.1:{port}" in str(err.value) and f"via 127.0.0.1:{sshd.port}" in str(err.value)
