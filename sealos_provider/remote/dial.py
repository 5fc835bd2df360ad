"""Dialing: TCP (directly or through jump hosts), SSH handshake, host-key check, authentication.

Retry policy (the documented bound). A *dial error* (connection refused or timed out, no SSH banner, handshake cut
off, a jump host that cannot reach the target) is retried: up to `dial_error_limit` attempts in all (-1 = unlimited),
each bounded by `per_dial_timeout` seconds for TCP connect + banner + key exchange together, with a backoff of
`min(BACKOFF_BASE * 2**(n-1), BACKOFF_MAX)` seconds after the n-th failure (0.25, 0.5, 1, 2, 2, ... s). So an
unreachable host fails after at most `dial_error_limit * per_dial_timeout + 2 * (dial_error_limit - 1)` seconds
(plus the same for each jump host it is reached through). Host-key and authentication errors are never retried.

Transport tuning (see benchmarks/ssh_push.py): AES-GCM first (the fastest cipher paramiko offers with AES-NI),
a 16 MiB window and SSH-level compression off (the file transfer compresses what is worth compressing itself).
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Callable

import paramiko

from . import auth, hostkeys
from .connection import ConnectionSpec
from .errors import AuthError, DialError, HostKeyError

BACKOFF_BASE = 0.25
BACKOFF_MAX = 2.0
WINDOW_SIZE = 16 * 1024 * 1024
MAX_PACKET = 32 * 1024
PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr")


def backoff(attempt: int) -> float:
    """Seconds to wait after the `attempt`-th failed dial (1-based)."""
    return min(BACKOFF_BASE * 2 ** (attempt - 1), BACKOFF_MAX)


@dataclass
class Link:
    """An authenticated transport plus the jump-host links under it (closed together, innermost first)."""

    transport: paramiko.Transport
    spec: ConnectionSpec
    server_key: paramiko.PKey
    auth_method: str
    parents: list["Link"] = field(default_factory=list)

    def close(self) -> None:
        try:
            self.transport.close()
        finally:
            for parent in self.parents:
                parent.close()


def open_link(
    spec: ConnectionSpec, *, log: Callable[[str], None] | None = None, sleep: Callable[[float], None] = time.sleep
) -> Link:
    """Dial `spec` (through its proxies), verify the host key, authenticate. Raises DialError, HostKeyError,
    AuthError."""
    parent: Link | None = None
    if spec.proxy is not None:
        parent = open_link(spec.proxy, log=log, sleep=sleep)
    try:
        attempt = 0
        last: Exception | None = None
        while spec.dial_error_limit < 0 or attempt < spec.dial_error_limit:
            attempt += 1
            try:
                transport = _handshake(spec, parent)
            except _Retryable as exc:
                last = exc.cause
                limit = "unlimited" if spec.dial_error_limit < 0 else str(spec.dial_error_limit)
                if log is not None:
                    log(f"[{spec.address}] dial attempt {attempt}/{limit} failed: {_describe(exc.cause)}")
                if spec.dial_error_limit >= 0 and attempt >= spec.dial_error_limit:
                    break
                sleep(backoff(attempt))
                continue
            try:
                key = transport.get_remote_server_key()
                key = _verify_trying_other_types(spec, parent, transport, key)
                transport = key[1]
                method = auth.authenticate(transport, spec, log=log)
            except BaseException:
                transport.close()
                raise
            return Link(transport, spec, key[0], method, [parent] if parent else [])
        via = f" via {spec.proxy.address}" if spec.proxy is not None else ""
        raise DialError(
            f"cannot connect{via} after {attempt} attempt(s) (dial_error_limit={spec.dial_error_limit}, "
            f"per_dial_timeout={spec.per_dial_timeout}s): {_describe(last)}",
            host=spec.address,
            step="connect",
        )
    except BaseException:
        if parent is not None:
            parent.close()
        raise


class _Retryable(Exception):
    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _verify_trying_other_types(
    spec: ConnectionSpec, parent: Link | None, transport: paramiko.Transport, key: paramiko.PKey
) -> tuple[paramiko.PKey, paramiko.Transport]:
    """Verify the host key. A key pinned only by fingerprint does not say its type, so when the key the host chose
    does not match, the handshake is repeated asking for each other key type the host may have."""
    excluded: set[str] = set()
    first_error: HostKeyError | None = None
    while True:
        try:
            hostkeys.verify(spec, key)
            return key, transport
        except HostKeyError as exc:
            first_error = first_error or exc
            if not (spec.host_key and spec.host_key.strip().startswith("SHA256:")):
                raise
            excluded.add(_family(key.get_name()))
            transport.close()
            try:
                transport = _handshake(spec, parent, exclude_families=excluded)
            except _Retryable:
                raise first_error from None
            key = transport.get_remote_server_key()


def _family(key_type: str) -> str:
    if key_type in ("ssh-rsa", "rsa-sha2-256", "rsa-sha2-512"):
        return "rsa"
    if key_type.startswith("ecdsa-"):
        return "ecdsa"
    return key_type


def _handshake(
    spec: ConnectionSpec, parent: Link | None, exclude_families: set[str] = frozenset()
) -> paramiko.Transport:
    timeout = spec.per_dial_timeout or None
    started = time.monotonic()

    def remaining() -> float | None:
        if timeout is None:
            return None
        return max(0.05, timeout - (time.monotonic() - started))

    sock: socket.socket | paramiko.Channel
    try:
        if parent is None:
            sock = socket.create_connection((spec.host, spec.port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        else:
            sock = parent.transport.open_channel(
                "direct-tcpip", (spec.host, spec.port), ("127.0.0.1", 0), timeout=timeout
            )
    except (OSError, paramiko.SSHException, EOFError) as exc:
        raise _Retryable(exc) from None
    transport = paramiko.Transport(sock, default_window_size=WINDOW_SIZE, default_max_packet_size=MAX_PACKET)
    try:
        options = transport.get_security_options()
        available = tuple(options.ciphers)
        options.ciphers = tuple(c for c in PREFERRED_CIPHERS if c in available) + tuple(
            c for c in available if c not in PREFERRED_CIPHERS
        )
        if exclude_families:
            others = tuple(t for t in options.key_types if _family(t) not in exclude_families)
            if not others:
                raise paramiko.SSHException("no other host key types to try")
            options.key_types = others
        wanted = hostkeys.preferred_key_type(spec)
        if wanted:
            types = tuple(options.key_types)
            # An RSA key is offered through its SHA-2 signature algorithms.
            first = tuple(t for t in types if t == wanted or (wanted == "ssh-rsa" and t.startswith("rsa-sha2")))
            if first:
                options.key_types = first + tuple(t for t in types if t not in first)
        transport.banner_timeout = remaining()
        transport.handshake_timeout = remaining()
        transport.auth_timeout = timeout
        transport.start_client(timeout=remaining())
        if not transport.is_active() or not transport.initial_kex_done:
            raise transport.get_exception() or paramiko.SSHException("the SSH handshake did not complete")
    except (OSError, paramiko.SSHException, EOFError) as exc:
        transport.close()
        raise _Retryable(exc) from None
    transport.set_keepalive(30)
    return transport


def _describe(exc: Exception | None) -> str:
    if exc is None:
        return "no attempt made"
    if isinstance(exc, socket.timeout):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name ({exc.strerror})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc) or type(exc).__name__
    return text


__all__ = ["Link", "open_link", "backoff", "AuthError", "HostKeyError", "DialError"]
