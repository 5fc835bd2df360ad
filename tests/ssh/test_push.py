"""push_tree against a real sshd: only changes travel, only the tree's own stale files go, placement is atomic
(a connection cut mid-transfer leaves the old files intact and the next push completes), odd names survive."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import pytest

from sealos_provider.filetree import FileEntry, scan_dir
from sealos_provider.remote.errors import RemoteError
from sealos_provider.remote.session import open_session

from .conftest import USER_PASSWORD, Keys, Sshd, UnixUser


def host_tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """What is on the 'host' (the same machine): path -> (bytes, mode), without our metadata dir."""
    out = {}
    for entry in scan_dir(root, exclude=[".sealos-provider"]):
        out[entry.path] = (entry.read(), entry.mode)
    return out


def expected(entries: list[FileEntry]) -> dict[str, tuple[bytes, int]]:
    return {e.path: (e.read(), e.mode) for e in entries}


def make_tree(seed: int, n: int = 20, big: int = 0) -> list[FileEntry]:
    entries = [
        FileEntry.from_bytes(f"dir{i % 3}/file{i}.conf", f"seed {seed} file {i}\n".encode() * (i + 1)) for i in range(n)
    ]
    entries.append(FileEntry.from_bytes("scripts/init.sh", b"#!/bin/bash\necho init\n", 0o755))
    if big:
        entries.append(FileEntry.from_bytes("images/blob.bin", os.urandom(big), 0o644))
    return entries


def test_push_sends_only_changes_and_removes_only_its_own_files(root_spec: dict, tmp_path: Path) -> None:
    dest = tmp_path / "rootfs"
    dest.mkdir()
    (dest / "foreign.txt").write_text("not ours\n")
    tree = make_tree(1, big=200_000)
    other = [FileEntry.from_bytes("dir0/other-tree.txt", b"owned by another tree\n")]
    with open_session(root_spec) as s:
        first = s.push_tree(tree, str(dest), manifest_name="rootfs")
        assert (first.files_sent, first.files_total, first.files_removed) == (len(tree), len(tree), 0)
        # the bookkeeping (manifests with every file's sha256, staging, logs) is root's alone
        assert (dest / ".sealos-provider").stat().st_mode & 0o777 == 0o700
        s.push_tree(other, str(dest), manifest_name="other")
        assert host_tree(dest) == {**expected(tree), **expected(other), "foreign.txt": (b"not ours\n", 0o644)}

        again = s.push_tree(tree, str(dest), manifest_name="rootfs")
        assert (again.files_sent, again.files_removed, again.files_chmod) == (0, 0, 0)
        assert again.bytes_sent < 2000  # the path list for the probe, nothing else

        changed = [e if e.path != "dir1/file1.conf" else FileEntry.from_bytes(e.path, b"new content\n") for e in tree]
        changed = [e for e in changed if e.path != "dir2/file2.conf"]  # dropped from the tree
        changed = [FileEntry.from_bytes(e.path, e.read(), 0o700) if e.path == "scripts/init.sh" else e for e in changed]
        third = s.push_tree(changed, str(dest), manifest_name="rootfs")
        assert (third.files_sent, third.files_removed, third.files_chmod) == (1, 1, 1)
        assert third.bytes_sent < 3000
        assert host_tree(dest) == {**expected(changed), **expected(other), "foreign.txt": (b"not ours\n", 0o644)}

        # Someone edits a placed file on the host (same size): the next push notices and repairs it.
        victim = dest / "dir0/file0.conf"
        victim.write_bytes(b"X" * victim.stat().st_size)
        fourth = s.push_tree(changed, str(dest), manifest_name="rootfs")
        assert fourth.files_sent == 1 and victim.read_bytes() == b"seed 1 file 0\n"

        # An empty tree removes everything this tree placed, and nothing else.
        s.push_tree([], str(dest), manifest_name="rootfs")
        assert host_tree(dest) == {**expected(other), "foreign.txt": (b"not ours\n", 0o644)}
    manifest = json.loads((dest / ".sealos-provider/manifests/other.json").read_text())
    assert list(manifest["files"]) == ["dir0/other-tree.txt"]
    assert list((dest / ".sealos-provider/staging").iterdir()) == []


def test_odd_file_names_survive(root_spec: dict, tmp_path: Path) -> None:
    names = ["-dash", "sp ace/x", "quo'te\"s", "back\\slash", "uni ✓ 雪", "new\nline", "$(x)", "*"]
    tree = [FileEntry.from_bytes(n, n.encode() * 3, 0o640) for n in names]
    dest = tmp_path / "odd"
    with open_session(root_spec) as s:
        s.push_tree(tree, str(dest), manifest_name="odd")
        assert host_tree(dest) == expected(tree)
        assert s.push_tree(tree, str(dest), manifest_name="odd").files_sent == 0
        s.push_tree(tree[:2], str(dest), manifest_name="odd")
        assert host_tree(dest) == expected(tree[:2])


def test_push_as_non_root_with_sudo_password(sshd: Sshd, keys: Keys, test_user: UnixUser, tmp_path: Path) -> None:
    test_user.set_sudoers(f"{test_user.name} ALL=(ALL) ALL\n")
    dest = tmp_path / "sudo-rootfs"
    tree = make_tree(3)
    spec = {
        "host": "127.0.0.1",
        "port": sshd.port,
        "user": test_user.name,
        "private_key": keys.private("ed25519"),
        "sudo_password": USER_PASSWORD,
    }
    with open_session(spec) as s:
        s.push_tree(tree, str(dest), manifest_name="rootfs")
        assert s.push_tree(tree, str(dest), manifest_name="rootfs").files_sent == 0
    assert host_tree(dest) == expected(tree)
    assert os.stat(dest / "scripts/init.sh").st_uid == 0


class CuttingRelay:
    """A TCP relay to sshd that drops both sides after `limit` client->server bytes: a connection killed
    mid-transfer, as a network failure would."""

    def __init__(self, target_port: int, limit: int) -> None:
        self.target_port = target_port
        self.limit = limit
        self.sent = 0
        self.cut = threading.Event()
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.port = self.server.getsockname()[1]
        self.socks: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        client, _ = self.server.accept()
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        self.socks += [client, upstream]

        def pump(src: socket.socket, dst: socket.socket, count: bool) -> None:
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    if count:
                        self.sent += len(data)
                        if self.sent > self.limit:
                            self.cut.set()
                            break
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for sock in (client, upstream):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(upstream, client, False), daemon=True).start()
        pump(client, upstream, True)

    def close(self) -> None:
        for sock in self.socks + [self.server]:
            sock.close()


@pytest.fixture
def relay_factory(sshd: Sshd) -> Iterator:
    relays: list[CuttingRelay] = []

    def make(limit: int) -> CuttingRelay:
        relay = CuttingRelay(sshd.port, limit)
        relays.append(relay)
        return relay

    yield make
    for relay in relays:
        relay.close()


@pytest.mark.parametrize("cut_at", [3_000_000, 24_000_000], ids=["in-first-stream", "in-second-stream"])
def test_connection_killed_mid_transfer_then_next_push_completes(
    root_spec: dict, tmp_path: Path, relay_factory, cut_at: int
) -> None:
    dest = tmp_path / "rootfs"
    v1 = make_tree(1, big=1_000_000)
    with open_session(root_spec) as s:
        s.push_tree(v1, str(dest), manifest_name="rootfs")
    before = host_tree(dest)
    # Every file changes; the random blobs cannot be compressed. The push goes as two streams (the first one
    # ends after images/blob.bin, past 8 MiB), so the cut lands in the first or in the second stream.
    v2 = make_tree(2, big=17_000_000) + [FileEntry.from_bytes("zz/blob2.bin", os.urandom(12_000_000))]
    relay = relay_factory(limit=cut_at)
    with pytest.raises(RemoteError):
        with open_session(dict(root_spec, port=relay.port, dial_error_limit=1)) as s:
            s.push_tree(v2, str(dest), manifest_name="rootfs")
    assert relay.cut.is_set()
    # Old tree intact, byte for byte; nothing half-written in place.
    assert host_tree(dest) == before
    # The next push (connection healthy again) completes and cleans the staging area.
    with open_session(root_spec) as s:
        stats = s.push_tree(v2, str(dest), manifest_name="rootfs")
        assert stats.files_sent == len(v2) - 1  # scripts/init.sh is the same in both
        assert s.push_tree(v2, str(dest), manifest_name="rootfs").files_sent == 0
    assert host_tree(dest) == expected(v2)
    assert list((dest / ".sealos-provider/staging").iterdir()) == []
    leftovers = subprocess.run(["find", str(dest), "-name", ".sp-*"], capture_output=True, text=True).stdout
    assert leftovers == ""


def test_full_sha256_verification_mode(root_spec: dict, tmp_path: Path) -> None:
    tree = make_tree(4, big=300_000) + [FileEntry.from_bytes("back\\slash\nnl", b"odd")]
    dest = tmp_path / "verified"
    with open_session(root_spec) as s:
        first = s.push_tree(tree, str(dest), manifest_name="v", verify="sha256")
        assert first.files_sent == len(tree)
        again = s.push_tree(tree, str(dest), manifest_name="v", verify="sha256")
        assert (again.files_sent, again.files_hashed) == (0, len(tree))
        # A file corrupted on the host with its stat restored is still caught when hashing everything.
        victim = dest / "dir0/file0.conf"
        st = victim.stat()
        victim.write_bytes(b"Y" * st.st_size)
        os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert s.push_tree(tree, str(dest), manifest_name="v", verify="sha256").files_sent == 1
    assert host_tree(dest) == expected(tree)


def test_source_changed_during_push_places_nothing(root_spec: dict, tmp_path: Path) -> None:
    local = tmp_path / "src" / "tool.bin"
    local.parent.mkdir()
    local.write_bytes(b"A" * 100_000)
    entry = FileEntry.from_file("tool.bin", local)
    local.write_bytes(b"B" * 100_000)  # same size, other content: only the hash can tell
    dest = tmp_path / "dest"
    with open_session(root_spec) as s:
        with pytest.raises(RemoteError, match="changed while being pushed"):
            s.push_tree([entry], str(dest), manifest_name="t")
        assert s.run("echo usable").stdout == "usable\n"
    assert not (dest / "tool.bin").exists()


def test_remove_tree_removes_its_files_and_bookkeeping_and_nothing_else(root_spec: dict, tmp_path: Path) -> None:
    remote = tmp_path / "rootfs"
    remote.mkdir()
    (remote / "users-file").write_text("not ours\n")
    ours = make_tree(7, n=5)
    theirs = [FileEntry.from_bytes("other/kept.conf", b"kept\n")]
    with open_session(root_spec) as session:
        session.push_tree(ours, str(remote), manifest_name="ours")
        session.push_tree(theirs, str(remote), manifest_name="theirs")
        session.remove_tree(str(remote), manifest_name="ours")
        left = sorted(p.relative_to(remote).as_posix() for p in remote.rglob("*") if p.is_file())
        assert left == [
            ".sealos-provider/manifests/theirs.json",
            ".sealos-provider/manifests/theirs.stat",
            ".sealos-provider/theirs.push.log",
            "other/kept.conf",
            "users-file",
        ]
        session.remove_tree(str(remote), manifest_name="theirs")
    assert sorted(p.relative_to(remote).as_posix() for p in remote.rglob("*")) == ["users-file"]


def test_tree_changes_reports_what_changed_on_the_host_since_the_push(root_spec: dict, tmp_path: Path) -> None:
    """The refresh probe: host files against the last push's manifest, nothing sent, nothing repaired."""
    dest = tmp_path / "rootfs"
    tree = make_tree(3)
    with open_session(root_spec) as s:
        assert s.tree_changes(str(dest), manifest_name="rootfs") is None, "never pushed: no record"
        s.push_tree(tree, str(dest), manifest_name="rootfs")
        assert s.tree_changes(str(dest), manifest_name="rootfs") == []

        # Rewritten with the same bytes (new inode and times): hashed, and not drift.
        same = dest / "dir1/file1.conf"
        data = same.read_bytes()
        same.unlink()
        same.write_bytes(data)
        assert s.tree_changes(str(dest), manifest_name="rootfs") == []

        (dest / "dir0/file0.conf").write_bytes(b"Y" * (dest / "dir0/file0.conf").stat().st_size)  # same size
        (dest / "dir2/file2.conf").write_bytes(b"longer than before\n" * 9)
        (dest / "scripts/init.sh").chmod(0o644)
        (dest / "dir1/file4.conf").unlink()
        (dest / "not-ours.txt").write_text("a file the push did not place is not its business\n")
        before = host_tree(dest)
        assert s.tree_changes(str(dest), manifest_name="rootfs") == [
            "dir0/file0.conf: content changed",
            "dir1/file4.conf: missing",
            "dir2/file2.conf: content changed",
            "scripts/init.sh: mode 644, expected 755",
        ]
        assert host_tree(dest) == before, "inspecting changes nothing on the host"

        s.push_tree(tree, str(dest), manifest_name="rootfs")
        assert s.tree_changes(str(dest), manifest_name="rootfs") == []
        assert {k: v for k, v in host_tree(dest).items() if k != "not-ours.txt"} == expected(tree)
