"""Authentication on an established transport: private key, then ssh-agent, then password.

Every method that is configured is tried in that order until one succeeds (pulumi-command gives the key precedence
over the password too). When all fail, AuthError lists each method and why it failed ("refused by the server",
"key is encrypted: set private_key_password", "server allows only: publickey"), never a secret. Auth failures are
not retried by the dialer: the same credentials would be refused again, and sshd may lock the account.
"""

from __future__ import annotations

import io
import os
import socket
from typing import Callable

import paramiko
import paramiko.agent

from .connection import ConnectionSpec
from .errors import AuthError

_KEY_CLASSES: tuple[type[paramiko.PKey], ...] = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)


def load_private_key(text: str, passphrase: str | None) -> paramiko.PKey:
    """Parse a PEM/OpenSSH private key (RSA, ECDSA, Ed25519; encrypted or not).

    Raises ValueError with a message safe to show (it never contains the key or the passphrase).
    """
    encrypted_hint = False
    for cls in _KEY_CLASSES:
        try:
            return cls.from_private_key(io.StringIO(text), password=passphrase)
        except paramiko.PasswordRequiredException:
            encrypted_hint = True
        except (paramiko.SSHException, ValueError, TypeError, IndexError):
            continue
    if encrypted_hint and not passphrase:
        raise ValueError("the private key is encrypted: set private_key_password to its passphrase")
    if encrypted_hint or passphrase:
        raise ValueError(
            "cannot decrypt the private key: check private_key_password (or the key type: RSA, ECDSA and Ed25519 are supported)"
        )
    raise ValueError("cannot parse the private key (RSA, ECDSA and Ed25519 in PEM or OpenSSH format are supported)")


class _SocketAgent(paramiko.agent.AgentSSH):
    """An ssh-agent client on an explicit socket path (paramiko's Agent only reads $SSH_AUTH_SOCK)."""

    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(timeout)
        try:
            conn.connect(path)
        except OSError:
            conn.close()
            raise
        self._connect(conn)

    def close(self) -> None:
        self._close()


def authenticate(
    transport: paramiko.Transport,
    spec: ConnectionSpec,
    *,
    step: str = "authenticate",
    log: Callable[[str], None] | None = None,
) -> str:
    """Authenticate `transport` as `spec.user`; return the method that worked or raise AuthError."""
    attempts: list[tuple[str, str]] = []
    allowed: list[str] | None = None

    def refused(method: str, exc: Exception) -> None:
        nonlocal allowed
        if isinstance(exc, paramiko.BadAuthenticationType):
            allowed = list(exc.allowed_types)
            attempts.append((method, f"not allowed by the server (it allows: {', '.join(allowed) or 'nothing'})"))
        elif isinstance(exc, paramiko.AuthenticationException):
            attempts.append((method, "refused by the server"))
        else:
            attempts.append((method, f"failed: {type(exc).__name__}"))

    # 1. private key (inline or file)
    key_text = spec.private_key
    key_label = "publickey (private_key)"
    if key_text is None and spec.private_key_path:
        key_label = f"publickey ({spec.private_key_path})"
        try:
            with open(os.path.expanduser(spec.private_key_path), encoding="utf-8") as fh:
                key_text = fh.read()
        except OSError as exc:
            attempts.append((key_label, f"cannot read the key file: {exc.strerror}"))
    if key_text is not None:
        try:
            key = load_private_key(key_text, spec.private_key_password)
        except ValueError as exc:
            attempts.append((key_label, str(exc)))
        else:
            try:
                transport.auth_publickey(spec.user, key)
                if transport.is_authenticated():
                    return "publickey"
            except (paramiko.SSHException, OSError) as exc:
                refused(f"{key_label} {key.get_name()}", exc)

    # 2. ssh-agent
    sock_path = spec.agent_socket_path or os.environ.get("SSH_AUTH_SOCK")
    if sock_path and transport.is_active():
        label = f"agent ({'agent_socket_path' if spec.agent_socket_path else '$SSH_AUTH_SOCK'})"
        agent: _SocketAgent | None = None
        try:
            agent = _SocketAgent(sock_path, spec.per_dial_timeout or None)
            keys = agent.get_keys()
            if not keys:
                attempts.append((label, "the agent holds no keys (ssh-add one)"))
            for key in keys:
                try:
                    transport.auth_publickey(spec.user, key)
                    if transport.is_authenticated():
                        return "agent"
                except (paramiko.SSHException, OSError) as exc:
                    refused(f"{label} {key.get_name()}", exc)
                    if not transport.is_active():
                        break
        except (OSError, paramiko.SSHException) as exc:
            attempts.append((label, f"cannot use the agent socket: {type(exc).__name__}"))
        finally:
            if agent is not None:
                agent.close()

    # 3. password, then keyboard-interactive answered with the password
    if spec.password is not None and transport.is_active():
        try:
            transport.auth_password(spec.user, spec.password)
            if transport.is_authenticated():
                return "password"
        except paramiko.BadAuthenticationType as exc:
            refused("password", exc)
            if "keyboard-interactive" in exc.allowed_types:
                password = spec.password

                def handler(title: str, instructions: str, prompts: list[tuple[str, bool]]) -> list[str]:
                    return [password for _ in prompts]

                try:
                    transport.auth_interactive(spec.user, handler)
                    if transport.is_authenticated():
                        return "keyboard-interactive"
                except (paramiko.SSHException, OSError) as exc2:
                    refused("keyboard-interactive (password)", exc2)
        except (paramiko.SSHException, OSError) as exc:
            refused("password", exc)

    if not attempts:
        raise AuthError(
            f"no credentials for {spec.user}: set private_key, private_key_path, password or agent_socket_path "
            "(or run an ssh-agent and set $SSH_AUTH_SOCK)",
            host=spec.address,
            step=step,
        )
    raise AuthError(f"authentication failed for user {spec.user}", host=spec.address, step=step, attempts=attempts)
