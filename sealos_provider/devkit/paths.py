"""Where the devkit keeps things: one place, so the cache layout is not spread over the modules.

Everything built here (node image tarball, Pulumi CLI, local artifacts, node keys) lives under one cache root outside
the clone, keyed by version or recipe hash, so a fresh checkout reuses it and nothing built is ever committed.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def cache_root() -> Path:
    """The devkit cache root: ``$SEALOS_PROVIDER_CACHE`` or ``~/.cache/sealos-provider``."""
    env = os.environ.get("SEALOS_PROVIDER_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "sealos-provider"


def venv_python() -> Path:
    """The Python that runs the provider plugins: the repo's .venv when present, else this interpreter."""
    candidate = REPO_ROOT / ".venv" / "bin" / "python"
    return candidate if candidate.exists() else Path(sys.executable)
