"""The Docker engine on this machine: install Debian's docker.io when missing, start dockerd, wait until it answers.

Nodes, the registry image and the artifact builds all need a running engine. CI machines start with none running, so
this step is idempotent: an engine that answers is left alone (never restarted or stopped: someone else may own it).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from .proc import DevkitError, run

DOCKERD_LOG = Path("/var/log/dockerd.log")


def engine_answers() -> bool:
    """True when ``docker info`` reaches a server."""
    if shutil.which("docker") is None:
        return False
    proc = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    return proc.returncode == 0 and bool(proc.stdout.strip())


def install_docker_io() -> None:
    """Install Debian's docker.io (dockerd, containerd, runc, docker-init, docker-proxy) with apt-get."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update"], env=env, timeout=600)
    run(["apt-get", "install", "-y", "--no-install-recommends", "docker.io"], env=env, timeout=1200)


def ensure_engine(timeout: float = 90.0, log=print) -> str:
    """Make sure a Docker engine answers; returns what was done ("running", "started" or "installed+started")."""
    if engine_answers():
        return "running"
    done = "started"
    if shutil.which("dockerd") is None:
        log("engine: installing docker.io with apt-get")
        install_docker_io()
        done = "installed+started"
        if engine_answers():  # the package's service may have started it
            return "installed"
    DOCKERD_LOG.parent.mkdir(parents=True, exist_ok=True)
    log(f"engine: starting dockerd (log: {DOCKERD_LOG})")
    with open(DOCKERD_LOG, "ab") as out:
        subprocess.Popen(
            ["dockerd"], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engine_answers():
            return done
        time.sleep(0.5)
    tail = DOCKERD_LOG.read_text(errors="replace").splitlines()[-10:] if DOCKERD_LOG.exists() else []
    raise DevkitError(
        f"dockerd did not answer within {timeout:.0f}s; last lines of {DOCKERD_LOG}:\n" + "\n".join(tail)
    )
