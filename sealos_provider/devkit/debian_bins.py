"""Locating Debian-packaged programs and the shared libraries they load.

Artifacts must come from Debian's packages (not whatever else is on PATH: this machine also has a newer docker
client in /usr/local/bin), so binaries are looked up in the package's own file list.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from .proc import DevkitError, run


def package_version(package: str) -> str:
    """The installed version of a Debian package; raises with the apt-get fix when it is missing."""
    proc = run(["dpkg-query", "-W", "-f=${Status} ${Version}", package], check=False)
    if proc.returncode != 0 or "install ok installed" not in proc.stdout:
        raise DevkitError(f"Debian package {package} is not installed: apt-get install -y {package}")
    return proc.stdout.split()[-1]


def _installed(package: str) -> bool:
    proc = run(["dpkg-query", "-W", "-f=${Status}", package], check=False)
    return proc.returncode == 0 and "install ok installed" in proc.stdout


def ensure_packages(packages: list[str] | tuple[str, ...], log=print) -> list[str]:
    """apt-get install the Debian packages that are missing (a fresh CI machine has none); returns what it installed."""
    missing = [p for p in packages if not _installed(p)]
    if missing:
        log(f"apt-get install {' '.join(missing)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run(["apt-get", "update"], env=env, timeout=600)
        run(["apt-get", "install", "-y", "--no-install-recommends", *missing], env=env, timeout=1800)
    return missing


def package_binary(package: str, name: str) -> Path:
    """The path of executable ``name`` shipped by ``package`` (symlinks resolved)."""
    package_version(package)
    files = run(["dpkg-query", "-L", package]).stdout.splitlines()
    for f in files:
        p = Path(f)
        if p.name == name and ("/bin/" in f or "/sbin/" in f) and p.exists():
            return p.resolve()
    raise DevkitError(f"{package} ships no executable named {name}")


def shared_libs(binary: Path) -> list[Path]:
    """Absolute paths of the shared objects ``binary`` loads (from ldd), including the dynamic loader."""
    proc = subprocess.run(["ldd", str(binary)], capture_output=True, text=True)
    if proc.returncode != 0:  # "not a dynamic executable": static
        return []
    libs: list[Path] = []
    for line in proc.stdout.splitlines():
        m = re.search(r"(/\S+)\s+\(0x", line)
        if m:
            libs.append(Path(m.group(1)))
    return libs
