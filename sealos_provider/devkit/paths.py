"""Where the devkit keeps things: one place, so the cache layout is not spread over the modules.

Everything built here (node image tarball, Pulumi CLI, local artifacts, node keys) lives under one cache root outside
the clone, keyed by version or recipe hash, so a fresh checkout reuses it and nothing built is ever committed.
"""
from __future__ import annotations

import fcntl
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

REPO_ROOT = Path(__file__).resolve().parents[2]


def cache_root() -> Path:
    """The devkit cache root: ``$SEALOS_PROVIDER_CACHE`` or ``~/.cache/sealos-provider``."""
    env = os.environ.get("SEALOS_PROVIDER_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "sealos-provider"


def venv_python() -> Path:
    """The Python that runs the provider plugins: the repo's .venv when present, else this interpreter."""
    candidate = REPO_ROOT / ".venv" / "bin" / "python"
    return candidate if candidate.exists() else Path(sys.executable)


@contextmanager
def cache_lock(name: str) -> Iterator[None]:
    """Hold an exclusive lock named ``name`` under the cache root: parallel test runs on one machine then build a
    cached thing once instead of racing on the same partial files."""
    lock_dir = cache_root() / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
