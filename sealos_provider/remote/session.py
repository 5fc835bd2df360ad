"""Session: one authenticated SSH connection to one host, used for a single provider operation and then closed.

    with open_session(spec, log=pulumi.log.info, secrets=[registry_password], name="node-1") as s:
        s.run("systemctl is-active docker", step="probe docker", check=False)
        s.run_script(hook_text, step="init docker")
        s.put("/etc/registry/htpasswd", data, mode=0o600)
        s.push_tree(entries, "/var/lib/sealos/data/default/rootfs", manifest_name="rootfs")

Everything is built for an operation that may be cancelled or retried: the session is opened inside the operation
(nothing live is ever stored on a pickled provider), every command has a deadline, and every log line and error text
passes through the session's Redactor, which knows the connection's secrets and any the caller adds.

Non-root users: unless `sudo=False`, commands run through sudo. A preflight right after login decides how (NOPASSWD
or `sudo_password` on stdin) and reports "sudo needs a password", "user not in sudoers", "requiretty" or a rejected
password before any change is made.
"""

from __future__ import annotations

import hashlib
import posixpath
import shlex
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Mapping

import paramiko

from . import shell
from .connection import ConnectionSpec
from .dial import Link, open_link
from .errors import CommandError, CommandTimeout, DialError, InvalidConnection, RemoteError, SudoError, TransferError
from .execution import RunResult, execute
from .hostkeys import authorized_key, fingerprint
from .redact import Redactor

if TYPE_CHECKING:
    from ..filetree import FileEntry
    from .push import PushStats

READ_MISSING = 44


class Session:
    """An open connection; use `open_session` to get one."""

    def __init__(
        self, link: Link, spec: ConnectionSpec, redactor: Redactor, log: Callable[[str], None] | None, name: str
    ) -> None:
        self._link = link
        self.spec = spec
        self.redactor = redactor
        self._log = log
        self.name = name
        self.sudo_mode: str | None = None  # None (no sudo), "nopasswd" or "password"
        self.prefix = f"[{name} {spec.address}] " if name else f"[{spec.address}] "

    # ------------------------------------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._link.close()

    def __getstate__(self) -> None:
        raise TypeError("a Session holds a live connection and cannot be pickled; open one inside each operation")

    # ------------------------------------------------------------------------------------------------ facts
    @property
    def host_key(self) -> str:
        """The key the host presented, authorized_keys format: record it as the tofu `host_key` output."""
        return authorized_key(self._link.server_key)

    @property
    def host_key_fingerprint(self) -> str:
        return fingerprint(self._link.server_key)

    @property
    def auth_method(self) -> str:
        return self._link.auth_method

    @property
    def transport(self) -> paramiko.Transport:
        return self._link.transport

    def log(self, message: str) -> None:
        """Write a message to the log with the host prefix, redacted."""
        if self._log is not None:
            self._log(self.redactor(self.prefix + message))

    # ------------------------------------------------------------------------------------------------ commands
    def run(
        self,
        command: str,
        *,
        stdin: bytes | str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        step: str = "",
        sudo: bool | None = None,
        check: bool = True,
        stream: bool = True,
    ) -> RunResult:
        """Run a shell command. `env` values arrive byte for byte (sent on stdin as `export` lines), `stdin` is the
        command's standard input. Raises CommandError on a non-zero exit when `check`, CommandTimeout after
        `timeout` seconds (default: the connection's command_timeout)."""
        try:
            script = shell.wrapper(command, env, has_stdin=stdin is not None)
        except ValueError as exc:
            raise CommandError(self.redactor(str(exc)), host=self.spec.address, step=step) from None
        data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
        body: list[bytes] = [script] + ([data] if data else [])
        return self._run(body, step=step, timeout=timeout, sudo=sudo, check=check, stream=stream)

    def run_script(
        self,
        script: str,
        *,
        step: str,
        timeout: float | None = None,
        sudo: bool | None = None,
        check: bool = True,
        stream: bool = True,
    ) -> RunResult:
        """Run a bash script sent on stdin (never in argv); its own stdin is /dev/null."""
        return self.run(script, step=step, timeout=timeout, sudo=sudo, check=check, stream=stream)

    def run_stream(
        self,
        command: str,
        stdin: Iterable[bytes],
        *,
        env: Mapping[str, str] | None = None,
        step: str,
        timeout: float | None = None,
        sudo: bool | None = None,
        check: bool = True,
        stream: bool = True,
    ) -> tuple[RunResult, int]:
        """Like `run`, with stdin produced lazily (a tar stream); also returns the payload bytes sent."""
        script = shell.wrapper(command, env, has_stdin=True)
        sent: list[int] = []
        result = self._run(
            [script], step=step, timeout=timeout, sudo=sudo, check=check, stream=stream, extra=stdin, sent=sent
        )
        return result, sent[0] if sent else 0

    def _run(
        self,
        body: list[bytes],
        *,
        step: str,
        timeout: float | None,
        sudo: bool | None,
        check: bool,
        stream: bool,
        extra: Iterable[bytes] | None = None,
        sent: list[int] | None = None,
    ) -> RunResult:
        timeout = self.spec.command_timeout if timeout is None else timeout
        mode = self._sudo_for(sudo)
        head = shell.sudo_prefix(self.spec.sudo_password) if mode == "password" else b""
        command = shell.exec_string(sudo=mode, timeout=timeout)
        prefix_len = len(head) + sum(len(b) for b in body)

        def chunks() -> Iterator[bytes]:
            yield head + b"".join(body)
            if extra is not None:
                yield from extra

        on_line = self._line_logger(step) if stream else None
        try:
            outcome = execute(self.transport, command, chunks(), timeout=timeout, on_line=on_line)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise DialError(self.redactor(f"connection lost: {exc}"), host=self.spec.address, step=step) from None
        if sent is not None:
            sent.append(max(0, outcome.bytes_sent - prefix_len))
        tail = [self.redactor(line) for line in outcome.tail]
        if outcome.writer_error is not None and not isinstance(
            outcome.writer_error, (OSError, EOFError, paramiko.SSHException)
        ):
            raise TransferError(
                self.redactor(f"sending input failed: {outcome.writer_error}"), host=self.spec.address, step=step
            ) from outcome.writer_error
        if outcome.timed_out:
            raise CommandTimeout(
                f"timed out after {timeout:g}s; the command was stopped",
                host=self.spec.address,
                step=step,
                output_tail=tail,
            )
        if outcome.exit_code is None or outcome.exit_code < 0:
            if not self.transport.is_active():
                raise DialError("connection lost while the command ran", host=self.spec.address, step=step)
            raise CommandError(
                "the command ended without an exit status", host=self.spec.address, step=step, output_tail=tail
            )
        result = RunResult(
            outcome.exit_code,
            outcome.stdout.decode("utf-8", "replace"),
            outcome.stderr.decode("utf-8", "replace"),
            outcome.stdout,
            outcome.stderr,
        )
        if check and result.exit_code != 0:
            raise CommandError(
                "command failed", host=self.spec.address, step=step, exit_code=result.exit_code, output_tail=tail
            )
        return result

    def _line_logger(self, step: str) -> Callable[[str], None] | None:
        if self._log is None:
            return None
        log = self._log
        prefix = self.prefix + (f"{step}: " if step else "")

        def emit(line: str) -> None:
            log(self.redactor(prefix + line))

        return emit

    def _sudo_for(self, sudo: bool | None) -> str | None:
        want = self.spec.use_sudo if sudo is None else sudo
        if not want or self.spec.user == "root":
            return None
        if self.sudo_mode is None:
            self.sudo_mode = preflight_sudo(self)
        return self.sudo_mode

    # ------------------------------------------------------------------------------------------------ files
    def put(
        self,
        path: str,
        data: bytes,
        mode: int = 0o644,
        owner: str | None = None,
        *,
        step: str = "",
        sudo: bool | None = None,
    ) -> None:
        """Write `data` to `path` atomically: a 0600 temp file in the same directory, checked (sha256), chmod/chown,
        then renamed over the target. A dropped connection leaves the old file in place."""
        if not path.startswith("/"):
            raise TransferError(f"put: path {path!r} must be absolute", host=self.spec.address, step=step)
        env = {
            "SP_PATH": path,
            "SP_MODE": f"{mode & 0o7777:o}",
            "SP_OWNER": owner or "",
            "SP_SHA": hashlib.sha256(data).hexdigest(),
        }
        self.run(_PUT_SCRIPT, stdin=data, env=env, step=step or f"put {path}", sudo=sudo, stream=True)

    def read_file(self, path: str, *, step: str = "", sudo: bool | None = None) -> bytes | None:
        """The content of `path`, or None when it does not exist."""
        result = self.run(
            f'if [ -e "$SP_PATH" ]; then exec cat -- "$SP_PATH"; else exit {READ_MISSING}; fi',
            env={"SP_PATH": path},
            step=step or f"read {path}",
            sudo=sudo,
            check=False,
            stream=False,
        )
        if result.exit_code == READ_MISSING:
            return None
        if result.exit_code != 0:
            raise CommandError(
                f"cannot read {path}",
                host=self.spec.address,
                step=step or f"read {path}",
                exit_code=result.exit_code,
                output_tail=[self.redactor(l) for l in result.stderr.splitlines()[-5:]],
            )
        return result.stdout_bytes

    def push_tree(
        self,
        entries: "list[FileEntry]",
        remote_dir: str,
        *,
        manifest_name: str = "tree",
        sudo: bool | None = None,
        verify: str = "stat",
    ) -> "PushStats":
        """Make `remote_dir` hold `entries`, sending only what changed; see `push.push_tree`."""
        from .push import push_tree

        return push_tree(self, entries, remote_dir, manifest_name=manifest_name, sudo=sudo, verify=verify)

    def tree_changes(self, remote_dir: str, *, manifest_name: str = "tree", sudo: bool | None = None) -> "list[str] | None":
        """Files of the last push of `manifest_name` that changed on the host since (None: no completed push)."""
        from .push import tree_changes

        return tree_changes(self, remote_dir, manifest_name=manifest_name, sudo=sudo)

    def remove_tree(self, remote_dir: str, *, manifest_name: str = "tree", sudo: bool | None = None) -> "PushStats":
        """Remove the files the last push of `manifest_name` placed (nothing else), then that tree's own bookkeeping,
        and the bookkeeping directory once no tree uses it: what a destroy needs to leave the host as it was."""
        from .push import push_tree

        stats = push_tree(self, [], remote_dir, manifest_name=manifest_name, sudo=sudo)
        meta = posixpath.join(remote_dir, ".sealos-provider")
        name = shlex.quote(manifest_name)
        self.run_script(
            f"meta={shlex.quote(meta)}; n={name}\n"
            'rm -f -- "$meta/manifests/$n.json" "$meta/manifests/$n.stat" "$meta/$n.push.log"\n'
            'rmdir -- "$meta/staging" "$meta/manifests" "$meta" 2>/dev/null || true\n'
            f"rmdir -- {shlex.quote(remote_dir)} 2>/dev/null || true\n",
            step=f"remove tree {manifest_name}",
            sudo=sudo,
            stream=False,
        )
        return stats


_PUT_SCRIPT = r"""set -eu
d=$(dirname -- "$SP_PATH")
mkdir -p -- "$d"
t=$(mktemp -- "$d/.sp-put.XXXXXXXX")
trap 'rm -f -- "$t"' EXIT
cat > "$t"
sum=$(sha256sum -- "$t")
if [ "${sum%% *}" != "$SP_SHA" ]; then echo "put: content check failed for $SP_PATH (transfer cut short?)" >&2; exit 1; fi
chmod "$SP_MODE" -- "$t"
if [ -n "$SP_OWNER" ]; then chown -- "$SP_OWNER" "$t"; fi
mv -f -- "$t" "$SP_PATH"
trap - EXIT
"""


def preflight_sudo(session: Session) -> str:
    """Find out how sudo works for this user, before any change: "nopasswd" or "password"; else SudoError."""
    spec = session.spec
    step = "sudo preflight"
    probe = execute(session.transport, "sudo -k -n -- true", None, timeout=30, on_line=None)
    if probe.exit_code == 0:
        return "nopasswd"
    text = (probe.stderr + probe.stdout).decode("utf-8", "replace")
    _classify_sudo_failure(session, text, probe.exit_code, step, password_given=False)
    if spec.sudo_password is None:
        raise SudoError(
            f"sudo needs a password for user {spec.user}: set sudo_password (sent on stdin only), or allow the "
            f"user NOPASSWD in sudoers",
            host=spec.address,
            step=step,
        )
    try:
        head = shell.sudo_prefix(spec.sudo_password)
    except ValueError as exc:
        raise InvalidConnection("sudo_password", str(exc)) from None
    check = execute(session.transport, "sudo -k -S -p '' -- true", head, timeout=30, on_line=None)
    if check.exit_code == 0:
        return "password"
    text = (check.stderr + check.stdout).decode("utf-8", "replace")
    _classify_sudo_failure(session, text, check.exit_code, step, password_given=True)
    raise SudoError(
        f"sudo failed for user {spec.user}: {session.redactor(text.strip())[-300:]}", host=spec.address, step=step
    )


def _classify_sudo_failure(
    session: Session, text: str, exit_code: int | None, step: str, *, password_given: bool
) -> None:
    spec = session.spec
    low = text.lower()
    if exit_code == 127 or "sudo: command not found" in low or "sudo: not found" in low:
        raise SudoError(
            "sudo is not installed on the host; install it or connect as root", host=spec.address, step=step
        )
    if "must have a tty" in low or "requiretty" in low:
        raise SudoError(
            f"sudo requires a tty for user {spec.user} (requiretty): add `Defaults:{spec.user} !requiretty` to sudoers",
            host=spec.address,
            step=step,
        )
    if "not in the sudoers" in low or "not allowed to run sudo" in low or "may not run sudo" in low:
        raise SudoError(
            f"user {spec.user} is not in sudoers: grant it sudo rights or connect as root", host=spec.address, step=step
        )
    if password_given and ("incorrect password" in low or "try again" in low or "authentication failure" in low):
        raise SudoError(
            f"sudo rejected sudo_password for user {spec.user}: check the password", host=spec.address, step=step
        )


def open_session(
    spec: ConnectionSpec | Mapping[str, object],
    *,
    log: Callable[[str], None] | None = None,
    secrets: Iterable[str] = (),
    name: str = "",
) -> Session:
    """Dial, verify the host key, authenticate and (for a non-root user with sudo) run the sudo preflight.

    Every error raised is a RemoteError (or InvalidConnection) whose text has every known secret redacted.
    """
    spec = ConnectionSpec.from_dict(spec).validate()
    redactor = Redactor(list(spec.secret_values()) + [s for s in secrets if s])
    try:
        link = open_link(spec, log=(lambda m: log(redactor(m))) if log is not None else None)
    except RemoteError as exc:
        raise _redacted(exc, redactor) from None
    session = Session(link, spec, redactor, log, name)
    try:
        if spec.use_sudo and spec.user != "root":
            session.sudo_mode = preflight_sudo(session)
    except BaseException as exc:
        session.close()
        if isinstance(exc, RemoteError):
            raise _redacted(exc, redactor) from None
        if isinstance(exc, (paramiko.SSHException, OSError, EOFError)):
            raise DialError(redactor(f"connection lost: {exc}"), host=spec.address, step="sudo preflight") from None
        raise
    return session


def _redacted(exc: RemoteError, redactor: Redactor) -> RemoteError:
    exc.message = redactor(exc.message)
    exc.args = (redactor(str(exc)),)
    return exc
