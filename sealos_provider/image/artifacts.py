"""The binary slots of the rootfs (rootfs/artifacts.yaml) and the local cache that fills them.

Binaries are never committed. The manifest names each slot (its path in the tree, e.g. `cri/docker.tgz`), the
component that needs it, its version and mode, and per architecture where upstream publishes it and the sha256 of
that download. The cache keeps files under their own sha256 (`blobs/<hex>`), so a slot is only ever served as the
exact bytes that were verified; a lock file in the cache records which blob fills which slot and why it is trusted:

* `manifest`: the download matched the sha256 committed in artifacts.yaml;
* `lock`: artifacts.yaml has no sha256 for it yet and `fetch --lock` trusted the first download (said so loudly);
* `local`: `fill` took it from a local file (air-gapped hosts, tests); a local pin, never written to the manifest.

Commands: `python -m sealos_provider.image.artifacts {fetch,fill,status}` (also `sealos-provider-artifacts`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import yaml

__all__ = [
    "ARCHES",
    "COMPONENTS",
    "ArtifactError",
    "ArtifactStore",
    "Manifest",
    "Slot",
    "SlotStatus",
    "Source",
    "default_cache_dir",
    "default_manifest_path",
    "host_arch",
    "main",
]

ARCHES = ("amd64", "arm64")
COMPONENTS = ("runtime", "cri", "registry", "kube", "tools")
KINDS = ("binary", "archive", "image")
CHUNK = 1 << 20
_HEX = set("0123456789abcdef")
_MACHINE_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
CACHE_ENV = "SEALOS_PROVIDER_CACHE"
_CLI = "sealos-provider-artifacts"


class ArtifactError(RuntimeError):
    """A slot that cannot be fetched, filled or served; the message says which command fixes it."""


# -- the manifest ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Where one architecture's file comes from: download URL (may be empty) and the download's sha256."""

    url: str = ""
    sha256: str = ""
    note: str = ""


@dataclass(frozen=True)
class Slot:
    """One binary slot: its rootfs-relative path and how to obtain and install it."""

    path: str
    component: str
    kind: str
    version: str
    mode: int
    sources: Mapping[str, Source]
    member: str | None = None

    def source(self, arch: str) -> Source:
        return self.sources.get(arch, Source())


@dataclass(frozen=True)
class Manifest:
    """artifacts.yaml, parsed and checked."""

    slots: Mapping[str, Slot]
    path: Path | None = None

    @classmethod
    def load(cls, path: Path) -> "Manifest":
        try:
            data = yaml.safe_load(Path(path).read_text())
        except FileNotFoundError:
            raise ArtifactError(f"{path}: artifact manifest not found") from None
        except yaml.YAMLError as exc:
            raise ArtifactError(f"{path}: not valid YAML: {exc}") from None
        return cls.parse(data, str(path), path=Path(path))

    @classmethod
    def parse(cls, data: Any, source: str = "artifacts.yaml", path: Path | None = None) -> "Manifest":
        if not isinstance(data, dict) or data.get("schema") != 1 or not isinstance(data.get("slots"), dict):
            raise ArtifactError(f"{source}: expected `schema: 1` and a `slots:` mapping")
        slots: dict[str, Slot] = {}
        for name, spec in data["slots"].items():
            slots[name] = _parse_slot(source, str(name), spec)
        return cls(slots=slots, path=path)

    def slot(self, name: str) -> Slot:
        try:
            return self.slots[name]
        except KeyError:
            raise ArtifactError(f"unknown slot {name!r}; slots: {', '.join(self.slots)}") from None


def _parse_slot(source: str, name: str, spec: Any) -> Slot:
    where = f"{source}: slot {name}"
    if not isinstance(spec, dict):
        raise ArtifactError(f"{where}: expected a mapping")
    if name.startswith("/") or ".." in name.split("/") or not name:
        raise ArtifactError(f"{where}: the slot name must be a relative path inside the rootfs")
    component, kind = spec.get("component"), spec.get("kind")
    if component not in COMPONENTS:
        raise ArtifactError(f"{where}: component must be one of {', '.join(COMPONENTS)}, got {component!r}")
    if kind not in KINDS:
        raise ArtifactError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    mode_text = spec.get("mode")
    if not isinstance(mode_text, str):
        raise ArtifactError(f"{where}: mode must be a quoted octal string such as \"0755\"")
    try:
        mode = int(mode_text, 8)
    except ValueError:
        raise ArtifactError(f"{where}: mode {mode_text!r} is not octal (e.g. \"0755\")") from None
    sources: dict[str, Source] = {}
    for arch, src in (spec.get("sources") or {}).items():
        if arch not in ARCHES:
            raise ArtifactError(f"{where}: unknown architecture {arch!r} (expected {', '.join(ARCHES)})")
        if not isinstance(src, dict):
            raise ArtifactError(f"{where}: sources.{arch} must be a mapping with url and sha256")
        url, sha = str(src.get("url") or ""), str(src.get("sha256") or "").lower()
        if sha and (len(sha) != 64 or not set(sha) <= _HEX):
            raise ArtifactError(f"{where}: sources.{arch}.sha256 must be 64 hex digits or empty")
        if url and not url.startswith(("https://", "http://")):
            raise ArtifactError(f"{where}: sources.{arch}.url must be an http(s) URL or empty")
        sources[arch] = Source(url=url, sha256=sha, note=str(src.get("note") or "").strip())
    return Slot(
        path=name,
        component=component,
        kind=kind,
        version=str(spec.get("version") or ""),
        mode=mode,
        sources=sources,
        member=spec.get("member") or None,
    )


# -- locations -------------------------------------------------------------------------------------------------------


def default_manifest_path() -> Path:
    """rootfs/artifacts.yaml of this checkout (the package is installed in editable mode from it)."""
    return Path(__file__).resolve().parents[2] / "rootfs" / "artifacts.yaml"


def default_cache_dir() -> Path:
    """`$SEALOS_PROVIDER_CACHE/artifacts`, else `~/.cache/sealos-provider/artifacts`."""
    base = os.environ.get(CACHE_ENV)
    return (Path(base) if base else Path.home() / ".cache" / "sealos-provider") / "artifacts"


def host_arch() -> str:
    machine = platform.machine().lower()
    if machine not in _MACHINE_ARCH:
        raise ArtifactError(f"unsupported machine architecture {machine!r}: pass arch= one of {', '.join(ARCHES)}")
    return _MACHINE_ARCH[machine]


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


# -- the store ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotStatus:
    """One row of `status`: is the slot filled, is its file verified, and why it is trusted (origin)."""

    slot: str
    component: str
    version: str
    filled: bool
    verified: bool
    origin: str  # manifest | lock | local | "" (not filled)
    sha256: str = ""
    detail: str = ""


@dataclass
class _LockEntry:
    sha256: str
    download_sha256: str
    origin: str
    version: str
    url: str = ""


@dataclass
class ArtifactStore:
    """The local artifact cache for one architecture, checked against the manifest."""

    cache_dir: Path | None = None
    arch: str | None = None
    manifest: Manifest | Path | None = None
    _memo: dict[tuple[str, int, int], str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.cache_dir = Path(self.cache_dir) if self.cache_dir else default_cache_dir()
        self.arch = self.arch or host_arch()
        if self.arch not in ARCHES:
            raise ArtifactError(f"unknown architecture {self.arch!r}: expected one of {', '.join(ARCHES)}")
        if not isinstance(self.manifest, Manifest):
            self.manifest = Manifest.load(Path(self.manifest) if self.manifest else default_manifest_path())

    # paths ---------------------------------------------------------------------------------------------------------

    @property
    def lock_path(self) -> Path:
        return self._root / "lock.json"

    @property
    def _root(self) -> Path:
        assert self.cache_dir is not None
        return self.cache_dir

    @property
    def _manifest(self) -> Manifest:
        assert isinstance(self.manifest, Manifest)
        return self.manifest

    def _blob(self, sha: str) -> Path:
        return self._root / "blobs" / sha

    def _part(self, url: str) -> Path:
        return self._root / "downloads" / (hashlib.sha256(url.encode()).hexdigest()[:32] + ".part")

    # lock ----------------------------------------------------------------------------------------------------------

    def _read_lock(self) -> dict[str, dict[str, _LockEntry]]:
        try:
            data = json.loads(self.lock_path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"{self.lock_path}: unreadable lock file ({exc}); delete it and fill again") from None
        out: dict[str, dict[str, _LockEntry]] = {}
        for arch, entries in (data.get("entries") or {}).items():
            out[arch] = {slot: _LockEntry(**entry) for slot, entry in entries.items()}
        return out

    def _write_lock(self, lock: dict[str, dict[str, _LockEntry]]) -> None:
        data = {
            "schema": 1,
            "entries": {
                arch: {slot: vars(entry) for slot, entry in sorted(entries.items())}
                for arch, entries in sorted(lock.items())
            },
        }
        self._atomic_write(self.lock_path, (json.dumps(data, indent=2) + "\n").encode())

    def _record(self, slot: Slot, entry: _LockEntry) -> None:
        lock = self._read_lock()
        lock.setdefault(str(self.arch), {})[slot.path] = entry
        self._write_lock(lock)

    def _atomic_write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # verification --------------------------------------------------------------------------------------------------

    def _blob_ok(self, sha: str) -> bool:
        path = self._blob(sha)
        try:
            st = path.stat()
        except FileNotFoundError:
            return False
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key not in self._memo:
            self._memo[key] = _sha256_file(path)
        return self._memo[key] == sha

    def _judge(self, slot: Slot, entry: _LockEntry | None) -> SlotStatus:
        base = dict(slot=slot.path, component=slot.component, version=slot.version)
        if entry is None:
            return SlotStatus(**base, filled=False, verified=False, origin="", detail="not filled")
        filled = self._blob(entry.sha256).exists()
        if not filled:
            return SlotStatus(**base, filled=False, verified=False, origin=entry.origin, sha256=entry.sha256,
                              detail="its cached file is gone")
        problem = ""
        if not self._blob_ok(entry.sha256):
            problem = "the cached file no longer matches its sha256"
        elif entry.version != slot.version:
            problem = f"filled with version {entry.version}, the manifest now wants {slot.version}"
        elif entry.origin in ("manifest", "lock"):
            pinned = slot.source(str(self.arch)).sha256
            if entry.origin == "manifest" and not pinned:
                problem = "the manifest no longer pins a sha256 for it"
            elif pinned and pinned != entry.download_sha256:
                problem = "the manifest pins a different sha256 than the downloaded file"
        origin = entry.origin
        if not problem and origin == "lock" and slot.source(str(self.arch)).sha256:
            origin = "manifest"
        return SlotStatus(**base, filled=True, verified=not problem, origin=origin, sha256=entry.sha256,
                          detail=problem or "ok")

    def status(self) -> list[SlotStatus]:
        lock = self._read_lock().get(str(self.arch), {})
        return [self._judge(slot, lock.get(name)) for name, slot in self._manifest.slots.items()]

    def _how_to_fill(self, slot: Slot) -> str:
        src = slot.source(str(self.arch))
        if src.url:
            return f"run `{_CLI} fetch --slot {slot.path} --arch {self.arch}` (or `fill --slot {slot.path} --file F`)"
        return f"run `{_CLI} fill --slot {slot.path} --arch {self.arch} --file F`" + (f" ({src.note})" if src.note else "")

    def path(self, slot: str) -> Path:
        """The verified cached file for `slot`; ArtifactError (naming the command that fills it) otherwise."""
        spec = self._manifest.slot(slot)
        entry = self._read_lock().get(str(self.arch), {}).get(slot)
        st = self._judge(spec, entry)
        if not st.verified:
            raise ArtifactError(f"artifact slot {slot} ({self.arch}) is not available: {st.detail}; "
                                + self._how_to_fill(spec))
        return self._blob(st.sha256)

    def missing(self, components: Iterable[str]) -> list[str]:
        """Slots of these components that are not filled and verified (so a caller can say what to run)."""
        wanted = set(components)
        unknown = wanted - set(COMPONENTS)
        if unknown:
            raise ArtifactError(f"unknown components {sorted(unknown)}: expected some of {', '.join(COMPONENTS)}")
        return [s.slot for s in self.status() if s.component in wanted and not s.verified]

    def slots(self, components: Iterable[str] | None = None) -> list[Slot]:
        wanted = set(components) if components is not None else set(COMPONENTS)
        return [s for s in self._manifest.slots.values() if s.component in wanted]

    # filling -------------------------------------------------------------------------------------------------------

    def _store_file(self, source: Path) -> str:
        """Copy a file into the blob store under its sha256 and return the sha256."""
        tmp_dir = self._root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=tmp_dir)
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                for chunk in iter(lambda: src.read(CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
            sha = digest.hexdigest()
            self._blob(sha).parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, self._blob(sha))
            os.chmod(self._blob(sha), 0o644)
            return sha
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def fill_file(self, slot: str, file: Path) -> SlotStatus:
        """Fill `slot` from a local file; its sha256 becomes a local pin in the cache's lock (never the manifest)."""
        spec = self._manifest.slot(slot)
        file = Path(file)
        if not file.is_file():
            raise ArtifactError(f"fill {slot}: {file} is not a regular file")
        sha = self._store_file(file)
        self._record(spec, _LockEntry(sha256=sha, download_sha256=sha, origin="local", version=spec.version))
        return self._judge(spec, self._read_lock()[str(self.arch)][slot])

    def fill_from_dir(self, directory: Path) -> list[SlotStatus]:
        """Fill every slot whose file exists at `directory/<slot path>`; returns what was filled."""
        directory = Path(directory)
        if not directory.is_dir():
            raise ArtifactError(f"fill --from-dir: {directory} is not a directory")
        return [self.fill_file(name, directory / name) for name in self._manifest.slots
                if (directory / name).is_file()]

    def fetch(self, slot: str, *, lock: bool = False, log: Callable[[str], None] | None = None) -> SlotStatus:
        """Download `slot` for this architecture (resuming a partial download), verify it, and record it.

        A slot whose manifest sha256 is empty is refused unless `lock` is set (or an earlier `--lock` pinned it):
        then the first download's sha256 is recorded in the cache's lock file, and `log` says so.
        """
        say = log or (lambda _msg: None)
        spec = self._manifest.slot(slot)
        src = spec.source(str(self.arch))
        current = self._judge(spec, self._read_lock().get(str(self.arch), {}).get(slot))
        if current.verified:
            return current  # already verified (a local pin included: fetch never overrides an air-gapped fill)
        if not src.url:
            raise ArtifactError(f"slot {slot} ({self.arch}) has no download URL; " + self._how_to_fill(spec))
        expected = src.sha256 or self._pinned(src.url)
        if not expected and not lock:
            raise ArtifactError(
                f"slot {slot} ({self.arch}) has no sha256 in {self._manifest.path or 'the manifest'}, so its download "
                f"cannot be verified; run `{_CLI} fetch --slot {slot} --arch {self.arch} --lock` to trust the first "
                f"download and record its sha256 in {self.lock_path}, or add the sha256 to the manifest"
            )
        download_sha = expected if expected and self._blob_ok(expected) else self._download(src.url, expected)
        origin = "manifest" if src.sha256 else "lock"
        if origin == "lock" and not expected:
            say(f"locked {slot} ({self.arch}): sha256 {download_sha} of {src.url} recorded in {self.lock_path}; "
                f"to pin it for everyone set slots.{slot}.sources.{self.arch}.sha256 in the manifest")
        sha = self._extract(spec, download_sha) if spec.member else download_sha
        self._record(spec, _LockEntry(sha256=sha, download_sha256=download_sha, origin=origin,
                                      version=spec.version, url=src.url))
        return self._judge(spec, self._read_lock()[str(self.arch)][slot])

    def _pinned(self, url: str) -> str:
        """A sha256 an earlier `--lock` recorded for this URL (shared downloads such as the sealos tarball)."""
        for entry in self._read_lock().get(str(self.arch), {}).values():
            if entry.url == url and entry.origin == "lock":
                return entry.download_sha256
        return ""

    def _download(self, url: str, expected: str) -> str:
        part = self._part(url)
        part.parent.mkdir(parents=True, exist_ok=True)
        have = part.stat().st_size if part.exists() else 0
        headers = {"User-Agent": "sealos-provider-artifacts"}
        if have:
            headers["Range"] = f"bytes={have}-"
        request = urllib.request.Request(url, headers=headers)
        try:
            response = urllib.request.urlopen(request, timeout=60)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:
                response = None  # the partial file is already complete
            else:
                raise ArtifactError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ArtifactError(f"download of {url} failed: {getattr(exc, 'reason', exc)}; run fetch again to "
                                "resume") from None
        if response is not None:
            with response:
                resumed = have and response.status == 206
                if resumed:
                    start = (response.headers.get("Content-Range") or "").split(" ")[-1].split("-")[0]
                    if start != str(have):
                        resumed = False
                        response.close()
                        part.unlink()
                        return self._download(url, expected)
                try:
                    with part.open("ab" if resumed else "wb") as out:
                        for chunk in iter(lambda: response.read(CHUNK), b""):
                            out.write(chunk)
                except OSError as exc:
                    raise ArtifactError(f"download of {url} interrupted ({exc}); run fetch again to resume") from None
        actual = _sha256_file(part)
        if expected and actual != expected:
            part.unlink()
            raise ArtifactError(
                f"sha256 mismatch for {url}: expected {expected}, got {actual}; the download was discarded. "
                "If upstream really changed the file, update the manifest's sha256 after checking it."
            )
        sha = self._store_file(part)
        part.unlink()
        return sha

    def _extract(self, slot: Slot, archive_sha: str) -> str:
        member = str(slot.member)
        try:
            with tarfile.open(self._blob(archive_sha), "r:*") as tar:
                for info in tar:
                    name = info.name[2:] if info.name.startswith("./") else info.name
                    if info.isfile() and (name == member or name.rsplit("/", 1)[-1] == member):
                        fh = tar.extractfile(info)
                        assert fh is not None
                        tmp_dir = self._root / "tmp"
                        tmp_dir.mkdir(parents=True, exist_ok=True)
                        with tempfile.NamedTemporaryFile(dir=tmp_dir, delete=False) as out:
                            shutil.copyfileobj(fh, out, CHUNK)
                        try:
                            return self._store_file(Path(out.name))
                        finally:
                            Path(out.name).unlink(missing_ok=True)
        except tarfile.TarError as exc:
            raise ArtifactError(f"slot {slot.path}: the download is not a readable tar archive ({exc})") from None
        raise ArtifactError(f"slot {slot.path}: the downloaded archive has no member {member!r}")


# -- command line ------------------------------------------------------------------------------------------------------


def _table(rows: list[SlotStatus]) -> str:
    header = ("SLOT", "COMPONENT", "FILLED", "VERIFIED", "SOURCE", "DETAIL")
    cells = [header] + [
        (r.slot, r.component, "yes" if r.filled else "no", "yes" if r.verified else "no", r.origin or "-", r.detail)
        for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(c[i].ljust(widths[i]) for i in range(len(widths))) + "  " + c[-1] for c in cells
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=_CLI, description="Fill the rootfs binary slots into the local cache.")
    parser.add_argument("--manifest", type=Path, help="artifacts.yaml (default: rootfs/artifacts.yaml)")
    parser.add_argument("--cache-dir", type=Path, help=f"cache directory (default: ${CACHE_ENV}/artifacts or "
                                                       "~/.cache/sealos-provider/artifacts)")
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="download slots, verify their sha256")
    fetch.add_argument("--slot", action="append", help="only this slot (repeatable)")
    fetch.add_argument("--arch", choices=ARCHES)
    fetch.add_argument("--lock", action="store_true",
                       help="trust the first download of a slot without a manifest sha256 and record it in the lock")
    fill = sub.add_parser("fill", help="fill slots from local files")
    fill.add_argument("--from-dir", type=Path, help="directory mirroring slot paths (DIR/cri/docker.tgz, ...)")
    fill.add_argument("--slot")
    fill.add_argument("--file", type=Path)
    fill.add_argument("--arch", choices=ARCHES)
    status = sub.add_parser("status", help="show each slot: filled, verified, source")
    status.add_argument("--arch", choices=ARCHES)
    args = parser.parse_args(argv)
    try:
        store = ArtifactStore(cache_dir=args.cache_dir, arch=args.arch, manifest=args.manifest)
        if args.command == "status":
            print(_table(store.status()))
            return 0
        if args.command == "fill":
            if args.from_dir and not (args.slot or args.file):
                filled = store.fill_from_dir(args.from_dir)
                for row in filled:
                    print(f"filled {row.slot} ({store.arch}) from {args.from_dir / row.slot}: sha256 {row.sha256} "
                          "(local pin)")
                if not filled:
                    slots = ", ".join(s.slot for s in store.status())
                    raise ArtifactError(f"{args.from_dir} holds no file at any slot path ({slots})")
                return 0
            if args.slot and args.file and not args.from_dir:
                row = store.fill_file(args.slot, args.file)
                print(f"filled {row.slot} ({store.arch}) from {args.file}: sha256 {row.sha256} (local pin)")
                return 0
            parser.error("fill needs either --from-dir DIR or both --slot S and --file F")
        failures = []
        names = args.slot or [s.slot for s in store.status()]
        for name in names:
            try:
                row = store.fetch(name, lock=args.lock, log=print)
                print(f"ok {row.slot} ({store.arch}): sha256 {row.sha256} [{row.origin}]")
            except ArtifactError as exc:
                failures.append(str(exc))
                print(f"error: {exc}", file=sys.stderr)
        return 1 if failures else 0
    except ArtifactError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
