"""The exceptions of the SSH layer: each names the host and the step, so a failure in a fleet says where it happened.

Messages are built from values that are already redacted by the session; nothing here ever formats a credential.
`InvalidConnection` is raised before any network traffic, for inputs that can never work, and names the field and
the fix so that a Pulumi `check()` can show it verbatim.
"""

from __future__ import annotations

from typing import Sequence


class InvalidConnection(ValueError):
    """A connection input that cannot work; `field` is the input's name (e.g. `proxy.port`)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"connection.{field}: {message}")


class RemoteError(Exception):
    """Base of every failure talking to a host. `host` is the address (`[v6]:port` style), `step` what was running."""

    def __init__(self, message: str, *, host: str = "", step: str = "") -> None:
        self.host = host
        self.step = step
        self.message = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = self.host or "?"
        if self.step:
            where += f" ({self.step})"
        return f"{where}: {self.message}"


class DialError(RemoteError):
    """The TCP connection or SSH handshake could not be established (after the allowed retries)."""


class AuthError(RemoteError):
    """Every authentication method was refused. `attempts` holds (method, reason) pairs; never a secret."""

    def __init__(
        self, message: str, *, host: str = "", step: str = "", attempts: Sequence[tuple[str, str]] = ()
    ) -> None:
        self.attempts = list(attempts)
        if self.attempts:
            message += "; tried: " + "; ".join(f"{method}: {reason}" for method, reason in self.attempts)
        super().__init__(message, host=host, step=step)


class HostKeyError(RemoteError):
    """The host's key is unknown to the policy or differs from the expected one (a possible man in the middle)."""

    def __init__(
        self, message: str, *, host: str = "", step: str = "", expected: str | None = None, seen: str | None = None
    ) -> None:
        self.expected = expected
        self.seen = seen
        super().__init__(message, host=host, step=step)


class SudoError(RemoteError):
    """sudo cannot be used as configured: needs a password, the user is not in sudoers, requiretty, wrong password."""


class CommandError(RemoteError):
    """A remote command exited non-zero. Carries the exit code and the last lines of (redacted) output."""

    def __init__(
        self,
        message: str,
        *,
        host: str = "",
        step: str = "",
        exit_code: int | None = None,
        output_tail: Sequence[str] = (),
    ) -> None:
        self.exit_code = exit_code
        self.output_tail = list(output_tail)
        text = message
        if exit_code is not None:
            text += f" (exit code {exit_code})"
        if self.output_tail:
            text += "\n  last output:\n" + "\n".join(f"    {line}" for line in self.output_tail)
        super().__init__(text, host=host, step=step)


class CommandTimeout(CommandError):
    """A remote command ran longer than its timeout; it was stopped on the host (a `timeout` guard) and here."""


class TransferError(RemoteError):
    """A file transfer failed or the host's copy did not verify; the previously placed files are left in place."""
