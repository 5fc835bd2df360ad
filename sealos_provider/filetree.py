"""A file tree as a list of entries with content digests: the common currency of the image and remote layers.

The image layer produces trees (the rootfs on disk, artifact slots from the cache, templates rendered in memory); the
remote layer pushes them to hosts, sending only what the host's copy lacks. Neither layer imports the other, so the
type they share lives here. Nothing here touches the network or Pulumi.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Optional, Union

CHUNK = 1 << 20


@dataclass(frozen=True)
class FileEntry:
    """One regular file of a tree.

    `path` is relative, with `/` separators and no `..`; `source` is either the bytes themselves (a rendered template)
    or a local file to read them from (a script, an artifact in the cache). `sha256` and `size` describe the content,
    so comparing trees never needs to read a file twice.
    """

    path: str
    mode: int
    sha256: str
    size: int
    source: Union[bytes, Path] = field(repr=False, compare=False)
    # (size, mtime_ns, inode) of a file source when it was hashed: a reader that finds the same stat before and after
    # reading can trust `sha256` without hashing again (rsync's quick check); None for bytes and unknown files.
    stat_key: Optional[tuple[int, int, int]] = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.path.startswith("/") or any(part in ("", ".", "..") for part in self.path.split("/")):
            raise ValueError(f"tree path {self.path!r} must be relative and normalised")

    @classmethod
    def from_bytes(cls, path: str, data: bytes, mode: int = 0o644) -> "FileEntry":
        return cls(path=path, mode=mode, sha256=hashlib.sha256(data).hexdigest(), size=len(data), source=data)

    @classmethod
    def from_file(cls, path: str, local: Path, mode: int | None = None) -> "FileEntry":
        digest = hashlib.sha256()
        with local.open("rb") as fh:
            before = os.fstat(fh.fileno())
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                digest.update(chunk)
            after = os.fstat(fh.fileno())
        key = stat_key(after)
        return cls(
            path=path,
            mode=stat.S_IMODE(after.st_mode) if mode is None else mode,
            sha256=digest.hexdigest(),
            size=after.st_size,
            source=local,
            stat_key=key if key == stat_key(before) else None,  # changed while hashed: never trust the stat
        )

    def open(self) -> BinaryIO:
        """A binary reader over the content, whichever kind of source holds it."""
        if isinstance(self.source, bytes):
            import io

            return io.BytesIO(self.source)
        return self.source.open("rb")

    def read(self) -> bytes:
        with self.open() as fh:
            return fh.read()


def stat_key(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def scan_dir(root: Path, *, exclude: Iterable[str] = ()) -> list[FileEntry]:
    """Every regular file below `root`, sorted by path. Symlinks and special files are refused, not followed:
    a rootfs that relies on them would not survive the push, so saying so early is kinder."""
    excluded = set(exclude)
    entries: list[FileEntry] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            local = Path(dirpath, name)
            rel = local.relative_to(root).as_posix()
            if rel in excluded or any(rel.startswith(prefix.rstrip("/") + "/") for prefix in excluded):
                continue
            if local.is_symlink() or not local.is_file():
                raise ValueError(f"{local}: only regular files are supported in a tree (found a link or special file)")
            entries.append(FileEntry.from_file(rel, local))
    return entries


def tree_digest(entries: Iterable[FileEntry]) -> str:
    """A content digest of a tree: stable across runs, file order and mtimes; changes when any path, byte or
    permission bit changes."""
    lines = sorted(f"{e.path}\0{e.mode & 0o7777:o}\0{e.sha256}\n" for e in entries)
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode())
    return "sha256:" + digest.hexdigest()


def index(entries: Iterable[FileEntry]) -> dict[str, FileEntry]:
    """Entries keyed by path, refusing duplicates (two sources for one path is always a bug)."""
    out: dict[str, FileEntry] = {}
    for entry in entries:
        if entry.path in out:
            raise ValueError(f"duplicate path in tree: {entry.path}")
        out[entry.path] = entry
    return out


def iter_paths(entries: Iterable[FileEntry]) -> Iterator[str]:
    return (e.path for e in entries)
