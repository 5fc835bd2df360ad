"""push_tree: make a remote directory hold a tree, sending only what the host lacks.

The host keeps, per tree name, under `<remote_dir>/.sealos-provider/manifests/`:
  <name>.json   what the last push placed: digest, {path: sha256, mode, size}, and the paths it was removing
  <name>.stat   written only when a push completes: the manifest digest, then `stat` of every placed file

A push is a few exec channels on the open session:
 1. probe:  read both files and `stat` every path of the new tree (and its directories) and of the old manifest.
            A file whose stat (size, inode, mtime, ctime with nanoseconds, mode) equals the record of a completed
            push still has the content the manifest says: no hashing needed. Any other file that exists with the
            right size is hashed on the host (2., only then), so a push after an interruption resends nothing it
            already placed. With verify="sha256" every file is hashed, before and after the transfer.
 3. send:   the changed files as tar streams extracted into a staging dir next to the target (same filesystem).
            The first stream (about 8 MiB) is gzip'ed and measures the link and the compressor; the rest goes
            gzip'ed when the compressor is faster than the link (then compression pays), as a plain tar otherwise
            (a LAN, or loopback). Inside a gzip'ed stream, files that do not compress are stored, not compressed.
 4. place:  after the last stream (which ends with an `end` marker member, so a cut stream is never taken for a
            whole one) the host renames the new manifest into place, removes stale files (listed by this tree's
            previous manifest only: several trees may share a dir), renames each new file or new directory over its
            target (one `mv` per target directory), fixes modes and writes the stat record. A connection dropped
            while sending leaves the old files untouched; once the data is complete the host finishes the placement
            even if the client is gone. The host's stat of every file is then checked here (size, mode).

Verification: every file is hashed while it is read for sending and must match the tree's sha256; the bytes the
host extracts are checked by gzip's CRC-32 (gzip'ed streams) and SSH's AEAD/MAC, sizes and modes after placement;
verify="sha256" adds a sha256sum of every received file on the host (split over its CPUs) before placement.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import queue
import re
import secrets
import stat
import tarfile
import threading
import time
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator

from ..filetree import FileEntry, index, stat_key, tree_digest
from .errors import TransferError

if TYPE_CHECKING:
    from .session import Session

MANIFEST_VERSION = 1
READ_CHUNK = 1 << 20
OUT_CHUNK = 1 << 20
SAMPLE = 4 * 1024
SMALL = 8 * 1024
FIRST_SEGMENT = 8 * 1024 * 1024
ASSUMED_COMPRESS_RATE = 40e6
# Compress only when the compressor is this many times faster than the link: below that, the CPU it takes (from
# encryption here, and on a shared machine from the host side too) costs more than the bytes it saves.
COMPRESS_MARGIN = 2.0
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class PushStats:
    """What a push did. bytes_sent counts the payload written to the host (compressed stream + path lists)."""

    files_sent: int
    bytes_sent: int
    files_removed: int
    files_total: int
    files_chmod: int = 0
    files_hashed: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class _Stat:
    size: int
    ino: int
    mtime: int
    ctime: str
    raw_mode: int

    @property
    def mode(self) -> int:
        return self.raw_mode & 0o7777

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.raw_mode)

    @property
    def key(self) -> tuple[int, int, int, str, int]:
        return (self.size, self.ino, self.mtime, self.ctime, self.raw_mode)


def push_tree(
    session: "Session",
    entries: list[FileEntry],
    remote_dir: str,
    *,
    manifest_name: str = "tree",
    sudo: bool | None = None,
    verify: str = "stat",
) -> PushStats:
    """Make `remote_dir` hold `entries` (see the module docstring). Raises TransferError when the host's copy
    does not verify; the files placed before stay intact."""
    started = time.monotonic()
    step = f"push {manifest_name}"
    host = session.spec.address
    if not remote_dir.startswith("/") or remote_dir.rstrip("/") == "":
        raise TransferError(f"remote_dir {remote_dir!r} must be an absolute path below /", host=host, step=step)
    if not _NAME.match(manifest_name):
        raise TransferError(
            f"manifest_name {manifest_name!r} must be letters, digits, '.', '_' or '-'", host=host, step=step
        )
    if verify not in ("stat", "sha256"):
        raise TransferError("verify must be 'stat' or 'sha256'", host=host, step=step)
    remote_dir = remote_dir.rstrip("/")
    wanted = index(entries)
    digest = tree_digest(entries)
    env = {"SP_DIR": remote_dir, "SP_NAME": manifest_name}
    bytes_sent = 0

    # 1. probe
    old_manifest, old_stat_digest, old_stats, probe_stats, sent = _probe(session, env, wanted, step, sudo)
    bytes_sent += sent
    old_files: dict[str, dict] = old_manifest.get("files", {}) if old_manifest else {}
    previous_complete = bool(old_manifest) and old_stat_digest == old_manifest.get("digest")
    old_paths = set(old_files)
    if old_manifest and not previous_complete:
        old_paths |= set(old_manifest.get("stale", []))
    stale = sorted(p for p in old_paths - set(wanted) if p in probe_stats)

    to_send: list[FileEntry] = []
    to_chmod: list[FileEntry] = []
    to_hash: list[FileEntry] = []
    for path, entry in wanted.items():
        now = probe_stats.get(path)
        if now is None or now.is_dir or now.size != entry.size:
            to_send.append(entry)
            continue
        old = old_files.get(path)
        recorded = old_stats.get(path) if previous_complete else None
        if (
            verify == "stat"
            and old is not None
            and old.get("sha256") == entry.sha256
            and recorded is not None
            and recorded.key == now.key
        ):
            if now.mode != entry.mode & 0o7777:
                to_chmod.append(entry)
            continue
        to_hash.append(entry)

    # 2. hash the doubtful ones on the host
    if to_hash:
        hashes, sent = _hash_remote(session, env, [e.path for e in to_hash], step, sudo)
        bytes_sent += sent
        for entry in to_hash:
            if hashes.get(entry.path) == entry.sha256:
                if probe_stats[entry.path].mode != entry.mode & 0o7777:
                    to_chmod.append(entry)
            else:
                to_send.append(entry)

    if (
        not to_send
        and not to_chmod
        and not stale
        and previous_complete
        and old_manifest.get("digest") == digest
        and set(old_files) == set(wanted)
    ):
        return PushStats(0, bytes_sent, 0, len(wanted), 0, len(to_hash), time.monotonic() - started)

    # 3. place
    manifest = {
        "version": MANIFEST_VERSION,
        "name": manifest_name,
        "digest": digest,
        "files": {p: {"sha256": e.sha256, "mode": e.mode & 0o7777, "size": e.size} for p, e in sorted(wanted.items())},
        "stale": stale,
    }
    to_send.sort(key=lambda e: e.path)
    ctl = _control_files(manifest, to_send, to_chmod, stale, sorted(wanted), _move_plan(to_send, probe_stats))
    token = secrets.token_hex(6)
    rates = _Rates()
    segments = _segments(to_send)
    result = None
    for i, files in enumerate(segments):
        first, final = i == 0, i == len(segments) - 1
        use_gzip = True if first else rates.gzip_pays()
        seg_env = dict(
            env,
            SP_DIGEST=digest,
            SP_TOKEN=token,
            SP_VERIFY=verify,
            SP_FIRST="1" if first else "0",
            SP_FINAL="1" if final else "0",
            SP_Z="z" if use_gzip else "",
        )
        prefetch = _Prefetch(rates)
        stream = prefetch.run(_tar_stream(ctl if first else [], files, rates, gzip=use_gzip, final=final))
        result, sent = session.run_stream(
            _PLACE_SCRIPT,
            stream,
            env=seg_env,
            step=step,
            sudo=sudo,
            stream=False,
            check=False,
            timeout=max(session.spec.command_timeout, 3600),
        )
        bytes_sent += sent
        if result.exit_code != 0:
            tail = [session.redactor(l) for l in result.stderr.splitlines()[-10:]]
            raise TransferError(
                f"placing the tree in {remote_dir} failed (exit {result.exit_code}); the previous files are intact"
                + ("\n  " + "\n  ".join(tail) if tail else ""),
                host=host,
                step=step,
            )
    assert result is not None

    # 4. verify what the host reports
    placed = _parse_stats(result.stdout_bytes)
    problems = []
    for path, entry in wanted.items():
        st = placed.get(path)
        if st is None:
            problems.append(f"{path}: missing")
        elif st.size != entry.size:
            problems.append(f"{path}: size {st.size}, expected {entry.size}")
        elif st.mode != entry.mode & 0o7777:
            problems.append(f"{path}: mode {st.mode:o}, expected {entry.mode & 0o7777:o}")
    if problems:
        raise TransferError(
            "the host's copy does not match after the push: " + "; ".join(problems[:10]), host=host, step=step
        )
    return PushStats(
        len(to_send), bytes_sent, len(stale), len(wanted), len(to_chmod), len(to_hash), time.monotonic() - started
    )


def tree_changes(
    session: "Session", remote_dir: str, *, manifest_name: str = "tree", sudo: bool | None = None
) -> list[str] | None:
    """What changed on the host since the last completed push of `manifest_name` into `remote_dir`, compared with
    what that push placed (its manifest), not with any local tree: a refresh must report the host's drift, not an
    edit of the local rootfs. A file whose stat is the one recorded at placement is unchanged (the push's quick
    check); any other file is hashed on the host. Returns None when the host has no record of a completed push
    (never pushed, or a push that did not finish), else a sorted list of "path: why" (empty: intact)."""
    remote_dir = remote_dir.rstrip("/")
    env = {"SP_DIR": remote_dir, "SP_NAME": manifest_name}
    step = f"inspect {manifest_name}"
    manifest, stat_digest, recorded, now, _ = _probe(session, env, {}, step, sudo)
    if not manifest or stat_digest != manifest.get("digest"):
        return None
    changes: list[str] = []
    to_hash: list[str] = []
    for path, want in sorted(manifest["files"].items()):
        seen = now.get(path)
        if seen is None or seen.is_dir:
            changes.append(f"{path}: missing")
        elif seen.size != want.get("size"):
            changes.append(f"{path}: content changed")
        elif recorded.get(path) is None or recorded[path].key != seen.key:
            to_hash.append(path)
        elif seen.mode != want.get("mode"):
            changes.append(f"{path}: mode {seen.mode:o}, expected {want.get('mode', 0):o}")
    if to_hash:
        hashes, _ = _hash_remote(session, env, to_hash, step, sudo)
        for path in to_hash:
            want = manifest["files"][path]
            if hashes.get(path) != want.get("sha256"):
                changes.append(f"{path}: content changed")
            elif now[path].mode != want.get("mode"):
                changes.append(f"{path}: mode {now[path].mode:o}, expected {want.get('mode', 0):o}")
    return sorted(changes)


# ----------------------------------------------------------------------------------------------- probe & hash
_PROBE_SCRIPT = r"""m="$SP_DIR/.sealos-provider/manifests/$SP_NAME"
if [ -f "$m.json" ]; then base64 -w0 -- "$m.json"; fi; printf '\0'
if [ -f "$m.stat" ]; then base64 -w0 -- "$m.stat"; fi; printf '\0'
cd -- "$SP_DIR" 2>/dev/null || { cat >/dev/null; exit 0; }
xargs -0 -r stat --printf '%s %i %Y %z %f %n\0' -- 2>/dev/null
exit 0
"""

_HASH_SCRIPT = r"""cd -- "$SP_DIR" || exit 1
while IFS= read -r -d '' p; do
  if [ -f "$p" ]; then h=$(sha256sum < "$p") && printf '%s %s\0' "${h%% *}" "$p"; fi
done
exit 0
"""


def _probe(
    session: "Session", env: dict[str, str], wanted: dict[str, FileEntry], step: str, sudo: bool | None
) -> tuple[dict | None, str | None, dict[str, _Stat], dict[str, _Stat], int]:
    # Stat the new tree's paths now; the old manifest's paths are stat'ed in a second pass only if they differ.
    paths = list(wanted) + sorted(_ancestors(wanted))
    data = b"".join(p.encode() + b"\0" for p in paths)
    result = session.run(_PROBE_SCRIPT, stdin=data, env=env, step=step + " (probe)", sudo=sudo, stream=False)
    sent = len(data)
    parts = result.stdout_bytes.split(b"\0", 2)
    if len(parts) < 3:
        raise TransferError("unexpected probe output from the host", host=session.spec.address, step=step)
    manifest = None
    if parts[0].strip():
        try:
            manifest = json.loads(base64.b64decode(parts[0]))
            if manifest.get("version") != MANIFEST_VERSION or not isinstance(manifest.get("files"), dict):
                manifest = None
        except ValueError:
            manifest = None  # a damaged manifest: treat the host as unknown, everything gets checked
    stat_digest = None
    old_stats: dict[str, _Stat] = {}
    if parts[1]:
        head, _, rest = base64.b64decode(parts[1]).partition(b"\n")
        stat_digest = head.decode("utf-8", "replace")
        old_stats = _parse_stats(rest)
    now_stats = _parse_stats(parts[2])
    extra = [
        p
        for p in (set(manifest.get("files", {})) | set(manifest.get("stale", [])) if manifest else ())
        if p not in wanted
    ]
    if extra:
        data = b"".join(p.encode() + b"\0" for p in extra)
        more = session.run(
            _PROBE_SCRIPT.split("\n", 3)[3], stdin=data, env=env, step=step + " (probe)", sudo=sudo, stream=False
        )
        sent += len(data)
        now_stats.update(_parse_stats(more.stdout_bytes))
    return manifest, stat_digest, old_stats, now_stats, sent


def _hash_remote(
    session: "Session", env: dict[str, str], paths: list[str], step: str, sudo: bool | None
) -> tuple[dict[str, str], int]:
    data = b"".join(p.encode() + b"\0" for p in paths)
    result = session.run(_HASH_SCRIPT, stdin=data, env=env, step=step + " (hash)", sudo=sudo, stream=False)
    out: dict[str, str] = {}
    for record in result.stdout_bytes.split(b"\0"):
        if record:
            sha, _, path = record.partition(b" ")
            out[path.decode("utf-8", "surrogateescape")] = sha.decode()
    return out, len(data)


def _parse_stats(raw: bytes) -> dict[str, _Stat]:
    out: dict[str, _Stat] = {}
    for record in raw.split(b"\0"):
        if not record:
            continue
        fields = record.split(b" ", 7)
        # size ino mtime ctime(date time zone) mode path
        if len(fields) < 8:
            continue
        try:
            size, ino, mtime = int(fields[0]), int(fields[1]), int(fields[2])
            ctime = b" ".join(fields[3:6]).decode()
            mode = int(fields[6], 16)
        except ValueError:
            continue
        out[fields[7].decode("utf-8", "surrogateescape")] = _Stat(size, ino, mtime, ctime, mode)
    return out


# ----------------------------------------------------------------------------------------------- the stream
def _ancestors(paths: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for path in paths:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            out.add("/".join(parts[:i]))
    return out


def _move_plan(to_send: list[FileEntry], probe: dict[str, _Stat]) -> dict[str, list[str]]:
    """Group what to rename by target parent dir: a whole staged directory when its target does not exist on the
    host yet (one rename for a whole new subtree), single files otherwise. One `mv` per group on the host."""
    existing = {p for p, st in probe.items() if st.is_dir}
    groups: dict[str, set[str]] = {}
    for entry in to_send:
        parts = entry.path.split("/")
        unit = entry.path
        for i in range(1, len(parts)):
            ancestor = "/".join(parts[:i])
            if ancestor not in existing:
                unit = ancestor
                break
        parent = unit.rpartition("/")[0] or "."
        groups.setdefault(parent, set()).add(unit)
    return {parent: sorted(units) for parent, units in sorted(groups.items())}


def _control_files(
    manifest: dict,
    to_send: list[FileEntry],
    to_chmod: list[FileEntry],
    stale: list[str],
    all_paths: list[str],
    plan: dict[str, list[str]],
) -> list[tuple[str, bytes]]:
    def nul(items: Iterable[str]) -> bytes:
        return b"".join(i.encode() + b"\0" for i in items)

    sums = []
    for e in to_send:
        name = "data/" + e.path
        if "\\" in name or "\n" in name:
            sums.append("\\" + e.sha256 + "  " + name.replace("\\", "\\\\").replace("\n", "\\n") + "\n")
        else:
            sums.append(f"{e.sha256}  {name}\n")
    by_mode: dict[str, list[str]] = {}
    for e in to_chmod:
        by_mode.setdefault(f"{e.mode & 0o7777:o}", []).append(e.path)
    stale_dirs = sorted({p.rpartition("/")[0] for p in stale} - {""})
    files = [
        ("ctl/manifest.json", json.dumps(manifest, sort_keys=True, indent=1).encode() + b"\n"),
        ("ctl/sums", "".join(sums).encode()),
        ("ctl/remove", nul(stale)),
        ("ctl/rmdirs", nul(stale_dirs)),
        ("ctl/all", nul(all_paths)),
        ("ctl/groups", nul(plan)),
        ("ctl/modes", nul(by_mode)),
    ]
    for i, parent in enumerate(plan):
        files.append((f"ctl/g.{i}", nul(plan[parent])))
    for i, mode in enumerate(by_mode):
        files.append((f"ctl/m.{i}", nul(by_mode[mode])))
    return files


def _segments(to_send: list[FileEntry]) -> list[list[FileEntry]]:
    """Split the files in two streams: the first (at least FIRST_SEGMENT bytes, at a file boundary) is sent
    gzip'ed and measures the link and the compressor; the second is sent gzip'ed or as a plain tar, whichever is
    faster on this link. Small pushes are one stream."""
    total = 0
    for i, entry in enumerate(to_send):
        total += entry.size
        if total >= FIRST_SEGMENT and i + 1 < len(to_send):
            return [to_send[: i + 1], to_send[i + 1 :]]
    return [to_send]


class _Rates:
    """Throughput measured during the push: the link (bytes/s the channel accepted) and the level-1 compressor
    (input bytes/s), as moving averages."""

    def __init__(self) -> None:
        self.link: float | None = None
        self.compress: float | None = None

    @staticmethod
    def _avg(old: float | None, new: float) -> float:
        return new if old is None else 0.7 * old + 0.3 * new

    def saw_link(self, rate: float) -> None:
        self.link = self._avg(self.link, rate)

    def saw_compress(self, rate: float) -> None:
        self.compress = self._avg(self.compress, rate)

    def compress_keeps_up(self) -> bool:
        """Compressing pays when the compressor is faster than the link (with a margin): then the pipeline runs
        at link speed and carries fewer bytes."""
        if self.link is None or self.compress is None:
            return True
        return self.compress > COMPRESS_MARGIN * self.link

    def gzip_pays(self) -> bool:
        if self.link is None:
            return True
        if self.compress is None:
            return self.link < ASSUMED_COMPRESS_RATE
        return self.compress_keeps_up()


def _tar_stream(
    ctl: list[tuple[str, bytes]], to_send: list[FileEntry], rates: _Rates, *, gzip: bool, final: bool
) -> Iterator[bytes]:
    """One tar stream (gzip'ed or plain): control files, data files, and in the final stream an `end` marker
    member (its absence means a cut stream).

    In a gzip'ed stream each 1 MiB piece of a compressible file (a 4 KiB sample saves >= 10%) is compressed at
    level 1 while the compressor keeps up with the link; everything else is stored (level 0). Every file is hashed
    as it is read: content that changed since the tree was scanned aborts the push before the end marker, so the
    host discards it.
    """
    mtime = int(time.time())
    out: _GzipMembers | _Plain = _GzipMembers() if gzip else _Plain()

    def header(name: str, size: int, mode: int) -> bytes:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, mode, mtime
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")

    for name, data in ctl:
        out.write(header(name, len(data), 0o644) + data + b"\0" * (-len(data) % 512), 1)
    for entry in to_send:
        digest = hashlib.sha256()
        with entry.open() as fh:
            # Bytes cannot change; a file whose stat is the one it had when hashed need not be hashed again.
            trusted = isinstance(entry.source, bytes) or (
                entry.stat_key is not None and stat_key(os.fstat(fh.fileno())) == entry.stat_key
            )
            out.write(header("data/" + entry.path, entry.size, entry.mode & 0o7777), out.level)
            total = 0
            compressible: bool | None = None
            chunk = fh.read(READ_CHUNK)
            while chunk:
                total += len(chunk)
                if not trusted:
                    digest.update(chunk)
                level = 0
                if not gzip or len(chunk) < SMALL:
                    level = out.level
                elif rates.compress_keeps_up():
                    if compressible is None:
                        sample = chunk[:SAMPLE]
                        compressible = len(zlib.compress(sample, 1)) < 0.9 * len(sample)
                    level = 1 if compressible else 0
                started = time.monotonic()
                out.write(chunk, level)
                if level == 1 and gzip and len(chunk) >= READ_CHUNK // 2:
                    rates.saw_compress(len(chunk) / max(time.monotonic() - started, 1e-6))
                if out.pending >= OUT_CHUNK:
                    yield out.take()
                chunk = fh.read(READ_CHUNK)
            if trusted and not isinstance(entry.source, bytes):
                trusted = stat_key(os.fstat(fh.fileno())) == entry.stat_key
                if not trusted:  # it changed while we read it
                    total = -1
        if total != entry.size or (not trusted and digest.hexdigest() != entry.sha256):
            raise TransferError(
                f"{entry.path} changed while being pushed (its content no longer matches the "
                "tree's sha256); nothing was placed, push again"
            )
        out.write(b"\0" * (-total % 512), out.level)
        if out.pending >= OUT_CHUNK:
            yield out.take()
    if final:
        end = b"ok\n"
        out.write(header("ctl/end", len(end), 0o644) + end + b"\0" * (-len(end) % 512), out.level)
    out.write(b"\0" * 1024, out.level)
    yield out.finish()


class _Plain:
    """The uncompressed counterpart of _GzipMembers (same interface)."""

    level = 0

    def __init__(self) -> None:
        self._out: list[bytes] = []
        self.pending = 0

    def write(self, data: bytes, level: int) -> None:
        self._out.append(data)
        self.pending += len(data)

    def take(self) -> bytes:
        data = b"".join(self._out)
        self._out = []
        self.pending = 0
        return data

    def finish(self) -> bytes:
        return self.take()


class _GzipMembers:
    """Concatenated gzip members (any gunzip reads them as one stream); a level change starts a new member."""

    def __init__(self) -> None:
        self.level = 1
        self._comp = zlib.compressobj(1, zlib.DEFLATED, 31)
        self._out: list[bytes] = []
        self.pending = 0

    def write(self, data: bytes, level: int) -> None:
        if level != self.level:
            self._emit(self._comp.flush())
            self.level = level
            self._comp = zlib.compressobj(level, zlib.DEFLATED, 31)
        self._emit(self._comp.compress(data))

    def _emit(self, data: bytes) -> None:
        if data:
            self._out.append(data)
            self.pending += len(data)

    def take(self) -> bytes:
        data = b"".join(self._out)
        self._out = []
        self.pending = 0
        return data

    def finish(self) -> bytes:
        self._emit(self._comp.flush())
        return self.take()


class _Prefetch:
    """Runs the producer in its own thread so compression overlaps with encryption and sending, and measures the
    link: how long the channel took to accept each chunk (once the host's window is full, that is the link)."""

    def __init__(self, rates: _Rates, depth: int = 8) -> None:
        self.depth = depth
        self.q: queue.Queue = queue.Queue(maxsize=depth)
        self.rates = rates

    def run(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        q = self.q
        done = object()
        stop = threading.Event()

        def produce() -> None:
            try:
                for chunk in chunks:
                    while not stop.is_set():
                        try:
                            q.put(chunk, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                q.put(done)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
                q.put(exc)

        thread = threading.Thread(target=produce, name="push-tar", daemon=True)
        thread.start()
        try:
            while True:
                item = q.get()
                if item is done:
                    return
                if isinstance(item, BaseException):
                    raise item
                started = time.monotonic()
                yield item
                if len(item) >= OUT_CHUNK // 2:
                    self.rates.saw_link(len(item) / max(time.monotonic() - started, 1e-6))
        finally:
            stop.set()
            while thread.is_alive():
                try:
                    q.get_nowait()
                except queue.Empty:
                    thread.join(0.05)


_PLACE_SCRIPT = r"""set -euo pipefail
umask 022
meta="$SP_DIR/.sealos-provider"
stage="$meta/staging/$SP_NAME.$SP_TOKEN"
if [ "$SP_FIRST" = 1 ]; then
  mkdir -p -- "$SP_DIR" "$meta/manifests" "$meta/staging"
  # root's alone: manifests hold the sha256 of every file (a secret-bearing one too: a guess would be checkable)
  chmod 700 -- "$meta"
  rm -rf -- "$meta/staging/$SP_NAME".*
  mkdir -- "$stage"
fi
[ -d "$stage" ] || { echo "the staging area $stage is gone (another push of the same tree?)" >&2; exit 1; }
log="$meta/$SP_NAME.push.log"
finish() { rc=$?; rm -rf -- "$stage"; if [ $rc != 0 ] && [ -s "$log" ]; then tail -n 20 -- "$log" >&4 || true; fi; exit $rc; }
exec 4>&2
if [ "$SP_FINAL" = 1 ]; then : > "$log"; trap finish EXIT; fi
tar "-x${SP_Z}pf" - -C "$stage" --no-same-owner
[ "$SP_FINAL" = 1 ] || exit 0
[ -f "$stage/ctl/end" ] || { echo "the stream ended early" >&2; exit 1; }
if [ "$SP_VERIFY" = sha256 ] && [ -s "$stage/ctl/sums" ]; then
  # Verify every received file against its sha256, split over the host's CPUs.
  cd -- "$stage"
  n=$(nproc 2>/dev/null || echo 1); [ "$n" -le 8 ] || n=8
  split -n "l/$n" -d ctl/sums ctl/sums.part.
  pids=()
  for part in ctl/sums.part.*; do
    if [ -s "$part" ]; then sha256sum --quiet --strict -c "$part" >&2 & pids+=($!); fi
  done
  for pid in ${pids[@]+"${pids[@]}"}; do wait "$pid"; done
fi
# From here the data is complete and verified: finish even if the client goes away.
trap '' HUP PIPE INT TERM
exec 3>&1 >"$log" 2>&1
m="$meta/manifests/$SP_NAME"
rm -f -- "$m.stat"
mv -f -- "$stage/ctl/manifest.json" "$m.json"
cd -- "$SP_DIR"
if [ -s "$stage/ctl/remove" ]; then
  xargs -0 -r rm -f -- < "$stage/ctl/remove"
  xargs -0 -r rmdir -p --ignore-fail-on-non-empty -- < "$stage/ctl/rmdirs" 2>/dev/null || true
fi
if [ -s "$stage/ctl/groups" ]; then
  xargs -0 -r mkdir -p -- < "$stage/ctl/groups"
  cd -- "$stage/data"
  i=0
  while IFS= read -r -d '' parent; do
    xargs -0 -r mv -f -t "$SP_DIR/$parent" -- < "$stage/ctl/g.$i"
    i=$((i+1))
  done < "$stage/ctl/groups"
  cd -- "$SP_DIR"
fi
i=0
while IFS= read -r -d '' mode; do
  xargs -0 -r chmod -- "$mode" < "$stage/ctl/m.$i"
  i=$((i+1))
done < "$stage/ctl/modes"
{ printf '%s\n' "$SP_DIGEST"; xargs -0 -r stat --printf '%s %i %Y %z %f %n\0' -- < "$stage/ctl/all"; } > "$m.stat.tmp"
mv -f -- "$m.stat.tmp" "$m.stat"
tail -c +$(( ${#SP_DIGEST} + 2 )) "$m.stat" >&3
"""
