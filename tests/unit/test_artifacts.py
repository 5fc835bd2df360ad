"""The artifact manifest and cache against a real HTTP server on 127.0.0.1: fetch, resume, mismatch, lock, fill."""

from __future__ import annotations

import hashlib
import http.server
import subprocess
import sys
import io
import json
import tarfile
import threading
from pathlib import Path

import pytest
import yaml

from sealos_provider.image import artifacts as art
from sealos_provider.image.artifacts import ArtifactError, ArtifactStore, Manifest

REPO_MANIFEST = Path(__file__).resolve().parents[2] / "rootfs" / "artifacts.yaml"


class _Files(http.server.BaseHTTPRequestHandler):
    """Serves bytes from `files` with Range support, recording each request's Range header."""

    files: dict[str, bytes] = {}
    requests: list[tuple[str, str | None]] = []
    honour_range = True

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).requests.append((self.path, self.headers.get("Range")))
        data = self.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and self.honour_range:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    _Files.files = {}
    _Files.requests = []
    _Files.honour_range = True
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Files
    httpd.shutdown()
    httpd.server_close()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tgz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _manifest(tmp_path: Path, slots: dict) -> Path:
    path = tmp_path / "artifacts.yaml"
    path.write_text(yaml.safe_dump({"schema": 1, "slots": slots}))
    return path


def _slot(url: str = "", sha: str = "", component: str = "kube", kind: str = "binary", mode: str = "0755",
          member: str | None = None, version: str = "v1") -> dict:
    spec = {"component": component, "kind": kind, "version": version, "mode": mode,
            "sources": {"amd64": {"url": url, "sha256": sha}, "arm64": {"url": "", "sha256": ""}}}
    if member:
        spec["member"] = member
    return spec


def _store(tmp_path: Path, manifest: Path, arch: str = "amd64") -> ArtifactStore:
    return ArtifactStore(cache_dir=tmp_path / "cache", arch=arch, manifest=manifest)


# -- the committed manifest ----------------------------------------------------------------------------------------


def test_repo_manifest_lists_every_slot_with_both_arches() -> None:
    manifest = Manifest.load(REPO_MANIFEST)
    assert set(manifest.slots) == {
        "bin/kubeadm", "bin/kubectl", "bin/kubelet", "bin/conntrack", "cri/docker.tgz", "cri/cri-dockerd.tgz",
        "cri/crictl.tar.gz", "cri/image-cri-shim", "images/registry.tar", "opt/lsof", "opt/sealctl",
    }
    versions = {name: slot.version for name, slot in manifest.slots.items()}
    assert versions["bin/kubelet"] == "v1.28.15" and versions["cri/docker.tgz"] == "27.5.1"
    assert versions["cri/cri-dockerd.tgz"] == "0.3.16" and versions["cri/crictl.tar.gz"] == "v1.28.0"
    assert versions["opt/sealctl"] == "v5.0.1" and versions["images/registry.tar"] == "2.8.3"
    for slot in manifest.slots.values():
        assert set(slot.sources) == {"amd64", "arm64"}
        for arch, src in slot.sources.items():
            assert src.url or src.note, f"{slot.path} {arch}: a URL or a note on how to obtain it"
            if src.url:
                assert arch in src.url or {"amd64": "x86_64", "arm64": "aarch64"}[arch] in src.url
        assert (slot.mode == 0o755) == (slot.kind == "binary")
    assert manifest.slots["cri/docker.tgz"].kind == "archive"
    assert manifest.slots["cri/image-cri-shim"].member == "image-cri-shim"


@pytest.mark.parametrize(
    "slot, message",
    [
        ({"component": "gpu", "kind": "binary", "mode": "0755"}, "component must be one of"),
        ({"component": "kube", "kind": "blob", "mode": "0755"}, "kind must be one of"),
        ({"component": "kube", "kind": "binary", "mode": 493}, "quoted octal string"),
        ({"component": "kube", "kind": "binary", "mode": "0755", "sources": {"amd64": {"sha256": "abc"}}},
         "64 hex digits"),
        ({"component": "kube", "kind": "binary", "mode": "0755", "sources": {"riscv": {}}}, "unknown architecture"),
        ({"component": "kube", "kind": "binary", "mode": "0755", "sources": {"amd64": {"url": "ftp://x"}}},
         "http(s) URL"),
    ],
)
def test_bad_manifest_is_refused(slot: dict, message: str) -> None:
    with pytest.raises(ArtifactError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Manifest.parse({"schema": 1, "slots": {"bin/x": slot}})


# -- fetch ---------------------------------------------------------------------------------------------------------


def test_fetch_verifies_and_serves_the_exact_bytes(tmp_path: Path, server) -> None:
    base, handler = server
    data = b"kubeadm binary " * 1000
    handler.files["/kubeadm"] = data
    store = _store(tmp_path, _manifest(tmp_path, {"bin/kubeadm": _slot(f"{base}/kubeadm", _sha(data))}))
    with pytest.raises(ArtifactError, match="fetch --slot bin/kubeadm"):
        store.path("bin/kubeadm")
    row = store.fetch("bin/kubeadm")
    assert row.verified and row.origin == "manifest" and row.sha256 == _sha(data)
    assert store.path("bin/kubeadm").read_bytes() == data
    assert store.path("bin/kubeadm").name == _sha(data)  # content-addressed
    assert store.missing({"kube"}) == []
    store.fetch("bin/kubeadm")
    assert len(handler.requests) == 1  # already verified: no second download


def test_fetch_resumes_a_partial_download(tmp_path: Path, server) -> None:
    base, handler = server
    data = bytes(range(256)) * 4000
    handler.files["/docker.tgz"] = data
    store = _store(tmp_path, _manifest(tmp_path, {"cri/docker.tgz": _slot(f"{base}/docker.tgz", _sha(data),
                                                                             "runtime", "archive", "0644")}))
    part = store._part(f"{base}/docker.tgz")
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:300_000])
    row = store.fetch("cri/docker.tgz")
    assert row.verified
    assert handler.requests == [("/docker.tgz", "bytes=300000-")]
    assert store.path("cri/docker.tgz").read_bytes() == data
    assert not part.exists()


def test_fetch_restarts_when_the_server_ignores_range(tmp_path: Path, server) -> None:
    base, handler = server
    handler.honour_range = False
    data = b"x" * 5000
    handler.files["/f"] = data
    store = _store(tmp_path, _manifest(tmp_path, {"bin/kubectl": _slot(f"{base}/f", _sha(data))}))
    part = store._part(f"{base}/f")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"garbage!")
    assert store.fetch("bin/kubectl").verified
    assert store.path("bin/kubectl").read_bytes() == data


def test_fetch_with_a_complete_part_file(tmp_path: Path, server) -> None:
    base, handler = server
    data = b"complete"
    handler.files["/c"] = data
    store = _store(tmp_path, _manifest(tmp_path, {"bin/kubectl": _slot(f"{base}/c", _sha(data))}))
    part = store._part(f"{base}/c")
    part.parent.mkdir(parents=True)
    part.write_bytes(data)
    assert store.fetch("bin/kubectl").verified  # the server answers 416; the part file is checked and used


def test_fetch_mismatch_is_a_clear_error_and_discards_the_file(tmp_path: Path, server) -> None:
    base, handler = server
    handler.files["/kubelet"] = b"tampered"
    expected = _sha(b"the real kubelet")
    store = _store(tmp_path, _manifest(tmp_path, {"bin/kubelet": _slot(f"{base}/kubelet", expected)}))
    with pytest.raises(ArtifactError) as err:
        store.fetch("bin/kubelet")
    assert f"expected {expected}, got {_sha(b'tampered')}" in str(err.value)
    assert f"{base}/kubelet" in str(err.value)
    assert not store._part(f"{base}/kubelet").exists()
    assert store.missing({"kube"}) == ["bin/kubelet"]


def test_fetch_refuses_an_unpinned_slot_unless_locked(tmp_path: Path, server, capsys) -> None:
    base, handler = server
    data = b"crictl tarball"
    handler.files["/crictl"] = data
    manifest = _manifest(tmp_path, {"cri/crictl.tar.gz": _slot(f"{base}/crictl", "", "runtime", "archive", "0644")})
    cache = tmp_path / "cache"
    args = ["--manifest", str(manifest), "--cache-dir", str(cache)]
    assert art.main([*args, "fetch", "--slot", "cri/crictl.tar.gz", "--arch", "amd64"]) == 1
    err = capsys.readouterr().err
    assert "no sha256" in err and "--lock" in err
    assert handler.requests == []  # refused before downloading anything
    assert art.main([*args, "fetch", "--slot", "cri/crictl.tar.gz", "--arch", "amd64", "--lock"]) == 0
    out = capsys.readouterr().out
    assert f"sha256 {_sha(data)}" in out and "recorded in" in out and str(cache / "lock.json") in out
    lock = json.loads((cache / "lock.json").read_text())
    entry = lock["entries"]["amd64"]["cri/crictl.tar.gz"]
    assert entry["origin"] == "lock" and entry["download_sha256"] == _sha(data)
    store = _store(tmp_path, manifest)
    assert store.status()[0].origin == "lock" and store.status()[0].verified
    # The pin is now enforced: a changed upstream file is refused on the next download.
    (cache / "blobs" / _sha(data)).unlink()
    handler.files["/crictl"] = b"changed upstream"
    with pytest.raises(ArtifactError, match="sha256 mismatch"):
        store.fetch("cri/crictl.tar.gz")


def test_fetch_extracts_a_member_and_shares_the_download(tmp_path: Path, server) -> None:
    base, handler = server
    tarball = _tgz({"./sealos": b"sealos", "./sealctl": b"sealctl bin", "image-cri-shim": b"shim bin"})
    handler.files["/sealos.tgz"] = tarball
    manifest = _manifest(tmp_path, {
        "cri/image-cri-shim": _slot(f"{base}/sealos.tgz", _sha(tarball), "runtime", member="image-cri-shim"),
        "opt/sealctl": _slot(f"{base}/sealos.tgz", _sha(tarball), "tools", member="sealctl"),
        "opt/lsof": _slot(f"{base}/sealos.tgz", _sha(tarball), "tools", member="lsof"),
    })
    store = _store(tmp_path, manifest)
    assert store.fetch("cri/image-cri-shim").verified
    assert store.fetch("opt/sealctl").verified
    assert store.path("cri/image-cri-shim").read_bytes() == b"shim bin"
    assert store.path("opt/sealctl").read_bytes() == b"sealctl bin"
    assert len(handler.requests) == 1
    with pytest.raises(ArtifactError, match="no member 'lsof'"):
        store.fetch("opt/lsof")


def test_fetch_http_errors_and_missing_urls(tmp_path: Path, server) -> None:
    base, _handler = server
    manifest = _manifest(tmp_path, {"bin/kubeadm": _slot(f"{base}/absent", "0" * 64),
                                    "bin/conntrack": _slot("", "")})
    store = _store(tmp_path, manifest)
    with pytest.raises(ArtifactError, match="HTTP 404"):
        store.fetch("bin/kubeadm")
    with pytest.raises(ArtifactError, match="no download URL.*fill --slot bin/conntrack"):
        store.fetch("bin/conntrack")


# -- fill and status -----------------------------------------------------------------------------------------------


def test_fill_from_dir_records_local_pins(tmp_path: Path, capsys) -> None:
    manifest = _manifest(tmp_path, {"cri/docker.tgz": _slot("", _sha(b"upstream"), "runtime", "archive", "0644"),
                                    "bin/kubelet": _slot("", ""), "images/registry.tar": _slot("", "", "registry")})
    src = tmp_path / "local"
    (src / "cri").mkdir(parents=True)
    (src / "cri" / "docker.tgz").write_bytes(b"my own docker build")
    (src / "bin").mkdir()
    (src / "bin" / "kubelet").write_bytes(b"kubelet")
    cache = tmp_path / "cache"
    assert art.main(["--manifest", str(manifest), "--cache-dir", str(cache), "fill", "--from-dir", str(src),
                     "--arch", "amd64"]) == 0
    assert "local pin" in capsys.readouterr().out
    store = _store(tmp_path, manifest)
    rows = {r.slot: r for r in store.status()}
    assert rows["cri/docker.tgz"].verified and rows["cri/docker.tgz"].origin == "local"
    assert rows["bin/kubelet"].verified
    assert not rows["images/registry.tar"].filled
    assert store.path("cri/docker.tgz").read_bytes() == b"my own docker build"
    assert store.missing({"runtime", "kube"}) == [] and store.missing({"registry"}) == ["images/registry.tar"]
    assert yaml.safe_load(manifest.read_text())["slots"]["cri/docker.tgz"]["sources"]["amd64"]["sha256"] == \
        _sha(b"upstream")  # the committed manifest is never touched
    # fill of a single slot, and the status table
    (tmp_path / "reg.tar").write_bytes(b"registry image")
    assert art.main(["--manifest", str(manifest), "--cache-dir", str(cache), "fill", "--slot", "images/registry.tar",
                     "--file", str(tmp_path / "reg.tar"), "--arch", "amd64"]) == 0
    capsys.readouterr()
    assert art.main(["--manifest", str(manifest), "--cache-dir", str(cache), "status", "--arch", "amd64"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["SLOT", "COMPONENT", "FILLED", "VERIFIED", "SOURCE", "DETAIL"]
    rows = {line.split()[0]: line.split()[1:5] for line in table[1:]}
    assert rows == {"cri/docker.tgz": ["runtime", "yes", "yes", "local"], "bin/kubelet": ["kube", "yes", "yes", "local"],
                    "images/registry.tar": ["registry", "yes", "yes", "local"]}


def test_arch_is_kept_apart(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, {"bin/kubelet": _slot("", "")})
    (tmp_path / "k").write_bytes(b"amd64 kubelet")
    _store(tmp_path, manifest, "amd64").fill_file("bin/kubelet", tmp_path / "k")
    assert _store(tmp_path, manifest, "arm64").missing({"kube"}) == ["bin/kubelet"]


def test_tampered_cache_and_version_bump_are_not_verified(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, {"bin/kubelet": _slot("", "", version="v1")})
    (tmp_path / "k").write_bytes(b"kubelet v1")
    store = _store(tmp_path, manifest)
    store.fill_file("bin/kubelet", tmp_path / "k")
    blob = store.path("bin/kubelet")
    blob.write_bytes(b"evil")
    fresh = _store(tmp_path, manifest)
    with pytest.raises(ArtifactError, match="no longer matches its sha256"):
        fresh.path("bin/kubelet")
    fresh.fill_file("bin/kubelet", tmp_path / "k")
    bumped = _manifest(tmp_path, {"bin/kubelet": _slot("", "", version="v2")})
    with pytest.raises(ArtifactError, match="version v1, the manifest now wants v2"):
        _store(tmp_path, bumped).path("bin/kubelet")


def test_cache_dir_follows_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SEALOS_PROVIDER_CACHE", str(tmp_path / "c"))
    assert art.default_cache_dir() == tmp_path / "c" / "artifacts"
    store = ArtifactStore(arch="arm64", manifest=REPO_MANIFEST)
    assert store.lock_path == tmp_path / "c" / "artifacts" / "lock.json"
    monkeypatch.delenv("SEALOS_PROVIDER_CACHE")
    assert art.default_cache_dir() == Path.home() / ".cache" / "sealos-provider" / "artifacts"


def test_unknown_slot_and_component(tmp_path: Path) -> None:
    store = _store(tmp_path, REPO_MANIFEST)
    with pytest.raises(ArtifactError, match="unknown slot 'bin/nope'"):
        store.path("bin/nope")
    with pytest.raises(ArtifactError, match="unknown components"):
        store.missing({"gpu"})


def test_fill_needs_arguments(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        art.main(["--manifest", str(REPO_MANIFEST), "--cache-dir", str(tmp_path / "c"), "fill", "--arch", "amd64"])
    assert exc.value.code == 2


def test_module_entry_point(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sealos_provider.image.artifacts", "--cache-dir", str(tmp_path / "c"), "status",
         "--arch", "arm64"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 12 and all(line.split()[2:4] == ["no", "no"] for line in lines[1:])
