"""Pulumi CLI lookup and the offline workspace settings."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sealos_provider.devkit import pulumi_cli
from sealos_provider.devkit.paths import REPO_ROOT, venv_python


def test_pinned_version_matches_the_installed_sdk():
    from importlib import metadata

    assert pulumi_cli.pinned_version() == metadata.version("pulumi")


def test_pulumi_env_is_offline_and_isolated(tmp_path):
    env = pulumi_cli.pulumi_env(tmp_path / "st", Path("/opt/fake/bin"), passphrase="pw")
    assert env["PULUMI_BACKEND_URL"] == f"file://{(tmp_path / 'st' / 'backend').resolve()}"
    assert env["PULUMI_HOME"] == str((tmp_path / "st" / "home").resolve())
    assert env["PULUMI_CONFIG_PASSPHRASE"] == "pw"
    assert env["PULUMI_SKIP_UPDATE_CHECK"] == "true"
    assert env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    assert env["PULUMI_PYTHON_CMD"] == str(venv_python())
    assert env["PATH"].split(":")[0] == "/opt/fake/bin"
    assert str(REPO_ROOT) in env["PYTHONPATH"].split(":")
    assert (tmp_path / "st" / "backend").is_dir() and (tmp_path / "st" / "home").is_dir()


def test_ensure_pulumi_without_build_names_the_script(tmp_path, monkeypatch):
    monkeypatch.setenv("SEALOS_PROVIDER_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    with pytest.raises(pulumi_cli.DevkitError, match="tools/build-pulumi-cli.sh 9.9.9"):
        pulumi_cli.ensure_pulumi("9.9.9", build=False)


@pytest.mark.slow
def test_cli_and_shim_are_at_the_pinned_version(pulumi_bin):
    version = subprocess.run([str(pulumi_bin / "pulumi"), "version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    assert version == f"v{pulumi_cli.pinned_version()}"
    shim = pulumi_bin / "pulumi-resource-pulumi-python"
    assert os.access(shim, os.X_OK) and "-m pulumi.dynamic" in shim.read_text()


@pytest.mark.slow
def test_workspace_keeps_state_in_its_file_backend(pulumi_workspace):
    import pulumi

    def program() -> None:
        pulumi.export("greeting", pulumi.Config().get("greeting"))

    stack = pulumi_workspace.stack(program, project="wsproj", stack="ws",
                                   config={"greeting": "hello", "token": ("secret", "s3cr3t-value")})
    up = stack.up()
    assert up.outputs["greeting"].value == "hello"
    stack_file = pulumi_workspace.backend_dir / ".pulumi" / "stacks" / "wsproj" / "ws.json"
    assert stack_file.is_file()
    assert "s3cr3t-value" not in pulumi_workspace.state_text()
    assert not (Path.home() / ".pulumi" / "stacks" / "wsproj").exists()
