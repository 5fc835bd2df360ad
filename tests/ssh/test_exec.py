"""Running commands: values byte for byte through env and stdin, errors with host/step/exit code/last lines,
timeouts that stop the remote process, streamed and redacted logs, atomic put, read_file."""

from __future__ import annotations

import secrets
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from sealos_provider.remote.errors import CommandError, CommandTimeout
from sealos_provider.remote.session import open_session

from .conftest import Keys

HOSTILE = [
    "",
    "'",
    '"',
    "''\"\"",
    "$(touch MARKER)",
    "`touch MARKER`",
    "${HOME}",
    "$HOME",
    "a\nb",
    "line\n",
    "\n",
    "\\",
    "\\n",
    "-n",
    "--",
    " leading and trailing ",
    "tab\there",
    "cr\r\nlf",
    "ünïcödé ✓ 雪",
    "%s%n%x",
    "!!",
    "*",
    "?",
    "[a-z]",
    "~",
    "a;b|c&d>e<f",
    "EOF\n'EOF'\n",
    "}\n__sp_main\nexit 0",
    "\x01\x7f",
    "touch MARKER\n",
]


@pytest.fixture
def marker() -> Path:
    path = Path(f"/tmp/sp-pwned-{secrets.token_hex(4)}")
    yield path
    path.unlink(missing_ok=True)


def test_env_values_arrive_byte_for_byte(root_spec: dict, marker: Path) -> None:
    values = [v.replace("MARKER", str(marker)) for v in HOSTILE]
    env = {f"V{i}": v for i, v in enumerate(values)}
    with open_session(root_spec) as s:
        script = "".join(f'printf "%s" "$V{i}" | base64 -w0; echo\n' for i in range(len(values)))
        out = s.run(script, env=env).stdout.splitlines()
    import base64

    assert [base64.b64decode(line).decode() for line in out] == values
    assert not marker.exists()


def test_stdin_arrives_byte_for_byte_and_is_never_executed(root_spec: dict, marker: Path) -> None:
    blob = bytes(range(256)) * 64 + f"\ntouch {marker}\n".encode()
    with open_session(root_spec) as s:
        assert s.run("cat", stdin=blob).stdout_bytes == blob
        # A command that does not read its stdin: the data must not become shell input either.
        assert s.run("true", stdin=f"touch {marker}\n").exit_code == 0
        # A syntax error in the command: still nothing of stdin runs.
        with pytest.raises(CommandError):
            s.run("if then fi", stdin=f"touch {marker}\n")
        assert s.run("wc -c", stdin="x" * 100000).stdout.strip() == "100000"
    assert not marker.exists()


def test_run_script_stdin_is_dev_null(root_spec: dict) -> None:
    with open_session(root_spec) as s:
        r = s.run_script("read -r line || echo no-input\necho after\n", step="script")
    assert r.stdout == "no-input\nafter\n"


def test_command_error_carries_host_step_exit_code_and_tail(root_spec: dict) -> None:
    with open_session(root_spec) as s:
        with pytest.raises(CommandError) as err:
            s.run("for i in $(seq 1 40); do echo line$i; done; echo oops >&2; exit 7", step="install docker")
        r = s.run("exit 3", check=False)
    e = err.value
    assert e.exit_code == 7 and e.step == "install docker" and e.host == f"127.0.0.1:{root_spec['port']}"
    assert e.output_tail[-1] == "oops" and e.output_tail[-2] == "line40" and "line1" not in e.output_tail
    assert str(e).startswith(f"127.0.0.1:{root_spec['port']} (install docker): command failed (exit code 7)")
    assert r.exit_code == 3


def test_timeout_stops_the_command_on_the_host(root_spec: dict) -> None:
    token = f"{30 + secrets.randbelow(1000) / 1000:.3f}"
    with open_session(root_spec) as s:
        started = time.monotonic()
        with pytest.raises(CommandTimeout) as err:
            s.run(f"echo started; sleep {token}; echo never", timeout=1, step="slow")
        assert 0.9 <= time.monotonic() - started < 3
        assert "timed out after 1s" in str(err.value) and err.value.output_tail == ["started"]
        # The session is still usable.
        assert s.run("echo still here").stdout == "still here\n"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        if f"sleep {token}" not in ps:
            break
        time.sleep(0.25)
    else:
        pytest.fail("the timed-out remote command is still running")


def test_output_is_streamed_with_host_prefix_and_secrets_redacted(root_spec: dict, keys: Keys) -> None:
    lines: list[str] = []
    secret = "s3cr3t-" + secrets.token_hex(4)
    key_line = keys.private("ed25519").splitlines()[1]
    with open_session(root_spec, log=lines.append, secrets=[secret], name="node-1") as s:
        r = s.run(f"echo one; echo {secret} >&2; echo two; echo {shlex.quote(key_line)}", step="probe")
        with pytest.raises(CommandError) as err:
            s.run(f"echo value={secret}; exit 9", step="fail")
    assert r.stdout.startswith("one\ntwo\n")  # the caller gets its own output unredacted
    prefix = f"[node-1 127.0.0.1:{root_spec['port']}] probe: "
    assert f"{prefix}one" in lines and f"{prefix}two" in lines and f"{prefix}***" in lines
    assert lines.index(f"{prefix}one") < lines.index(f"{prefix}two")
    assert not any(secret in l or key_line in l for l in lines)
    assert secret not in str(err.value) and "value=***" in str(err.value)


def test_put_is_atomic_with_mode_and_owner(root_spec: dict, tmp_path: Path) -> None:
    target = tmp_path / "etc" / "registry" / "htpasswd"
    with open_session(root_spec) as s:
        s.put(str(target), b"user:$2y$05$hash\n", mode=0o600, owner="nobody")
        st = target.stat()
        assert target.read_bytes() == b"user:$2y$05$hash\n" and st.st_mode & 0o7777 == 0o600
        assert subprocess.run(["stat", "-c", "%U", str(target)], capture_output=True, text=True).stdout == "nobody\n"
        old_inode = st.st_ino
        data = bytes(range(256)) * 1000
        s.put(str(target), data, mode=0o640)
        assert target.read_bytes() == data and target.stat().st_mode & 0o7777 == 0o640
        assert target.stat().st_ino != old_inode  # replaced by rename, never rewritten in place
        assert sorted(p.name for p in target.parent.iterdir()) == ["htpasswd"]
        s.put(str(target), b"")
        assert target.read_bytes() == b""


def test_read_file(root_spec: dict, tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"\x00\xff binary\n")
    with open_session(root_spec) as s:
        assert s.read_file(str(path)) == b"\x00\xff binary\n"
        assert s.read_file(str(tmp_path / "missing")) is None
