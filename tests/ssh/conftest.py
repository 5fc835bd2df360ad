"""Fixtures: real OpenSSH servers on 127.0.0.1 high ports, client keys, an ssh-agent, throwaway Unix users.

Each sshd runs from its own directory (host keys, config, authorized keys per user, log) that is world-readable so
a non-root test user's keys can be read by sshd; `sshd -t` checks the config first. Users and their sudoers files
are created with useradd / visudo-checked files and removed afterwards. Everything runs as root (as CI does).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest

SSHD = "/usr/sbin/sshd"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/ssh" in str(item.fspath):
            item.add_marker(pytest.mark.ssh)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path, kind: str, passphrase: str = "", bits: int | None = None) -> Path:
    args = ["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-f", str(path), "-C", f"test-{kind}"]
    if bits:
        args += ["-b", str(bits)]
    subprocess.run(args, check=True, stdin=subprocess.DEVNULL)
    return path


@dataclass
class Sshd:
    """A running sshd; `authorize(user, pubkey)` adds a key, `host_pub(kind)` gives a host public key line."""

    root: Path
    port: int
    proc: subprocess.Popen
    log_path: Path

    def authorize(self, user: str, pub: str) -> None:
        path = self.root / "authorized_keys" / user
        with path.open("a") as fh:
            fh.write(pub.strip() + "\n")
        path.chmod(0o644)

    def host_pub(self, kind: str = "ed25519") -> str:
        return " ".join((self.root / f"ssh_host_{kind}_key.pub").read_text().split()[:2])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_sshd(extra_config: str = "", host_key_kinds: tuple[str, ...] = ("ed25519", "ecdsa", "rsa")) -> Sshd:
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="sp-sshd-"))
    root.chmod(0o755)
    (root / "authorized_keys").mkdir(mode=0o755)
    for kind in host_key_kinds:
        keygen(root / f"ssh_host_{kind}_key", kind, bits=3072 if kind == "rsa" else None)
    port = free_port()
    host_keys = "\n".join(f"HostKey {root}/ssh_host_{kind}_key" for kind in host_key_kinds)
    config = f"""Port {port}
ListenAddress 127.0.0.1
{host_keys}
PidFile {root}/sshd.pid
UsePAM no
StrictModes no
PermitRootLogin yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile {root}/authorized_keys/%u
AllowTcpForwarding yes
MaxStartups 100:30:200
MaxAuthTries 20
MaxSessions 50
LogLevel DEBUG1
{extra_config}
"""
    cfg = root / "sshd_config"
    cfg.write_text(config)
    subprocess.run([SSHD, "-t", "-f", str(cfg)], check=True, capture_output=True)
    log_path = root / "sshd.log"
    proc = subprocess.Popen([SSHD, "-D", "-f", str(cfg), "-E", str(log_path)], stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                if s.recv(4).startswith(b"SSH-"):
                    break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError(f"sshd did not start: {log_path.read_text() if log_path.exists() else ''}")
    return Sshd(root, port, proc, log_path)


@pytest.fixture(scope="session")
def sshd() -> Iterator[Sshd]:
    server = start_sshd()
    yield server
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def sshd2() -> Iterator[Sshd]:
    """A second server, the target behind a jump host."""
    server = start_sshd()
    yield server
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


@dataclass
class Keys:
    dir: Path
    paths: dict[str, Path] = field(default_factory=dict)

    def private(self, name: str) -> str:
        return self.paths[name].read_text()

    def public(self, name: str) -> str:
        return Path(str(self.paths[name]) + ".pub").read_text().strip()


KEY_PASSPHRASE = "pass phrase 'with' \"quotes\" $x"


@pytest.fixture(scope="session")
def keys(sshd: Sshd, sshd2: Sshd) -> Iterator[Keys]:
    d = Path(tempfile.mkdtemp(prefix="sp-keys-"))
    k = Keys(d)
    k.paths["rsa"] = keygen(d / "id_rsa", "rsa", bits=3072)
    k.paths["ecdsa"] = keygen(d / "id_ecdsa", "ecdsa")
    k.paths["ed25519"] = keygen(d / "id_ed25519", "ed25519")
    k.paths["encrypted"] = keygen(d / "id_enc", "ed25519", passphrase=KEY_PASSPHRASE)
    k.paths["encrypted_rsa"] = keygen(d / "id_enc_rsa", "rsa", passphrase=KEY_PASSPHRASE, bits=2048)
    k.paths["agent"] = keygen(d / "id_agent", "ed25519")
    k.paths["unauthorized"] = keygen(d / "id_other", "ed25519")
    for server in (sshd, sshd2):
        for name in ("rsa", "ecdsa", "ed25519", "encrypted", "encrypted_rsa", "agent"):
            server.authorize("root", k.public(name))
    yield k
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def root_spec(sshd: Sshd, keys: Keys) -> dict:
    """A connection dict for root on `sshd` with an inline Ed25519 key (tofu, nothing recorded yet)."""
    return {
        "host": "127.0.0.1",
        "port": sshd.port,
        "user": "root",
        "private_key": keys.private("ed25519"),
        "dial_error_limit": 2,
        "per_dial_timeout": 5,
    }


@pytest.fixture
def ssh_agent(keys: Keys) -> Iterator[str]:
    sock = keys.dir / f"agent-{secrets.token_hex(3)}.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    subprocess.run(
        ["ssh-add", "-q", str(keys.paths["agent"])],
        check=True,
        env=dict(os.environ, SSH_AUTH_SOCK=str(sock)),
        capture_output=True,
    )
    yield str(sock)
    proc.terminate()
    proc.wait(5)


@dataclass
class UnixUser:
    name: str
    password: str
    home: Path
    sudoers: Path

    def set_sudoers(self, text: str) -> None:
        tmp = self.sudoers.with_name(self.sudoers.name + ".tmp")
        tmp.write_text(text)
        tmp.chmod(0o440)
        subprocess.run(["visudo", "-c", "-q", "-f", str(tmp)], check=True)
        tmp.rename(self.sudoers)

    def clear_sudoers(self) -> None:
        self.sudoers.unlink(missing_ok=True)


USER_PASSWORD = "u$er 'pw' \"x\" `y` \\z"


@pytest.fixture
def test_user(sshd: Sshd, keys: Keys) -> Iterator[UnixUser]:
    """A fresh non-root user (removed afterwards) with the Ed25519 test key and a password."""
    name = "spt" + secrets.token_hex(4)
    subprocess.run(["useradd", "-m", "-s", "/bin/bash", name], check=True)
    subprocess.run(["chpasswd"], input=f"{name}:{USER_PASSWORD}\n", text=True, check=True)
    sshd.authorize(name, keys.public("ed25519"))
    user = UnixUser(name, USER_PASSWORD, Path("/home") / name, Path("/etc/sudoers.d") / f"zz-{name}")
    try:
        yield user
    finally:
        user.clear_sudoers()
        subprocess.run(["userdel", "-r", "-f", name], check=False, capture_output=True)


@pytest.fixture
def captured_log() -> tuple[list[str], Callable[[str], None]]:
    lines: list[str] = []
    return lines, lines.append
