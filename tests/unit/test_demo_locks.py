"""`make demo-cancel` and the locked-stack message: a live update is never unlocked, a killed one is, and a demo
that does not exist is left alone (nothing created)."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from sealos_provider.devkit import demo


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setattr(demo, "DEMO_DIR", tmp_path / "demo")
    project = tmp_path / "myproject"
    project.mkdir()
    return project


def write_lock(project: Path, pid: int, hostname: str | None = None) -> None:
    locks = demo._state_dir(project) / "backend" / ".pulumi" / "locks" / "organization" / "p" / "demo"
    locks.mkdir(parents=True, exist_ok=True)
    body = {"pid": pid, "username": "root", "hostname": hostname or socket.gethostname(), "timestamp": "now"}
    (locks / f"{pid}.json").write_text(json.dumps(body))


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_only_running_lock_holders_on_this_machine_count_as_live(project: Path) -> None:
    alive = subprocess.Popen(["sleep", "30"])
    try:
        write_lock(project, alive.pid)
        write_lock(project, dead_pid())
        write_lock(project, alive.pid + 1_000_000, hostname="another-machine")
        assert demo._live_holders(project) == [alive.pid]
    finally:
        alive.kill()
        alive.wait()


def test_cancel_refuses_to_unlock_a_running_update(project: Path, capsys) -> None:
    alive = subprocess.Popen(["sleep", "30"])
    try:
        write_lock(project, alive.pid)
        assert demo.cancel(project) == 1
        assert f"still running (pid {alive.pid})" in capsys.readouterr().out
    finally:
        alive.kill()
        alive.wait()


def test_cancel_without_a_demo_creates_nothing(project: Path, capsys) -> None:
    assert demo.cancel(project) == 0
    assert "nothing to unlock" in capsys.readouterr().out
    assert not demo.DEMO_DIR.exists()


def test_with_descendants_finds_children_and_grandchildren() -> None:
    from sealos_provider.devkit.proc import parent_pids, with_descendants

    shell = subprocess.Popen(["bash", "-c", "sleep 30 & (sleep 30 & wait) & wait"])
    try:
        for _ in range(50):
            tree = with_descendants([shell.pid])
            if len(tree) >= 4:  # bash, sleep, subshell, its sleep
                break
            subprocess.run(["sleep", "0.05"])
        parents = parent_pids()
        assert tree[0] == shell.pid and len(tree) == 4
        assert all(parents[pid] in tree for pid in tree[1:]), "every other pid is a child of one in the tree"
    finally:
        for pid in reversed(with_descendants([shell.pid])):
            subprocess.run(["kill", "-9", str(pid)], capture_output=True)
        shell.wait()
