"""The node image: a Debian bookworm rootfs with systemd as PID 1 and sshd, built locally with mmdebstrap.

No image registry is reachable here, so the image is bootstrapped from Debian packages (through this machine's own apt
sources) and brought into Docker with ``docker import``. The tag carries a hash of the recipe: changing the package
list, the hooks or the apt sources builds a new image; otherwise the cached tarball or the existing tag is reused.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .debian_bins import ensure_packages
from .paths import cache_lock, cache_root
from .proc import DevkitError, run

IMAGE_REPO = "sealos-provider-node"
RECIPE_VERSION = 1  # bump when this module changes how the rootfs is made in a way the fields below do not capture

# Why each group is here: systemd/dbus run the node like a host; openssh-server is the provider's only way in;
# iptables/conntrack/kmod/iproute2/procps/sudo/curl/ca-certificates are what the rootfs scripts and kubeadm preflight
# call; the libraries are what Debian's dockerd (libdevmapper, libsystemd, libcap ...), runc (libseccomp) and the
# lsof slot binary (libtirpc) load, since the runtime itself arrives later from cri/docker.tgz (ldd-checked).
PACKAGES: tuple[str, ...] = (
    "systemd", "systemd-sysv", "dbus", "openssh-server", "iptables", "conntrack", "kmod", "sudo", "curl",
    "ca-certificates", "iproute2", "procps", "iputils-ping", "less", "xz-utils", "gzip", "tar", "util-linux",
    "libdevmapper1.02.1", "libseccomp2", "libsystemd0", "libcap2", "libgcrypt20", "liblz4-1", "libzstd1",
    "liblzma5", "libselinux1", "libudev1", "libtirpc3", "libgssapi-krb5-2", "libnetfilter-conntrack3", "libmnl0",
)

SSHD_CONFIG = """\
# devkit: every node accepts the generated key for any user through this file (bind-mounted per node set)
AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/devkit_authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication yes
UseDNS no
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_ecdsa_key
MaxStartups 100:30:200
MaxSessions 100
"""

HOSTKEY_UNIT = """\
[Unit]
Description=Generate per-node SSH host keys (the image ships none, so every node has its own)
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
# ed25519 + ecdsa only: an RSA-3072 key costs seconds per boot on 2 cores, and every client used here speaks ed25519
ExecStart=/usr/bin/ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key
ExecStart=/usr/bin/ssh-keygen -q -t ecdsa -N "" -f /etc/ssh/ssh_host_ecdsa_key

[Install]
WantedBy=multi-user.target
"""

# Non-root users for sudo tests: "ops" has passwordless sudo, "opspw" needs its password for sudo.
SUDO_USERS = {"ops": "ops ALL=(ALL) NOPASSWD:ALL\n", "opspw": "opspw ALL=(ALL) ALL\n"}
OPSPW_PASSWORD = "opspw-devkit-password"  # a throw-away password of a test-only user on test-only containers

MASKED_UNITS = (
    "getty.target", "console-getty.service", "systemd-udevd.service", "systemd-udev-trigger.service",
    "systemd-modules-load.service", "sys-kernel-config.mount", "sys-kernel-debug.mount", "sys-kernel-tracing.mount",
    "systemd-remount-fs.service", "systemd-firstboot.service", "apt-daily.timer", "apt-daily-upgrade.timer",
    "e2scrub_all.timer", "fstrim.timer", "systemd-networkd-wait-online.service",
)


def _customize_script() -> str:
    """The shell run by mmdebstrap's customize hook with the rootfs as $1."""
    lines = [
        "set -eu",
        'r="$1"',
        'rm -f "$r"/etc/ssh/ssh_host_*',
        f"cat > \"$r/etc/ssh/sshd_config.d/devkit.conf\" <<'EOF_SSHD'\n{SSHD_CONFIG}EOF_SSHD",
        f"cat > \"$r/etc/systemd/system/devkit-ssh-hostkeys.service\" <<'EOF_UNIT'\n{HOSTKEY_UNIT}EOF_UNIT",
        'ln -sf /etc/systemd/system/devkit-ssh-hostkeys.service '
        '"$r/etc/systemd/system/multi-user.target.wants/devkit-ssh-hostkeys.service"',
        'touch "$r/etc/ssh/devkit_authorized_keys"',
        'printf "" > "$r/etc/machine-id"',
        'printf "" > "$r/etc/hostname"',
    ]
    for unit in MASKED_UNITS:
        lines.append(f'ln -sf /dev/null "$r/etc/systemd/system/{unit}"')
    for user, rule in SUDO_USERS.items():
        lines.append(f'chroot "$r" useradd --create-home --shell /bin/bash {user}')
        lines.append(f"printf '%s' '{rule}' > \"$r/etc/sudoers.d/{user}\" && chmod 0440 \"$r/etc/sudoers.d/{user}\"")
    lines.append(f"echo 'opspw:{OPSPW_PASSWORD}' | chroot \"$r\" chpasswd")
    lines.append('chroot "$r" passwd -d root >/dev/null || true')
    lines.append('rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/usr/share/doc/* "$r"/usr/share/man/*')
    return "\n".join(lines) + "\n"


# docker import (engine 20.10) accepts no STOPSIGNAL change: nodes are run with --stop-signal SIGRTMIN+3 instead.
DOCKER_CHANGES = (
    'CMD ["/sbin/init"]',
    "ENV container=docker",
)
STOP_SIGNAL = "SIGRTMIN+3"  # what systemd as PID 1 takes as "shut down cleanly"


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the image's content; its hash is the image tag."""

    suite: str = "bookworm"
    variant: str = "minbase"
    packages: tuple[str, ...] = PACKAGES
    customize: str = field(default_factory=_customize_script)
    changes: tuple[str, ...] = DOCKER_CHANGES
    sources: str = ""

    def rootfs_digest(self) -> str:
        """Hash of what decides the rootfs tarball (everything but the docker import changes)."""
        fields = {k: v for k, v in self.__dict__.items() if k != "changes"}
        blob = json.dumps({"v": RECIPE_VERSION, **fields}, sort_keys=True, default=list).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def digest(self) -> str:
        """Hash of the whole recipe: the image tag."""
        blob = json.dumps([self.rootfs_digest(), list(self.changes)]).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def host_apt_sources() -> str:
    """This machine's Debian apt sources (deb822 or one-line form), so mmdebstrap uses the same mirror config."""
    parts: list[str] = []
    legacy = Path("/etc/apt/sources.list")
    if legacy.is_file() and legacy.read_text().strip():
        parts.append(legacy.read_text())
    d = Path("/etc/apt/sources.list.d")
    if d.is_dir():
        for f in sorted(d.iterdir()):
            if f.suffix in (".list", ".sources") and f.is_file():
                text = f.read_text()
                if "debian" in text:
                    parts.append(text)
    if not parts:
        raise DevkitError("no Debian apt sources in /etc/apt: add a bookworm entry (sources.list or a .sources file)")
    return "\n".join(parts)


def default_recipe() -> Recipe:
    """The recipe used by the tests and the demo."""
    return Recipe(sources=host_apt_sources())


def image_tag(recipe: Recipe | None = None) -> str:
    """The docker tag for ``recipe``: ``sealos-provider-node:<hash>``."""
    return f"{IMAGE_REPO}:{(recipe or default_recipe()).digest()}"


def _image_exists(tag: str) -> bool:
    return run(["docker", "image", "inspect", tag], check=False).returncode == 0


def _bootstrap(recipe: Recipe, tarball: Path) -> None:
    """mmdebstrap the rootfs straight into ``tarball`` (atomic: written beside it, then renamed)."""
    if shutil.which("mmdebstrap") is None:
        ensure_packages(["mmdebstrap"])
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="node-image-") as tmp:
        hook = Path(tmp) / "customize.sh"
        hook.write_text(recipe.customize)
        hook.chmod(0o755)
        ext = ".sources" if "Types:" in recipe.sources else ".list"
        sources = Path(tmp) / f"host{ext}"
        sources.write_text(recipe.sources)
        partial = tarball.with_suffix(".partial.tar")
        run(
            [
                "mmdebstrap", f"--variant={recipe.variant}", "--format=tar",
                f"--include={','.join(recipe.packages)}",
                f"--customize-hook={hook} \"$1\"",
                recipe.suite, str(partial), str(sources),
            ],
            timeout=1800,
        )
        partial.replace(tarball)


def ensure_node_image(recipe: Recipe | None = None, log=print) -> str:
    """Return the tag of a node image built from ``recipe``; build or import only what is missing."""
    recipe = recipe or default_recipe()
    tag = image_tag(recipe)
    if _image_exists(tag):
        return tag
    with cache_lock("node-image"):
        if _image_exists(tag):  # built by a parallel run while we waited
            return tag
        _build(recipe, tag, log)
    return tag


def _build(recipe: Recipe, tag: str, log) -> None:
    tarball = cache_root() / "node-image" / f"{recipe.rootfs_digest()}.tar"
    if not tarball.exists():
        log(f"node image: bootstrapping {recipe.suite} with mmdebstrap into {tarball}")
        _bootstrap(recipe, tarball)
    log(f"node image: docker import {tarball.name} as {tag}")
    argv = ["docker", "import"]
    for change in recipe.changes:
        argv += ["--change", change]
    run(argv + [str(tarball), tag], timeout=600)
    _prune(recipe, tag)


def _prune(recipe: Recipe, keep_tag: str) -> None:
    """Drop tarballs and image tags of older recipes (an image still used by a container stays: rmi refuses)."""
    for old in (cache_root() / "node-image").glob("*.tar"):
        if old.stem != recipe.rootfs_digest():
            old.unlink(missing_ok=True)
    tags = run(["docker", "image", "ls", IMAGE_REPO, "--format", "{{.Repository}}:{{.Tag}}"], check=False).stdout
    for old_tag in tags.split():
        if old_tag != keep_tag:
            run(["docker", "rmi", old_tag], check=False)
