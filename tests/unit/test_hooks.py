"""Hook scripts run under real bash: every value reaches the hook byte for byte and never appears in any argv."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sealos_provider.image.hooks import HookError, hook_script
from sealos_provider.image.kubefile import parse_kubefile

HOSTILE = {
    "registryPassword": "p\"a's$(touch PWNED)`touch PWNED2`;rm -rf x, y\nline2\\n $HOME ${PATH} ü中 !! * ?",
    "registryData": "/srv/dir with spaces/and,commas;and 'quotes'",
    "criData": "-n",
    "emptyValue": "",
    "trailingNewline": "value\n\n",
    "globs": "* ? [a-z] ~",
    "ansi": "\x1b[31mred\x1b[0m\ttab",
}

# The hook prints each variable it received and each positional argument, NUL-separated, so the test sees raw bytes.
DUMP = """#!/bin/bash
set -u
out="$1"; shift
{
  for name in registryPassword registryData criData emptyValue trailingNewline globs ansi; do
    printf '%s=%s\\0' "$name" "${!name}"
  done
  printf 'pwd=%s\\0' "$PWD"
  for arg in "$@"; do printf 'arg=%s\\0' "$arg"; done
} > "$out"
"""


def _rootfs(tmp_path: Path, script: str = DUMP, name: str = "dump.sh") -> Path:
    scripts = tmp_path / "root fs" / "scripts"
    scripts.mkdir(parents=True)
    (scripts / name).write_text(script)
    return tmp_path / "root fs"


def _run(script: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-s"], input=script.encode(), cwd=cwd, capture_output=True, timeout=60)


def _fields(out: Path) -> list[tuple[str, str]]:
    raw = out.read_bytes().split(b"\0")[:-1]
    return [tuple(item.decode().split("=", 1)) for item in raw]  # type: ignore[misc]


def test_hostile_values_reach_the_hook_exactly(tmp_path: Path) -> None:
    rootfs = _rootfs(tmp_path)
    out = tmp_path / "out"
    script = hook_script(str(rootfs), HOSTILE, f"bash dump.sh {out} \"$registryData\" $criData")
    result = _run(script, tmp_path)
    assert result.returncode == 0, result.stderr
    fields = _fields(out)
    assert fields[: len(HOSTILE)] == list(HOSTILE.items())
    assert ("pwd", str(rootfs / "scripts")) in fields
    assert [v for k, v in fields if k == "arg"] == [HOSTILE["registryData"], "-n"]
    assert not list(tmp_path.rglob("PWNED*")), "a value was executed"


def test_seed_label_command_expands_from_the_exported_env(tmp_path: Path) -> None:
    label = parse_kubefile('FROM scratch\nLABEL check="dump.sh \\$registryData"\n').hook("check")
    assert label == "bash dump.sh $registryData"
    rootfs = _rootfs(tmp_path, DUMP.replace('out="$1"; shift', f'out={tmp_path}/out'))
    env = {"registryData": "/var/lib/registry", **{k: v for k, v in HOSTILE.items() if k != "registryData"}}
    result = _run(hook_script(str(rootfs), env, label), tmp_path)
    assert result.returncode == 0, result.stderr
    assert [v for k, v in _fields(tmp_path / "out") if k == "arg"] == ["/var/lib/registry"]


def test_no_value_appears_in_any_process_argv(tmp_path: Path) -> None:
    secret = "s3cr3t-$(id)-'\"-marker"
    probe = """#!/bin/bash
found=0
for f in /proc/[0-9]*/cmdline; do
  content=$(tr '\\0' ' ' < "$f" 2>/dev/null) || continue
  if [[ $content == *"$MARKER"* ]]; then found=1; fi  # a builtin test: no process gets the marker in its argv
done
echo "found=$found"
"""
    rootfs = _rootfs(tmp_path, probe, "probe.sh")
    script = hook_script(str(rootfs), {"registryPassword": secret, "MARKER": "s3cr3t-$(id)"}, "bash probe.sh")
    assert "s3cr3t-$(id)" in script  # it travels in the script text, which goes on stdin ...
    result = _run(script, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == "found=0"  # ... and never in argv
    # control: the probe does see a value that is passed as an argument
    leaky = hook_script(str(rootfs), {"MARKER": "s3cr3t-$(id)"}, 'bash probe.sh "$MARKER"')
    assert _run(leaky, tmp_path).stdout.decode().strip() == "found=1"


def test_hook_reading_stdin_cannot_swallow_the_script(tmp_path: Path) -> None:
    rootfs = _rootfs(tmp_path, "cat > /dev/null\necho hook-ran\n", "greedy.sh")
    script = hook_script(str(rootfs), {}, "bash greedy.sh && echo after")
    result = _run(script, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().split() == ["hook-ran", "after"]


def test_exit_status_and_missing_directory(tmp_path: Path) -> None:
    rootfs = _rootfs(tmp_path, "exit 7\n", "fail.sh")
    assert _run(hook_script(str(rootfs), {}, "bash fail.sh"), tmp_path).returncode == 7
    result = _run(hook_script(str(tmp_path / "absent"), {}, "bash fail.sh"), tmp_path)
    assert result.returncode == 1
    assert b"cannot enter the rootfs scripts directory" in result.stderr


@pytest.mark.parametrize(
    "env, command, message",
    [
        ({"bad-key": "x"}, "true", "not a valid shell variable name"),
        ({"1abc": "x"}, "true", "not a valid shell variable name"),
        ({"a b": "x"}, "true", "not a valid shell variable name"),
        ({"BASH_ENV": "/tmp/x"}, "true", "would change how bash runs"),
        ({"k": "nul\0byte"}, "true", "NUL"),
        ({"k": 5}, "true", "must be a string"),
        ({}, "   ", "empty"),
    ],
)
def test_refuses_what_bash_cannot_carry(env, command: str, message: str) -> None:
    with pytest.raises(HookError, match=message):
        hook_script("/var/lib/sealos/data/default/rootfs", env, command)


def test_relative_rootfs_refused() -> None:
    with pytest.raises(HookError, match="absolute"):
        hook_script("rootfs", {}, "bash init.sh")


def test_script_passes_bash_n_and_shellcheck(tmp_path: Path) -> None:
    script = tmp_path / "hook.sh"
    script.write_text(hook_script("/var/lib/sealos/data/default/rootfs", HOSTILE, "bash check.sh $registryData"))
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    result = subprocess.run(["shellcheck", "-e", "SC2086", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
