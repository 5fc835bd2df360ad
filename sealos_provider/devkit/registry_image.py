"""A distribution registry image built locally from Debian's docker-registry (no image registry is reachable).

Laid out like upstream ``registry:2`` so the rootfs scripts treat it the same: ``/entrypoint.sh`` turns
``serve <cfg>`` or ``<cfg>.yml`` into ``registry serve <cfg>``, ``registry`` is on PATH, the default config is
``/etc/docker/registry/config.yml`` and port 5000 is exposed. The rootfs holds only the registry binary, /bin/sh and
the libraries they load (from ldd), so the image is small and reproducible; its tag is a hash of that content.
"""
from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from pathlib import Path

from .debian_bins import package_binary, package_version, shared_libs
from .proc import DevkitError, run

REPO = "sealos-provider/registry"

ENTRYPOINT = """\
#!/bin/sh
# Accept the same arguments as the upstream registry:2 image.
set -e
case "$1" in
  *.yml|*.yaml) exec registry serve "$@" ;;
  serve|garbage-collect|help|--version|-v) exec registry "$@" ;;
esac
exec "$@"
"""

CONFIG = """\
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
"""

CHANGES = (
    'ENTRYPOINT ["/entrypoint.sh"]',
    'CMD ["/etc/docker/registry/config.yml"]',
    "EXPOSE 5000",
    'VOLUME ["/var/lib/registry"]',
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
)


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, 0
    tar.addfile(info)


def rootfs_tar() -> tuple[bytes, str]:
    """The image rootfs as a tar (bytes) and the registry's Debian version."""
    version = package_version("docker-registry")
    registry = package_binary("docker-registry", "docker-registry")
    sh = Path("/bin/dash").resolve()
    files: dict[str, tuple[bytes, int]] = {
        "usr/bin/registry": (registry.read_bytes(), 0o755),
        "bin/sh": (sh.read_bytes(), 0o755),
        "entrypoint.sh": (ENTRYPOINT.encode(), 0o755),
        "etc/docker/registry/config.yml": (CONFIG.encode(), 0o644),
    }
    for lib in {*shared_libs(registry), *shared_libs(sh)}:
        files[str(lib).lstrip("/")] = (lib.resolve().read_bytes(), 0o755)
    dirs = {"tmp", "var/lib/registry", "etc/docker/registry", "usr/bin", "bin", "lib64", "lib/x86_64-linux-gnu"}
    for name in files:
        parent = Path(name).parent
        while str(parent) != ".":
            dirs.add(str(parent))
            parent = parent.parent
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for d in sorted(dirs):
            _add_dir(tar, d, 0o1777 if d == "tmp" else 0o755)
        for name in sorted(files):
            data, mode = files[name]
            _add_file(tar, name, data, mode)
    return buf.getvalue(), version


def build_registry_image() -> str:
    """Import the registry image into the local engine (when missing) and return its tag."""
    data, version = rootfs_tar()
    digest = hashlib.sha256(data + "\n".join(CHANGES).encode()).hexdigest()[:12]
    tag = f"{REPO}:{version.split('+')[0]}-{digest}"
    if run(["docker", "image", "inspect", tag], check=False).returncode != 0:
        argv = ["docker", "import"]
        for change in CHANGES:
            argv += ["--change", change]
        proc = subprocess.run(argv + ["-", tag], input=data, capture_output=True, timeout=300)
        if proc.returncode != 0:
            raise DevkitError(f"docker import of the registry image failed: {proc.stderr.decode(errors='replace')}")
    return tag


def save_registry_image(dest: Path) -> str:
    """Write ``docker save`` of the registry image to ``dest``; returns the tag (what `docker load` will print)."""
    tag = build_registry_image()
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    run(["docker", "save", "-o", str(partial), tag], timeout=300)
    partial.replace(dest)
    return tag
