"""The rootfs hook scripts, run for real under bash.

Every script must pass `bash -n` and ShellCheck. The helpers of common.sh and whole scripts (init-docker, init-kube,
auth, check and their cleans) run against a throw-away host: a copy of rootfs/scripts in a temporary rootfs, with
SEALOS_PROVIDER_HOST_ROOT, BIN_DIR and SEALOS_PROVIDER_STATE_DIR pointing into the temporary directory and PATH limited
to an allow-list of harmless real tools plus the doubles in tests/doubles/hostbin (systemctl, docker). The tests
assert what ended up on disk (bytes, modes, records) and what the doubles saw (argv, stdin), so they fail when a
script misbehaves. Nothing here touches this machine's /etc, services, kernel settings or docker daemon.
"""

from __future__ import annotations

import http.server
import io
import os
import re
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ROOTFS = REPO / "rootfs"
SCRIPTS = ROOTFS / "scripts"
DOUBLES = REPO / "tests" / "doubles" / "hostbin"

EXPECTED_SCRIPTS = sorted(
    f"{name}.sh"
    for name in (
        "init clean check auth init-registry clean-registry init-docker init-cri-dockerd init-shim init-kube "
        "clean-docker clean-cri-dockerd clean-shim clean-kube kubelet-pre-start kubelet-post-stop common"
    ).split()
)
ALL_SCRIPTS = sorted(p.name for p in SCRIPTS.glob("*.sh"))

# Real tools the scripts may use inside the sandbox: all read-only or confined to the paths they are given. Tools that
# would change this machine (sysctl, ip, modprobe, swapoff, iptables, mount, docker, systemctl) are deliberately
# absent; python3 is there for the systemctl double only.
SAFE_TOOLS = (
    "bash sh env cat cp mv rm mkdir rmdir chmod stat cmp mktemp dirname basename readlink tac sort uniq head tail wc tr "
    "sed awk gawk mawk grep find tar gzip date sleep touch ls ss getent id printf cut tee xargs true false python3"
).split()

# A value meant to break anything that re-parses it: quotes, command substitutions, separators, a newline, globs, YAML
# indicators, a Go-template opener, a backslash, non-ASCII and spaces.
HOSTILE = "a\"b'c $(touch {marker}) `touch {marker}` ;x\n& |*! #y: {{{{ .z }}}} \\ $HOME ünï ✓ end"


def hostile(marker: Path) -> str:
    return HOSTILE.format(marker=marker)


@dataclass
class Sandbox:
    """A temporary host: rootfs copy, host root, BIN_DIR, state dir and the doubles' logs."""

    tmp: Path
    rootfs: Path
    host: Path
    bin_dir: Path
    state: Path
    env: dict[str, str]

    @property
    def systemctl_log(self) -> list[str]:
        log = Path(self.env["SYSTEMCTL_DOUBLE_LOG"])
        return log.read_text().splitlines() if log.exists() else []

    def docker_calls(self) -> list[tuple[list[bytes], bytes | None]]:
        """Each docker double call as (argv, stdin or None), in call order."""
        d = Path(self.env["DOCKER_DOUBLE_DIR"])
        calls = []
        for argv in sorted(d.glob("call-*.argv"), key=lambda p: int(p.stem.split("-")[1])):
            stdin = argv.with_suffix(".stdin")
            calls.append((argv.read_bytes().split(b"\0")[:-1], stdin.read_bytes() if stdin.exists() else None))
        return calls

    def hp(self, path: str) -> Path:
        """PATH on the sandboxed host."""
        return self.host / path.lstrip("/")

    def write(self, rel: str, text: str | bytes, mode: int = 0o644) -> Path:
        path = self.rootfs / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        path.chmod(mode)
        return path

    def run(self, script: str, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        env = {**self.env, **extra}
        return subprocess.run(
            ["bash", str(self.rootfs / "scripts" / script), *args],
            env=env, capture_output=True, text=True, timeout=120, cwd=self.tmp,
        )

    def bash(self, snippet: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """Run SNIPPET after sourcing common.sh (as the scripts do)."""
        env = {**self.env, **extra}
        prog = f'set -Eeuo pipefail\nsource "{self.rootfs}/scripts/common.sh"\n{snippet}\n'
        return subprocess.run(["bash", "-c", prog], env=env, capture_output=True, text=True, timeout=120, cwd=self.tmp)

    def records(self, component: str, kind: str) -> list[str]:
        path = self.state / f"{component}.{kind}"
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    rootfs = tmp_path / "data" / "rootfs"
    shutil.copytree(SCRIPTS, rootfs / "scripts")
    sysbin = tmp_path / "sysbin"
    sysbin.mkdir()
    for tool in SAFE_TOOLS:
        found = shutil.which(tool, path="/usr/bin:/bin:/usr/sbin:/sbin")
        if found:
            (sysbin / tool).symlink_to(found)
    host = tmp_path / "host"
    for d in ("etc/systemd/system", "etc/security", "proc/sys/net/ipv4", "run"):
        (host / d).mkdir(parents=True)
    (host / "proc/sys/net/ipv4/ip_forward").write_text("0\n")
    bin_dir = tmp_path / "usr-bin"
    bin_dir.mkdir()
    state = tmp_path / "data" / "state"
    env = {
        "PATH": f"{DOUBLES}:{sysbin}",
        "SEALOS_PROVIDER_SYSTEM_PATH": "",
        "SEALOS_PROVIDER_HOST_ROOT": str(host),
        "SEALOS_PROVIDER_STATE_DIR": str(state),
        "BIN_DIR": str(bin_dir),
        "HOME": str(tmp_path / "home"),
        "DOCKER_CONFIG": str(tmp_path / "home" / ".docker"),
        "LC_ALL": "C.UTF-8",
        "SYSTEMCTL_DOUBLE_LOG": str(tmp_path / "systemctl.log"),
        "SYSTEMCTL_DOUBLE_STATE": str(tmp_path / "systemctl-state"),
        "DOCKER_DOUBLE_DIR": str(tmp_path / "docker-calls"),
    }
    return Sandbox(tmp_path, rootfs, host, bin_dir, state, env)


def changes(output: str) -> list[str]:
    """The 'installed'/'updated'/'added' lines a script printed: what it changed on the host."""
    return [line for line in output.splitlines() if re.search(r": (installed|updated|added) ", line)]


# ---------------------------------------------------------------------------------------------------------------------
# Static checks


def test_every_expected_script_exists_and_nothing_else() -> None:
    assert ALL_SCRIPTS == EXPECTED_SCRIPTS


@pytest.mark.parametrize("script", ALL_SCRIPTS)
def test_bash_syntax(script: str) -> None:
    result = subprocess.run(["bash", "-n", str(SCRIPTS / script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("script", ALL_SCRIPTS)
def test_shellcheck(script: str) -> None:
    if not shutil.which("shellcheck"):
        pytest.fail("shellcheck is not installed (apt-get install shellcheck)")
    result = subprocess.run(["shellcheck", "-x", str(SCRIPTS / script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", [s for s in ALL_SCRIPTS if s != "common.sh"])
def test_scripts_are_strict(script: str) -> None:
    text = (SCRIPTS / script).read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -Eeuo pipefail" in text
    assert "set -x" not in text
    assert "--password " not in text and "-p \"$registryPassword" not in text


def parse_kubefile(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """A minimal reader for this Kubefile's one-pair-per-line LABEL/ENV lines (the real parser lives in image/)."""
    labels: dict[str, str] = {}
    env: dict[str, str] = {}
    for line in text.splitlines():
        m = re.fullmatch(r'LABEL ([\w.-]+)="(.*)"', line)
        if m:
            labels[m.group(1)] = m.group(2)
        m = re.fullmatch(r"ENV (\w+)=(\S*)", line)
        if m:
            env[m.group(1)] = m.group(2)
    return labels, env


def test_kubefile_labels_and_env() -> None:
    text = (ROOTFS / "Kubefile").read_text()
    lines = text.splitlines()
    assert lines[0] == "FROM scratch"
    assert lines[1].startswith("MAINTAINER ")
    assert lines[-1] == "COPY . ."
    labels, env = parse_kubefile(text)
    assert labels == {
        "init": "init.sh",
        "clean": r"clean.sh \$criData \$criDockerdData",
        "check": r"check.sh \$registryData",
        "init-registry": r"init-registry.sh \$registryData \$registryConfig",
        "clean-registry": r"clean-registry.sh \$registryData \$registryConfig",
        "auth": "auth.sh",
        "sealos.io.type": "rootfs",
        "sealos.io.version": "v1beta1",
        "version": "v1.28.15",
        "image": "ghcr.io/labring/lvscare:v5.0.1",
    }
    assert env == {
        "criData": "/var/lib/docker",
        "criDockerdData": "/var/lib/cri-dockerd",
        "registryData": "/var/lib/registry",
        "registryConfig": "/etc/registry",
        "registryDomain": "sealos.hub",
        "registryPort": "5000",
        "registryUsername": "admin",
        "registryPassword": "passw0rd",
        "SEALOS_SYS_CRI_ENDPOINT": "/var/run/cri-dockerd.sock",
        "SEALOS_SYS_IMAGE_ENDPOINT": "/var/run/image-cri-shim.sock",
        "sandboxImage": "pause:3.9",
        "defaultVIP": "10.103.97.2",
    }
    for name, value in labels.items():
        assert "Password" not in value and "Username" not in value and "passw0rd" not in value, name
    for name, value in labels.items():
        if name in ("init", "clean", "check", "init-registry", "clean-registry", "auth"):
            assert (SCRIPTS / value.split()[0]).is_file(), name


def test_tree_layout_and_no_binaries_committed() -> None:
    for d in ("bin", "cri", "etc", "images/shim", "opt", "registry/docker/registry", "scripts", "statics"):
        assert (ROOTFS / d).is_dir(), d
    for f in ("Kubefile", "README.md", "images/shim/DefaultImageList", "images/shim/LvscareImageList",
              "statics/audit-policy.yml", "etc/registry.service", "etc/sysctl.d/99-sealos-k8s.conf",
              "etc/limits.d/99-sealos-k8s.conf"):
        assert (ROOTFS / f).is_file(), f
    for t in ("daemon.json", "registry.yml", "registry_config.yml", "image-cri-shim.yaml", "cri-docker.service",
              "cri-docker.socket", "crictl.yaml", "docker.service", "image-cri-shim.service", "kubelet.service",
              "10-kubeadm.conf", "kubelet-flags.env"):
        assert (ROOTFS / "etc" / f"{t}.tmpl").is_file(), t
    git_ls = subprocess.run(["git", "-C", str(REPO), "ls-files", "rootfs"], capture_output=True, text=True)
    tracked = git_ls.stdout.split() if git_ls.returncode == 0 else []
    for rel in tracked:
        assert not rel.endswith((".tgz", ".tar.gz", ".tar")), rel
        data = (REPO / rel).read_bytes()[:4]
        assert data != b"\x7fELF", rel


def test_templates_quote_every_env_value_in_yaml_and_json() -> None:
    """In the YAML/JSON templates every `{{ ... }}` that prints a value ends in toJson (or is a control action)."""
    for name in ("daemon.json.tmpl", "registry.yml.tmpl", "registry_config.yml.tmpl", "image-cri-shim.yaml.tmpl",
                 "crictl.yaml.tmpl"):
        text = (ROOTFS / "etc" / name).read_text()
        for action in re.findall(r"\{\{-?\s*(.*?)\s*-?\}\}", text, flags=re.S):
            if action.startswith(("/*", "if ", "else", "end")):
                continue
            assert action.endswith("| toJson"), f"{name}: {{{{ {action} }}}} is printed unquoted"


# ---------------------------------------------------------------------------------------------------------------------
# common.sh helpers


def test_install_file_records_backs_up_once_and_clean_restores(sandbox: Sandbox) -> None:
    new_dst = sandbox.hp("/etc/new/dir/config.yaml")
    user_dst = sandbox.hp("/etc/user.conf")
    user_dst.write_bytes(b"the user's own bytes\n")
    user_dst.chmod(0o640)
    src1 = sandbox.tmp / "v1"
    src1.write_bytes(b"ours v1\n")
    src2 = sandbox.tmp / "v2"
    src2.write_bytes(b"ours v2\n")

    def install(src: Path) -> subprocess.CompletedProcess[str]:
        return sandbox.bash(
            f'component demo\ninstall_file "{src}" "{new_dst}" 0600\ninstall_file "{src}" "{user_dst}" 0644\n'
            'printf "CHANGES=%s\\n" "$CHANGES"'
        )

    first = install(src1)
    assert first.returncode == 0, first.stderr
    assert "CHANGES=2" in first.stdout
    assert new_dst.read_bytes() == b"ours v1\n" and (new_dst.stat().st_mode & 0o777) == 0o600
    assert user_dst.read_bytes() == b"ours v1\n" and (user_dst.stat().st_mode & 0o777) == 0o644
    assert sandbox.records("demo", "created") == [str(new_dst)]
    assert sandbox.records("demo", "backup") == [str(user_dst)]
    assert sandbox.records("demo", "dirs") == [str(sandbox.hp("/etc/new")), str(sandbox.hp("/etc/new/dir"))]
    backup = sandbox.state / "backup" / str(user_dst).lstrip("/")
    assert backup.read_bytes() == b"the user's own bytes\n"

    again = install(src1)
    assert "CHANGES=0" in again.stdout, again.stdout
    changed = install(src2)
    assert "CHANGES=2" in changed.stdout
    assert backup.read_bytes() == b"the user's own bytes\n", "the backup must keep the user's original"
    assert sandbox.records("demo", "backup") == [str(user_dst)]

    clean = sandbox.bash("component demo\nclean_records")
    assert clean.returncode == 0, clean.stderr
    assert not new_dst.exists() and not sandbox.hp("/etc/new").exists()
    assert user_dst.read_bytes() == b"the user's own bytes\n"
    assert user_dst.stat().st_mode & 0o777 == 0o640
    assert not backup.exists()
    assert not list(sandbox.state.glob("demo.*"))


def test_install_file_removes_the_half_written_copy_a_killed_run_left(sandbox: Sandbox) -> None:
    dst = sandbox.hp("/etc/docker/daemon.json")
    dst.parent.mkdir(parents=True)
    stale = dst.parent / ".daemon.json.sealos-provider-new.Ab12Cd"
    stale.write_bytes(b'{"half": ')  # what a run killed while writing its temporary copy leaves
    users = dst.parent / ".daemon.json.swp"
    users.write_bytes(b"someone else's file\n")
    src = sandbox.tmp / "daemon.json"
    src.write_bytes(b'{"data-root": "/var/lib/docker"}\n')
    result = sandbox.bash(f'component docker\ninstall_file "{src}" "{dst}" 0644')
    assert result.returncode == 0, result.stderr
    assert dst.read_bytes() == src.read_bytes()
    assert sorted(p.name for p in dst.parent.iterdir()) == [".daemon.json.swp", "daemon.json"]
    assert users.read_bytes() == b"someone else's file\n"


def test_install_file_missing_source_names_the_step(sandbox: Sandbox) -> None:
    result = sandbox.bash(f'component demo\nstep "writing things"\ninstall_file /nonexistent "{sandbox.hp("/etc/x")}" 0644')
    assert result.returncode != 0
    assert 'ERROR in step "writing things"' in result.stderr and "/nonexistent" in result.stderr


def test_failing_command_names_the_step(sandbox: Sandbox) -> None:
    result = sandbox.bash('step "doing the thing"\nfalse\necho unreachable')
    assert result.returncode == 1
    assert 'ERROR in step "doing the thing"' in result.stderr and "false" in result.stderr
    assert "unreachable" not in result.stdout


def test_data_dirs_removed_unless_keep_data_and_preexisting_dirs_kept(sandbox: Sandbox) -> None:
    made = sandbox.hp("/srv/new/data")
    existing = sandbox.hp("/var/lib/users-own")
    existing.mkdir(parents=True)
    (existing / "precious").write_text("keep me")
    snippet = f'component demo\nensure_data_dir "{made}" 0710\nensure_data_dir "{existing}"\ntouch "{made}/blob"'
    assert sandbox.bash(snippet).returncode == 0
    assert made.stat().st_mode & 0o777 == 0o710
    assert sandbox.records("demo", "data") == [str(made)]

    kept = sandbox.bash("component demo\nclean_records", keepData="true")
    assert kept.returncode == 0, kept.stderr
    assert (made / "blob").exists() and (existing / "precious").exists()

    assert sandbox.bash(snippet).returncode == 0
    assert sandbox.records("demo", "data") == [], "a kept data dir is the user's now"
    other = sandbox.hp("/srv/other")
    assert sandbox.bash(f'component demo\nensure_data_dir "{other}"\ntouch "{other}/x"').returncode == 0
    removed = sandbox.bash("component demo\nclean_records", keepData="false")
    assert removed.returncode == 0, removed.stderr
    assert not other.exists() and (existing / "precious").exists() and made.exists()


def test_keep_data_keeps_a_data_dir_nothing_was_written_into_yet(sandbox: Sandbox) -> None:
    made = sandbox.hp("/data/registry")  # e.g. a registry no image was pushed to
    assert sandbox.bash(f'component demo\nensure_data_dir "{made}" 0755').returncode == 0
    assert sandbox.records("demo", "dirs") == [str(sandbox.hp("/data")), str(made)]
    kept = sandbox.bash("component demo\nclean_records", keepData="true")
    assert kept.returncode == 0, kept.stderr
    assert made.is_dir() and list(made.iterdir()) == []
    assert not list(sandbox.state.glob("demo.*"))

    again = sandbox.hp("/data2/registry")
    assert sandbox.bash(f'component demo\nensure_data_dir "{again}"').returncode == 0
    assert sandbox.bash("component demo\nclean_records", keepData="false").returncode == 0
    assert not sandbox.hp("/data2").exists(), "without keepData the empty dirs it created go, parents included"


@pytest.mark.parametrize("path", ["/", "/usr", "/etc", "/var/lib", "/usr/local", "relative/x"])
def test_safe_rm_rf_refuses_system_paths(sandbox: Sandbox, path: str) -> None:
    result = sandbox.bash(f'safe_rm_rf "{path}"')
    assert result.returncode != 0
    assert "refusing" in result.stderr
    assert Path("/usr/bin/env").exists()


def test_marked_block_is_replaced_not_appended(sandbox: Sandbox) -> None:
    limits = sandbox.hp("/etc/security/limits.conf")
    original = b"# the user's limits\n@users soft nofile 4096\n"
    limits.write_bytes(original)
    content = sandbox.tmp / "block"
    content.write_text("* soft nofile 1048576\n\n* hard nofile 1048576\n")
    for _ in range(3):
        assert sandbox.bash(f'component demo\nreplace_block "{limits}" "{content}"').returncode == 0
    text = limits.read_text()
    assert text.startswith(original.decode())
    assert text.count("* soft nofile 1048576") == 1 and text.count("managed block") == 2
    assert "\n\n" not in text.split("managed block", 1)[1], "blank lines are dropped from the block"
    content.write_text("* soft nofile 2048\n")
    assert sandbox.bash(f'component demo\nreplace_block "{limits}" "{content}"').returncode == 0
    assert "1048576" not in limits.read_text() and limits.read_text().count("2048") == 1
    inode = limits.stat().st_ino
    assert sandbox.bash(f'component demo\nremove_block "{limits}"').returncode == 0
    assert limits.read_bytes() == original
    assert limits.stat().st_ino == inode, "edited in place (the file may be a bind mount)"


def test_sysctl_rendering_keeps_only_keys_the_kernel_has(sandbox: Sandbox) -> None:
    sandbox.hp("/proc/sys/net/bridge").mkdir(parents=True)
    sandbox.hp("/proc/sys/net/bridge/bridge-nf-call-iptables").write_text("0\n")
    src = sandbox.tmp / "k8s.conf"
    src.write_text(
        "# comment\n\nnet.ipv4.ip_forward=1\nnet.bridge.bridge-nf-call-iptables = 1  # trailing\n"
        "net.bridge.bridge-nf-call-ip6tables = 1\nnet.ipv4.ip_forward = 1\n"
    )
    result = sandbox.bash(f'render_sysctl "{src}"')
    assert result.returncode == 0, result.stderr
    assert result.stdout == "net.bridge.bridge-nf-call-iptables = 1\nnet.ipv4.ip_forward = 1\n"
    assert "bridge-nf-call-ip6tables is not supported" in result.stderr


def test_feature_test_tolerates_a_failing_modprobe_when_built_in(sandbox: Sandbox) -> None:
    fakebin = sandbox.tmp / "fakebin"
    fakebin.mkdir()
    modprobe = fakebin / "modprobe"
    modprobe.write_text("#!/bin/sh\n# TEST DOUBLE: a modprobe that always fails (no modules directory)\nexit 1\n")
    modprobe.chmod(0o755)
    path = f"{fakebin}:{sandbox.env['PATH']}"
    absent = sandbox.bash("ensure_feature br_netfilter", PATH=path)
    assert absent.returncode != 0
    sandbox.hp("/proc/sys/net/bridge").mkdir(parents=True)
    sandbox.hp("/proc/sys/net/bridge/bridge-nf-call-iptables").write_text("1\n")
    built_in = sandbox.bash("ensure_feature br_netfilter", PATH=path)
    assert built_in.returncode == 0, built_in.stderr


@pytest.mark.parametrize("probe", ["ss", "proc"])
def test_port_check_counts_only_listening_sockets(sandbox: Sandbox, probe: str) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listen_port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", listen_port))
    accepted, _ = listener.accept()
    client_port = client.getsockname()[1]
    try:
        snippet = (
            f'echo "L:$(port_listeners {listen_port})"\necho "C:$(port_listeners {client_port})"\n'
            f'echo "X:$(port_conflicts {listen_port} python pytest)"\necho "Y:$(port_conflicts {listen_port} kubelet)"'
        )
        result = sandbox.bash(snippet, SEALOS_PROVIDER_PORT_PROBE=probe)
        assert result.returncode == 0, result.stderr
        out = dict(line.split(":", 1) for line in result.stdout.splitlines())
        assert f"127.0.0.1:{listen_port}" in out["L"] or f"0100007F:{listen_port:04X}" in out["L"]
        assert re.search(r"python|pytest", out["L"]), out["L"]
        assert out["C"] == "", "a connected (not listening) socket is not a conflict"
        assert out["X"] == "", "our own process is not a conflict"
        assert out["Y"] != "", "a foreign listener is a conflict"
    finally:
        for s in (client, accepted, listener):
            s.close()


# ---------------------------------------------------------------------------------------------------------------------
# Whole scripts in the sandbox


def make_docker_tgz(sandbox: Sandbox) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        members = {
            "docker/docker": (DOUBLES / "docker").read_bytes(),
            "docker/dockerd": b"#!/bin/sh\n# TEST DOUBLE: stands for dockerd in the fake docker.tgz\nexit 0\n",
            "docker/containerd": b"#!/bin/sh\nexit 0\n",
            "docker/runc": b"#!/bin/sh\nexit 0\n",
        }
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    sandbox.write("cri/docker.tgz", buf.getvalue())
    sandbox.write("etc/daemon.json", '{\n  "data-root": "/var/lib/docker"\n}\n')
    sandbox.write("etc/docker.service", "[Service]\nExecStart=/usr/bin/dockerd\n")


def test_init_docker_writes_daemon_json_before_first_start_and_is_idempotent(sandbox: Sandbox) -> None:
    make_docker_tgz(sandbox)
    daemon_json = sandbox.hp("/etc/docker/daemon.json")
    daemon_json.parent.mkdir(parents=True)
    daemon_json.write_text('{"users": "own"}\n')
    env = {"criData": "/var/lib/docker", "SYSTEMCTL_DOUBLE_WATCH": str(daemon_json)}

    first = sandbox.run("init-docker.sh", **env)
    assert first.returncode == 0, first.stderr
    log = sandbox.systemctl_log
    assert "restart -- docker.service" in log
    assert log.index(f"watch docker.service {daemon_json} exists") > log.index("restart -- docker.service")
    assert daemon_json.read_text() == '{\n  "data-root": "/var/lib/docker"\n}\n'
    for name in ("docker", "dockerd", "containerd", "runc"):
        assert (sandbox.bin_dir / name).stat().st_mode & 0o777 == 0o755
    assert set(sandbox.records("docker", "created")) >= {str(sandbox.bin_dir / "dockerd"),
                                                         str(sandbox.hp("/etc/systemd/system/docker.service"))}
    assert sandbox.records("docker", "data") == [str(sandbox.hp("/var/lib/docker"))]
    assert str(sandbox.hp("/opt/containerd")) in sandbox.records("docker", "dirs")
    assert sandbox.hp("/var/lib/docker").stat().st_mode & 0o777 == 0o710

    before = len(sandbox.systemctl_log)
    second = sandbox.run("init-docker.sh", **env)
    assert second.returncode == 0, second.stderr
    assert changes(second.stdout) == []
    assert not [line for line in sandbox.systemctl_log[before:] if "restart" in line], "nothing changed: no restart"

    sandbox.write("etc/daemon.json", '{\n  "data-root": "/data/docker"\n}\n')
    third = sandbox.run("init-docker.sh", **env)
    assert third.returncode == 0, third.stderr
    assert "restart -- docker.service" in sandbox.systemctl_log[before:], "daemon.json changed: docker restarts"
    assert "data-root\": \"/data/docker" in daemon_json.read_text()

    (sandbox.hp("/var/lib/docker") / "image").mkdir()
    for plugin_dir in ("bin", "lib"):  # what containerd's first start makes there
        (sandbox.hp("/opt/containerd") / plugin_dir).mkdir()
    clean = sandbox.run("clean-docker.sh", "/var/lib/docker")
    assert clean.returncode == 0, clean.stderr
    assert daemon_json.read_text() == '{"users": "own"}\n', "the user's daemon.json is restored"
    assert not (sandbox.bin_dir / "dockerd").exists()
    assert not sandbox.hp("/etc/systemd/system/docker.service").exists()
    assert not sandbox.hp("/var/lib/docker").exists()
    assert not sandbox.hp("/opt").exists(), "/opt/containerd and the /opt made for it are gone"
    assert not list(sandbox.state.glob("docker.*"))
    again = sandbox.run("clean-docker.sh")
    assert again.returncode == 0, "clean of a clean host is fine"


def test_init_docker_keeps_a_users_docker(sandbox: Sandbox) -> None:
    make_docker_tgz(sandbox)
    user_bin = sandbox.tmp / "user-bin"
    user_bin.mkdir()
    (user_bin / "dockerd").write_text("#!/bin/sh\n# the user's own dockerd\nexit 0\n")
    (user_bin / "dockerd").chmod(0o755)
    existing_data = sandbox.hp("/var/lib/docker")
    existing_data.mkdir(parents=True)
    (existing_data / "volumes").mkdir()
    path = f"{user_bin}:{sandbox.env['PATH']}"
    # the user's docker.service lives in /lib/systemd/system: systemctl knows it, /etc/systemd/system has none
    Path(sandbox.env["SYSTEMCTL_DOUBLE_STATE"]).mkdir(parents=True)
    Path(sandbox.env["SYSTEMCTL_DOUBLE_STATE"], "docker.service.known").touch()
    result = sandbox.run("init-docker.sh", PATH=path)
    assert result.returncode == 0, result.stderr
    assert not (sandbox.bin_dir / "dockerd").exists() and not (sandbox.bin_dir / "containerd").exists()
    assert not sandbox.hp("/etc/systemd/system/docker.service").exists(), "the user's unit is kept"
    assert "restart -- docker.service" in sandbox.systemctl_log, "daemon.json was written: docker restarts"
    assert sandbox.hp("/etc/docker/daemon.json").exists()
    assert (sandbox.state / "docker.user-installed").read_text() == "true\n"
    clean = sandbox.run("clean-docker.sh", PATH=path)
    assert clean.returncode == 0, clean.stderr
    assert (user_bin / "dockerd").exists() and (existing_data / "volumes").is_dir()
    assert not sandbox.hp("/etc/docker/daemon.json").exists()


def prepare_kube(sandbox: Sandbox) -> None:
    for name in ("kubeadm", "kubectl", "kubelet", "conntrack"):
        sandbox.write(f"bin/{name}", f"#!/bin/sh\n# stand-in for {name}\nexit 0\n", 0o755)
    for name in ("kubelet.service", "10-kubeadm.conf", "kubelet-flags.env"):
        sandbox.write(f"etc/{name}", f"# rendered {name}\n")
    shutil.copytree(ROOTFS / "etc" / "sysctl.d", sandbox.rootfs / "etc" / "sysctl.d")
    shutil.copytree(ROOTFS / "etc" / "limits.d", sandbox.rootfs / "etc" / "limits.d")
    sandbox.hp("/etc/hosts").write_text("10.0.0.5 node1")  # no localhost lines, no trailing newline
    sandbox.hp("/etc/security/limits.conf").write_text("# user limits\n")


def test_init_kube_is_idempotent_and_clean_reverts_it(sandbox: Sandbox) -> None:
    prepare_kube(sandbox)
    env = {"registryDomain": "sealos.hub", "registryPort": "5000", "sandboxImage": "pause:3.9"}
    hosts_inode = sandbox.hp("/etc/hosts").stat().st_ino
    first = sandbox.run("init-kube.sh", **env)
    assert first.returncode == 0, first.stderr
    assert "could not pre-pull the sandbox image sealos.hub:5000/pause:3.9" in first.stderr
    assert sandbox.hp("/etc/hosts").read_text() == "10.0.0.5 node1\n127.0.0.1 localhost\n::1 localhost\n"
    assert sandbox.hp("/etc/hosts").stat().st_ino == hosts_inode
    dropin = sandbox.hp("/etc/sysctl.d/99-sealos-provider.conf")
    assert "net.ipv4.ip_forward = 1" in dropin.read_text()
    assert "bridge" not in dropin.read_text(), "keys this kernel lacks are left out"
    for name in ("kubeadm", "kubectl", "kubelet", "conntrack", "kubelet-pre-start.sh", "kubelet-post-stop.sh"):
        assert (sandbox.bin_dir / name).stat().st_mode & 0o777 == 0o755, name
    assert sandbox.hp("/etc/systemd/system/kubelet.service.d/kubelet-flags.env").is_file()
    assert "enable kubelet.service" in sandbox.systemctl_log
    assert not [line for line in sandbox.systemctl_log if line.startswith(("start", "restart"))], "kubeadm starts it"

    snapshot = {p: p.read_bytes() for p in sandbox.host.rglob("*") if p.is_file()}
    second = sandbox.run("init-kube.sh", **env)
    assert second.returncode == 0, second.stderr
    assert changes(second.stdout) == []
    assert {p: p.read_bytes() for p in sandbox.host.rglob("*") if p.is_file()} == snapshot
    assert sandbox.hp("/etc/security/limits.conf").read_text().count("nofile 1048576") == 2

    clean = sandbox.run("clean-kube.sh")
    assert clean.returncode == 0, clean.stderr
    assert sandbox.hp("/etc/security/limits.conf").read_text() == "# user limits\n"
    assert not dropin.exists() and not (sandbox.bin_dir / "kubelet").exists()
    assert not sandbox.hp("/etc/systemd/system/kubelet.service.d").exists()
    assert not sandbox.hp("/var/lib/kubelet").exists()
    assert "127.0.0.1 localhost" in sandbox.hp("/etc/hosts").read_text()


def test_clean_tolerates_a_partial_install_and_a_missing_rootfs_piece(sandbox: Sandbox) -> None:
    (sandbox.rootfs / "scripts" / "clean-shim.sh").unlink()
    result = sandbox.run("clean.sh", "/var/lib/docker", "/var/lib/cri-dockerd")
    assert result.returncode == 0, result.stderr
    assert "clean-shim.sh is missing: skipped" in result.stderr


def test_auth_passes_hostile_credentials_on_stdin_only(sandbox: Sandbox) -> None:
    marker = sandbox.tmp / "pwned"
    password = hostile(marker)
    username = "ad min\"'ü"
    config = Path(sandbox.env["DOCKER_CONFIG"]) / "config.json"
    result = sandbox.run("auth.sh", registryDomain="sealos.hub", registryPort="5000",
                         registryUsername=username, registryPassword=password)
    assert result.returncode == 0, result.stderr
    (argv, stdin), = [c for c in sandbox.docker_calls() if c[0][:1] == [b"login"]]
    assert stdin == password.encode(), "the password reaches docker byte for byte, on stdin"
    assert argv == [b"login", b"--username", username.encode(), b"--password-stdin", b"sealos.hub:5000"]
    assert all(password.encode() not in a for a in argv)
    assert password not in result.stdout + result.stderr
    assert not marker.exists(), "nothing in the value was executed"
    assert sandbox.records("auth", "created") == [str(config)]

    logout = sandbox.run("auth.sh", "logout", registryDomain="sealos.hub", registryPort="5000")
    assert logout.returncode == 0, logout.stderr
    assert not config.exists() and not config.parent.exists(), "login created them, logout removes them"


def test_auth_logout_keeps_a_users_docker_config(sandbox: Sandbox) -> None:
    config = Path(sandbox.env["DOCKER_CONFIG"]) / "config.json"
    config.parent.mkdir(parents=True)
    config.write_text('{"auths": {"example.org": {}}}\n')
    assert sandbox.run("auth.sh", registryUsername="admin", registryPassword="pw").returncode == 0
    assert sandbox.run("auth.sh", "logout").returncode == 0
    assert config.exists()


def test_auth_refuses_an_empty_password(sandbox: Sandbox) -> None:
    result = sandbox.run("auth.sh", registryUsername="admin", registryPassword="")
    assert result.returncode != 0 and "registryPassword is empty" in result.stderr
    assert sandbox.docker_calls() == []


def test_check_reports_a_hostile_registry_data_file_verbatim(sandbox: Sandbox) -> None:
    marker = sandbox.tmp / "pwned"
    name = "/srv/" + hostile(marker).replace("/", "_").replace("\n", "_")
    target = sandbox.hp(name)
    target.parent.mkdir(parents=True)
    target.write_text("not a directory")
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = str(free.getsockname()[1])
    free.close()
    as_file = sandbox.run("check.sh", name, registryPort=port)
    assert as_file.returncode == 1
    assert f'registryData="{name}" is a regular file' in as_file.stderr
    assert not marker.exists()
    target.unlink()
    target.mkdir()
    as_dir = sandbox.run("check.sh", registryPort=port, registryData=name)
    assert "registryData" not in as_dir.stderr, as_dir.stderr
    assert not marker.exists()


def test_check_names_foreign_cri_sockets(sandbox: Sandbox) -> None:
    sock_path = sandbox.hp("/run/crio/crio.sock")
    sock_path.parent.mkdir(parents=True)
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    try:
        result = sandbox.run("check.sh", registryPort="1")
        assert result.returncode == 1
        assert "CRI sockets of other container runtimes exist: /run/crio/crio.sock" in result.stderr
    finally:
        server.close()


def test_check_rejects_containerd_without_docker(sandbox: Sandbox) -> None:
    fakebin = sandbox.tmp / "fakebin"
    fakebin.mkdir()
    (fakebin / "containerd").write_text("#!/bin/sh\nexit 0\n")
    (fakebin / "containerd").chmod(0o755)
    sysbin_only = sandbox.env["PATH"].split(":", 1)[1]  # without the doubles, so no `docker` on PATH
    result = sandbox.run("check.sh", PATH=f"{fakebin}:{sysbin_only}", registryPort="1")
    assert result.returncode == 1
    assert "containerd is installed without docker" in result.stderr

    # the same containerd, recorded as created by our own (interrupted) docker install: not a conflict, so a re-run
    # after a kill mid-install converges instead of refusing the host forever
    state = Path(sandbox.env["SEALOS_PROVIDER_STATE_DIR"])
    state.mkdir(parents=True, exist_ok=True)
    (state / "docker.created").write_text(f"{fakebin / 'containerd'}\n")
    again = sandbox.run("check.sh", PATH=f"{fakebin}:{sysbin_only}", registryPort="1")
    assert "containerd is installed without docker" not in again.stderr, again.stderr


def make_cri_archives(sandbox: Sandbox) -> None:
    for rel, member in (("cri/cri-dockerd.tgz", "cri-dockerd/cri-dockerd"), ("cri/crictl.tar.gz", "crictl")):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            data = f"#!/bin/sh\n# stand-in for {member}\nexit 0\n".encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
        sandbox.write(rel, buf.getvalue())
    for name in ("cri-docker.service", "cri-docker.socket", "crictl.yaml"):
        sandbox.write(f"etc/{name}", f"# rendered {name}\n")


def test_init_cri_dockerd_and_shim_install_wait_for_sockets_and_clean(sandbox: Sandbox) -> None:
    make_cri_archives(sandbox)
    sandbox.write("cri/image-cri-shim", "#!/bin/sh\nexit 0\n", 0o755)
    sandbox.write("etc/image-cri-shim.yaml", 'auth: "admin:s3cret"\n')
    sandbox.write("etc/image-cri-shim.service", "# rendered unit\n")
    cri_sock = "/var/run/cri-dockerd.sock"
    shim_sock = "/var/run/image-cri-shim.sock"
    env = {
        "SEALOS_SYS_CRI_ENDPOINT": cri_sock,
        "SEALOS_SYS_IMAGE_ENDPOINT": shim_sock,
        "criDockerdData": "/var/lib/cri-dockerd",
        "SYSTEMCTL_DOUBLE_SOCKETS": f"cri-docker.socket={sandbox.hp(cri_sock)}:"
                                    f"image-cri-shim.service={sandbox.hp(shim_sock)}",
    }
    # a user's crictl that must survive both install and clean
    (sandbox.bin_dir / "crictl").write_text("#!/bin/sh\n# the user's crictl\n")
    (sandbox.bin_dir / "crictl").chmod(0o755)
    cri = sandbox.run("init-cri-dockerd.sh", **env)
    assert cri.returncode == 0, cri.stderr
    assert "keeping the existing" in cri.stdout and "the user's crictl" in (sandbox.bin_dir / "crictl").read_text()
    assert (sandbox.bin_dir / "cri-dockerd").read_text().startswith("#!/bin/sh\n# stand-in for cri-dockerd")
    assert sandbox.hp("/var/lib/cri-dockerd").is_dir()
    shim = sandbox.run("init-shim.sh", **env)
    assert shim.returncode == 0, shim.stderr
    config = sandbox.hp("/etc/image-cri-shim.yaml")
    assert config.stat().st_mode & 0o777 == 0o600, "the shim config holds the password"
    assert "s3cret" not in shim.stdout + shim.stderr
    assert sandbox.records("shim", "created").count(str(sandbox.hp("/etc/crictl.yaml"))) == 0, "owned by cri-dockerd"

    log_len = len(sandbox.systemctl_log)
    assert sandbox.run("init-cri-dockerd.sh", **env).returncode == 0
    assert sandbox.run("init-shim.sh", **env).returncode == 0
    assert not [line for line in sandbox.systemctl_log[log_len:] if "restart" in line]

    for script in ("clean-shim.sh", "clean-cri-dockerd.sh"):
        result = sandbox.run(script, **env)
        assert result.returncode == 0, result.stderr
    assert not config.exists() and not sandbox.hp("/etc/crictl.yaml").exists()
    assert not (sandbox.bin_dir / "cri-dockerd").exists() and (sandbox.bin_dir / "crictl").exists()
    assert not sandbox.hp("/var/lib/cri-dockerd").exists()
    assert not sandbox.hp(cri_sock).exists() and not sandbox.hp(shim_sock).exists()


class _Registry401(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(401 if self.path == "/v2/" else 404)
        self.send_header("WWW-Authenticate", 'Basic realm="Registry Realm"')
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_init_registry_with_hostile_paths_and_clean(sandbox: Sandbox) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Registry401)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = str(server.server_address[1])
    data = "/srv/reg data $(touch x) 'q\"ü"
    config = "/etc/reg config"
    sandbox.write("images/registry.tar", b"not really a tar: the docker double loads it")
    sandbox.write("etc/registry_config.yml", "version: 0.1\n")
    sandbox.write("etc/registry_htpasswd", "admin:$2b$10$abcdefghijklmnopqrstuu\n")
    sandbox.write("etc/registry.service", (ROOTFS / "etc" / "registry.service").read_text())
    sandbox.write("registry/docker/registry/.gitkeep", "")
    sandbox.write("registry/docker/registry/v2/blobs/sha256/aa/aaaa/data", "from the rootfs")
    sandbox.write("registry/docker/registry/v2/blobs/sha256/bb/bbbb/data", "from the rootfs")
    existing_blob = sandbox.hp(data) / "docker/registry/v2/blobs/sha256/bb/bbbb/data"
    existing_blob.parent.mkdir(parents=True)
    existing_blob.write_text("already in the registry")
    (sandbox.state).mkdir(parents=True, exist_ok=True)
    (Path(sandbox.env["SYSTEMCTL_DOUBLE_STATE"])).mkdir(parents=True, exist_ok=True)
    Path(sandbox.env["SYSTEMCTL_DOUBLE_STATE"], "docker.service.active").touch()
    env = {"registryDomain": "sealos.hub.invalid", "registryPort": port, "DOCKER_DOUBLE_IMAGE": "reg-test:2"}
    try:
        result = sandbox.run("init-registry.sh", data, config, **env)
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr
    assert "probing 127.0.0.1" in result.stderr
    assert any(argv[:2] == [b"load", b"-i"] for argv, _ in sandbox.docker_calls())
    copied = sandbox.hp(data) / "docker/registry/v2/blobs/sha256/aa/aaaa/data"
    assert copied.read_text() == "from the rootfs"
    assert existing_blob.read_text() == "already in the registry", "existing blobs are never overwritten"
    assert not (sandbox.hp(data) / "docker/registry/.gitkeep").exists()
    htpasswd = sandbox.hp(config) / "registry_htpasswd"
    assert htpasswd.stat().st_mode & 0o777 == 0o600
    envfile = sandbox.hp("/etc/default/sealos-registry").read_text()
    assert 'SEALOS_REGISTRY_IMAGE="reg-test:2"' in envfile
    assert 'SEALOS_REGISTRY_DATA="/srv/reg data \\$(touch x) \'q\\"ü"' in envfile
    assert (sandbox.state / "registry.image").read_text() == "reg-test:2\n"
    assert "restart -- registry.service" in sandbox.systemctl_log

    clean = sandbox.run("clean-registry.sh", data, config)
    assert clean.returncode == 0, clean.stderr
    assert any(argv == [b"rmi", b"reg-test:2"] for argv, _ in sandbox.docker_calls())
    assert not htpasswd.exists() and not sandbox.hp(config).exists()
    assert not sandbox.hp("/etc/systemd/system/registry.service").exists()
    assert existing_blob.read_text() == "already in the registry", "a pre-existing registryData stays"
    assert not list(sandbox.state.glob("registry.*"))


def test_init_registry_refuses_bad_values_naming_the_field(sandbox: Sandbox) -> None:
    bad_port = sandbox.run("init-registry.sh", "/var/lib/registry", "/etc/registry", registryPort="50x0")
    assert bad_port.returncode == 1 and 'registryPort="50x0" is not a port' in bad_port.stderr
    colon = sandbox.run("init-registry.sh", "/data/a:b", "/etc/registry")
    assert colon.returncode == 1 and "registryData=\"/data/a:b\" contains ':'" in colon.stderr
    relative = sandbox.run("init-registry.sh", "data", "/etc/registry")
    assert relative.returncode == 1 and "registryData=\"data\" is not an absolute path" in relative.stderr


def _docker_daemon_answers() -> bool:
    docker = shutil.which("docker", path="/usr/bin:/bin:/usr/local/bin")
    return bool(docker) and subprocess.run([docker, "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(not shutil.which("docker-registry"), reason="needs the Debian docker-registry package")
@pytest.mark.skipif(not _docker_daemon_answers(), reason="needs a running docker daemon")
def test_auth_logs_in_to_a_real_registry_with_a_hostile_password(sandbox: Sandbox) -> None:
    """Real docker, real distribution registry on 127.0.0.1: the bcrypt check passes only with the exact bytes."""
    bcrypt = pytest.importorskip("bcrypt")
    marker = sandbox.tmp / "pw"  # the scripts run in sandbox.tmp, so `touch pw` would create it
    password = "a\"b'c $(touch pw) `touch pw`;\n&*! #: ü {{x}}\\ $HOME"
    assert len(password.encode()) <= 72, "bcrypt only hashes 72 bytes"
    username = "admin"
    regdir = sandbox.tmp / "registry"
    regdir.mkdir()
    (regdir / "htpasswd").write_bytes(username.encode() + b":" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)) + b"\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (regdir / "config.yml").write_text(
        "version: 0.1\n"
        f"storage: {{filesystem: {{rootdirectory: {regdir / 'data'}}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n"
        f"auth: {{htpasswd: {{realm: test, path: {regdir / 'htpasswd'}}}}}\n"
    )
    server = subprocess.Popen(["docker-registry", "serve", str(regdir / "config.yml")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    realbin = sandbox.tmp / "realbin"
    realbin.mkdir()
    (realbin / "docker").symlink_to(shutil.which("docker", path="/usr/bin:/bin:/usr/local/bin"))
    sysbin = sandbox.env["PATH"].split(":", 1)[1]
    env = {"PATH": f"{realbin}:{sysbin}", "registryDomain": "127.0.0.1", "registryPort": str(port),
           "registryUsername": username}
    try:
        for _ in range(50):
            with socket.socket() as c:
                if c.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        wrong = sandbox.run("auth.sh", registryPassword=password + "x", **env)
        assert wrong.returncode == 1 and "docker login to 127.0.0.1" in wrong.stderr
        right = sandbox.run("auth.sh", registryPassword=password, **env)
        assert right.returncode == 0, right.stderr
        config = Path(sandbox.env["DOCKER_CONFIG"]) / "config.json"
        assert f"127.0.0.1:{port}" in config.read_text()
        assert not marker.exists()
        logout = sandbox.run("auth.sh", "logout", **env)
        assert logout.returncode == 0, logout.stderr
        assert not config.exists()
    finally:
        server.terminate()
        server.wait(timeout=10)
