"""Filling the rootfs binary slots from programs this machine really has, and doubles for the rest.

Two sets, each a directory that mirrors the slot paths (``<set>/cri/docker.tgz`` ...):

* ``real``: Debian's docker.io as cri/docker.tgz, images/registry.tar built from Debian's docker-registry,
  bin/conntrack, opt/lsof, and what built through the Go module proxy (cri/crictl.tar.gz). The demo uses only this.
* ``with-doubles``: ``real`` plus test doubles (tests/doubles/nodedouble, named ``<program>-double`` in every log
  line) for kubeadm, kubelet, kubectl, sealctl and the programs that did not build (cri-dockerd, image-cri-shim).

``SOURCES.json`` in each set says where every slot came from. The directories then feed the image layer's artifact
cache (``python -m sealos_provider.image.artifacts fill --from-dir DIR``): ``real`` fills the default cache (what the
demo and users get), ``with-doubles`` fills a cache of its own (``artifact_cache_dir("with-doubles")``), so doubles
never reach the default cache.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
from pathlib import Path

from .debian_bins import ensure_packages, package_binary, package_version
from .gobuild import GO_TOOLS, build_go_tool, go_binary
from .paths import REPO_ROOT, cache_lock, cache_root
from .proc import DevkitError, run
from .registry_image import save_registry_image

SETS = ("real", "with-doubles")
DOUBLES_SRC = REPO_ROOT / "tests" / "doubles" / "nodedouble"

# docker.tgz member -> (Debian package, executable name)
DOCKER_BINARIES: dict[str, tuple[str, str]] = {
    "dockerd": ("docker.io", "dockerd"),
    "docker": ("docker.io", "docker"),
    "docker-proxy": ("docker.io", "docker-proxy"),
    "docker-init": ("tini", "tini-static"),
    "containerd": ("containerd", "containerd"),
    "containerd-shim-runc-v2": ("containerd", "containerd-shim-runc-v2"),
    "ctr": ("containerd", "ctr"),
    "runc": ("runc", "runc"),
}
HOST_PACKAGES = ("docker.io", "containerd", "runc", "tini", "docker-registry", "conntrack", "lsof")
DOUBLE_SLOTS = {  # slot path -> role of the double
    "bin/kubeadm": "kubeadm", "bin/kubelet": "kubelet", "bin/kubectl": "kubectl", "opt/sealctl": "sealctl",
}


def _tar_gz(members: dict[str, tuple[Path | bytes, int]], dest: Path, dirs: tuple[str, ...] = ()) -> None:
    """Write a gzip tar with fixed owners/mtimes so the same inputs give the same bytes."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, (src, mode) in members.items():
            data = src.read_bytes() if isinstance(src, Path) else src
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    import gzip

    dest.write_bytes(gzip.compress(buf.getvalue(), compresslevel=6, mtime=0))


def docker_tgz(dest: Path) -> dict:
    """cri/docker.tgz in the upstream static layout (docker/<bin>) from Debian's docker.io/containerd/runc/tini."""
    members = {f"docker/{name}": (package_binary(pkg, exe), 0o755) for name, (pkg, exe) in DOCKER_BINARIES.items()}
    _tar_gz(members, dest, dirs=("docker",))
    return {"kind": "real", "from": {p: package_version(p) for p in ("docker.io", "containerd", "runc", "tini")}}


def _copy_exec(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    dest.chmod(0o755)


def build_double() -> Path:
    """Compile the node double (static, stdlib only); cached by a hash of its source."""
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(DOUBLES_SRC.glob("*.go")))).hexdigest()[:12]
    out = cache_root() / "doubles" / f"nodedouble-{digest}"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-trimpath", "GOWORK": "off"}
        run([go_binary(), "build", "-ldflags", "-s -w", "-o", str(out) + ".partial", "."],
            cwd=str(DOUBLES_SRC), env=env, timeout=600)
        os.replace(str(out) + ".partial", out)
    return out


def fill_real(root: Path, log=print) -> dict[str, dict]:
    """Write the ``real`` set into ``root``; returns the per-slot source record."""
    sources: dict[str, dict] = {}
    sources["cri/docker.tgz"] = docker_tgz(root / "cri" / "docker.tgz")
    tag = save_registry_image(root / "images" / "registry.tar")
    sources["images/registry.tar"] = {"kind": "real", "image": tag,
                                      "from": {"docker-registry": package_version("docker-registry")}}
    _copy_exec(package_binary("conntrack", "conntrack"), root / "bin" / "conntrack")
    sources["bin/conntrack"] = {"kind": "real", "from": {"conntrack": package_version("conntrack")}}
    _copy_exec(package_binary("lsof", "lsof"), root / "opt" / "lsof")
    sources["opt/lsof"] = {"kind": "real", "from": {"lsof": package_version("lsof")}}
    for name in ("crictl", "cri-dockerd", "image-cri-shim"):
        tool = GO_TOOLS[name]
        try:
            binary = build_go_tool(tool, log=log)
        except DevkitError as exc:
            sources[f"unbuilt:{name}"] = {"kind": "missing", "error": str(exc)}
            log(f"artifacts: {name} not built ({exc})")
            continue
        built = {"kind": "real", "from": {tool.package: tool.version}, "built": "go module proxy"}
        if name == "crictl":
            _tar_gz({"crictl": (binary, 0o755)}, root / "cri" / "crictl.tar.gz")
            sources["cri/crictl.tar.gz"] = built
        elif name == "cri-dockerd":
            _tar_gz({"cri-dockerd/cri-dockerd": (binary, 0o755)}, root / "cri" / "cri-dockerd.tgz", ("cri-dockerd",))
            sources["cri/cri-dockerd.tgz"] = built
        else:
            _copy_exec(binary, root / "cri" / "image-cri-shim")
            sources["cri/image-cri-shim"] = built
    return sources


def fill_doubles(root: Path, sources: dict[str, dict]) -> None:
    """Add doubles for every slot without a real program (kube*, sealctl, and unbuilt CRI programs)."""
    double = build_double()
    note = {"kind": "double", "source": "tests/doubles/nodedouble", "log": "/var/log/sealos-provider-doubles.log"}
    for slot, role in DOUBLE_SLOTS.items():
        _copy_exec(double, root / slot)
        sources[slot] = {**note, "role": f"{role}-double"}
    if "cri/cri-dockerd.tgz" not in sources:
        _tar_gz({"cri-dockerd/cri-dockerd": (double, 0o755)}, root / "cri" / "cri-dockerd.tgz", ("cri-dockerd",))
        sources["cri/cri-dockerd.tgz"] = {**note, "role": "cri-dockerd-double"}
    if "cri/image-cri-shim" not in sources:
        _copy_exec(double, root / "cri" / "image-cri-shim")
        sources["cri/image-cri-shim"] = {**note, "role": "image-cri-shim-double"}


def set_key(name: str) -> str:
    """Hash of everything a set is made from (package versions, tool versions, doubles' source, this code)."""
    parts = [name]
    parts += [f"{p}={package_version(p)}" for p in HOST_PACKAGES]
    parts += [f"{t.package}@{t.version}" for t in GO_TOOLS.values()]
    # the code that writes the set is part of its recipe (registry image layout, tarball layout, tool list)
    here = Path(__file__).parent
    parts += [(here / m).read_text() for m in ("local_artifacts.py", "registry_image.py", "gobuild.py")]
    if name == "with-doubles":
        parts += [p.read_text() for p in sorted(DOUBLES_SRC.glob("*.go"))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def set_dir(name: str) -> Path:
    """Where artifact set ``name`` lives: ``local-artifacts/<name>-<key>``."""
    if name not in SETS:
        raise DevkitError(f"artifact set {name!r} is unknown: use one of {', '.join(SETS)}")
    return cache_root() / "local-artifacts" / f"{name}-{set_key(name)}"


def build_set(name: str, log=print) -> Path:
    """(Re)build artifact set ``name`` into its directory (atomically swapped in) and return the directory."""
    dest = set_dir(name)
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if name == "with-doubles":  # the real set plus doubles: copy it rather than pack everything twice
        real = ensure_artifacts("real", fill=False, log=log)
        shutil.rmtree(tmp)
        shutil.copytree(real, tmp)
        sources = json.loads((tmp / "SOURCES.json").read_text())
        fill_doubles(tmp, sources)
    else:
        sources = fill_real(tmp, log=log)
    (tmp / "SOURCES.json").write_text(json.dumps(sources, indent=2, sort_keys=True) + "\n")
    old = dest.with_name(dest.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        dest.rename(old)
    tmp.rename(dest)
    shutil.rmtree(old, ignore_errors=True)
    for stale in dest.parent.glob(f"{name}-*"):  # sets of older recipes
        if stale != dest and stale.name[len(name) + 1:].isalnum():
            shutil.rmtree(stale, ignore_errors=True)
    return dest


def artifact_cache_dir(name: str) -> Path | None:
    """The image layer's artifact cache dir for set ``name``: None (its default) for ``real``, a separate one else."""
    set_dir(name)  # validates the name
    return None if name == "real" else cache_root() / f"artifacts-{name}"


def fill_cache(directory: Path, cache_dir: Path | None = None, log=print) -> None:
    """Hand ``directory`` to the image layer's artifact cache (its `fill --from-dir`, which verifies every slot)."""
    from .paths import venv_python

    argv = [str(venv_python()), "-m", "sealos_provider.image.artifacts"]
    if cache_dir is not None:
        argv += ["--cache-dir", str(cache_dir)]
    proc = run(argv + ["fill", "--from-dir", str(directory)], cwd=str(REPO_ROOT), check=False, timeout=600)
    log((proc.stdout + proc.stderr).strip())
    if proc.returncode != 0:
        raise DevkitError(f"artifact cache fill from {directory} failed (exit {proc.returncode})")


def ensure_artifacts(name: str = "real", *, fill: bool = True, log=print) -> Path:
    """Build set ``name`` when missing and (optionally) fill the image layer's cache from it; returns its dir."""
    ensure_packages(HOST_PACKAGES, log=log)
    dest = set_dir(name)
    if not (dest / "SOURCES.json").exists():
        with cache_lock(f"artifacts-{name}"):
            if not (dest / "SOURCES.json").exists():
                build_set(name, log=log)
    if fill:
        fill_cache(dest, artifact_cache_dir(name), log=log)
    return dest
