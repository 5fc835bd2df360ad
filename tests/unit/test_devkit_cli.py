"""``python -m sealos_provider.devkit``: each subcommand reports what it did and how long it took."""
from __future__ import annotations

import json
import subprocess

import pytest

from sealos_provider.devkit.cli import build_parser
from sealos_provider.devkit.paths import REPO_ROOT, venv_python


def devkit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv_python()), "-m", "sealos_provider.devkit", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=900)


def test_parser_knows_every_subcommand():
    p = build_parser()
    assert p.parse_args(["nodes", "up", "3", "--prefix", "x"]).count == 3
    assert p.parse_args(["artifacts"]).set == "real"
    with pytest.raises(SystemExit):
        p.parse_args(["artifacts", "fake"])


@pytest.mark.slow
def test_nodes_up_writes_json_and_down_removes_the_set(tmp_path, docker_engine, node_image):
    out = tmp_path / "nodes.json"
    up = devkit("nodes", "up", "1", "--prefix", "clicheck", "--json", str(out))
    try:
        assert up.returncode == 0, up.stderr
        assert "nodes up: done in" in up.stdout
        facts = json.loads(out.read_text())
        assert [f["name"] for f in facts] == ["clicheck-1"] and facts[0]["ssh_host"] == "127.0.0.1"
        assert f"-p {facts[0]['ssh_port']}" in up.stdout
    finally:
        down = devkit("nodes", "down", "--prefix", "clicheck")
    assert down.returncode == 0 and "removed set 'clicheck'" in down.stdout
    left = subprocess.run(["docker", "ps", "-aq", "--filter", "name=clicheck-1"], capture_output=True, text=True)
    assert left.stdout.strip() == ""


@pytest.mark.slow
def test_pulumi_prints_the_bin_dir(pulumi_bin):
    res = devkit("pulumi")
    assert res.returncode == 0 and res.stdout.strip() == str(pulumi_bin)
