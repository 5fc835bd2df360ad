"""The Docker engine setup step is idempotent and leaves a running engine alone."""
from __future__ import annotations

import subprocess

import pytest

from sealos_provider.devkit import engine

pytestmark = pytest.mark.slow


def test_ensure_engine_is_idempotent(docker_engine):
    assert docker_engine in ("running", "started", "installed", "installed+started")
    pid_before = subprocess.run(["docker", "info", "--format", "{{.ID}}"], capture_output=True, text=True).stdout
    assert engine.ensure_engine() == "running"
    assert engine.engine_answers()
    pid_after = subprocess.run(["docker", "info", "--format", "{{.ID}}"], capture_output=True, text=True).stdout
    assert pid_before == pid_after
