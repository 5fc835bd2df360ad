"""Running one command on an exec channel: feed stdin from a thread, stream stdout/stderr line by line to a log,
enforce a deadline, and collect the exit code.

The writer runs in its own thread so a command that prints a lot before reading its input (or a tar stream that
the host consumes slowly) can never deadlock against the reader.
"""

from __future__ import annotations

import collections
import select
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import paramiko

TAIL_LINES = 20
EOF_GRACE = 2.0


@dataclass(frozen=True)
class RunResult:
    """What a command did. `stdout`/`stderr` are decoded text (UTF-8, invalid bytes replaced); the raw bytes are
    kept too for binary output. They are NOT redacted: the caller asked for them; logs and errors are redacted."""

    exit_code: int
    stdout: str
    stderr: str
    stdout_bytes: bytes = field(default=b"", repr=False)
    stderr_bytes: bytes = field(default=b"", repr=False)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass
class Outcome:
    """Raw result of `execute`, before the session decides whether it is an error."""

    exit_code: int | None
    stdout: bytes
    stderr: bytes
    tail: list[str]
    timed_out: bool
    bytes_sent: int
    writer_error: BaseException | None


class _LineSplitter:
    def __init__(self, emit: Callable[[str], None] | None, tail: collections.deque[str], tag: str) -> None:
        self.emit = emit
        self.tail = tail
        self.tag = tag
        self.pending = b""

    def feed(self, data: bytes) -> None:
        self.pending += data
        while b"\n" in self.pending:
            line, self.pending = self.pending.split(b"\n", 1)
            self._line(line)
        if len(self.pending) > 64 * 1024:  # a very long line without newline: emit what we have
            self._line(self.pending)
            self.pending = b""

    def flush(self) -> None:
        if self.pending:
            self._line(self.pending)
            self.pending = b""

    def _line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        self.tail.append(self.tag + text)
        if self.emit is not None:
            self.emit(self.tag + text)


def execute(
    transport: paramiko.Transport,
    command: str,
    stdin: bytes | Iterable[bytes] | None,
    *,
    timeout: float | None,
    on_line: Callable[[str], None] | None,
    open_timeout: float | None = 30,
) -> Outcome:
    """Run `command` (the fixed exec string) with `stdin` and return its raw outcome; never raises for a non-zero
    exit, only for a lost connection (paramiko.SSHException / OSError)."""
    chan = transport.open_session(timeout=open_timeout)
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    out_lines = _LineSplitter(on_line, tail, "")
    err_lines = _LineSplitter(on_line, tail, "")
    stdout = bytearray()
    stderr = bytearray()
    sent = [0]
    writer_error: list[BaseException] = []
    try:
        chan.exec_command(command)

        def write() -> None:
            try:
                if stdin is not None:
                    chunks = [stdin] if isinstance(stdin, (bytes, bytearray, memoryview)) else stdin
                    for chunk in chunks:
                        if chunk:
                            chan.sendall(chunk)
                            sent[0] += len(chunk)
                chan.shutdown_write()
            except BaseException as exc:  # noqa: BLE001 - reported to the caller below
                writer_error.append(exc)
                if not isinstance(exc, (OSError, EOFError, paramiko.SSHException)):
                    chan.close()  # a local error (e.g. an unreadable file): stop the remote side

        writer = threading.Thread(target=write, name="ssh-stdin", daemon=True)
        writer.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        exit_seen_at: float | None = None
        timed_out = False
        while True:
            progressed = False
            while chan.recv_ready():
                data = chan.recv(1 << 16)
                if not data:
                    break
                stdout += data
                out_lines.feed(data)
                progressed = True
            while chan.recv_stderr_ready():
                data = chan.recv_stderr(1 << 16)
                if not data:
                    break
                stderr += data
                err_lines.feed(data)
                progressed = True
            if progressed:
                continue
            if chan.exit_status_ready():
                now = time.monotonic()
                exit_seen_at = exit_seen_at or now
                if chan.eof_received or chan.closed or now - exit_seen_at > EOF_GRACE:
                    break
            elif chan.closed or (chan.eof_received and not transport.is_active()):
                break
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                timed_out = True
                break
            if not transport.is_active():
                break
            wait = 0.2 if deadline is None else max(0.0, min(0.2, deadline - now))
            select.select([chan], [], [], wait)
        out_lines.flush()
        err_lines.flush()
        exit_code = chan.recv_exit_status() if chan.exit_status_ready() else None
        if timed_out:
            exit_code = None
        writer.join(timeout=0 if timed_out or exit_code is None else 1)
        if writer.is_alive():  # the command ended without reading all its input: unblock the writer
            chan.close()
            writer.join(timeout=5)
        return Outcome(
            exit_code,
            bytes(stdout),
            bytes(stderr),
            list(tail),
            timed_out,
            sent[0],
            writer_error[0] if writer_error else None,
        )
    finally:
        chan.close()
