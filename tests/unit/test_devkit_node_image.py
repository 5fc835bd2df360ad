"""The node image recipe: content-keyed tag, host apt sources, no baked SSH host keys."""
from __future__ import annotations

import dataclasses
import subprocess

import pytest

from sealos_provider.devkit import node_image as ni


def test_tag_is_keyed_by_the_recipe():
    base = ni.Recipe(sources="deb http://example.invalid/debian bookworm main\n")
    assert base.digest() == ni.Recipe(sources=base.sources).digest()
    more = dataclasses.replace(base, packages=base.packages + ("jq",))
    other_mirror = dataclasses.replace(base, sources="deb http://other.invalid/debian bookworm main\n")
    other_changes = dataclasses.replace(base, changes=('CMD ["/bin/bash"]',))
    digests = {base.digest(), more.digest(), other_mirror.digest(), other_changes.digest()}
    assert len(digests) == 4
    # docker import changes do not invalidate the bootstrapped rootfs tarball
    assert other_changes.rootfs_digest() == base.rootfs_digest()
    assert more.rootfs_digest() != base.rootfs_digest()


def test_recipe_uses_this_machines_debian_sources():
    sources = ni.host_apt_sources()
    assert "debian" in sources
    assert ni.default_recipe().sources == sources


def test_customize_hook_removes_host_keys_and_installs_the_keygen_unit():
    script = ni.Recipe().customize
    assert 'rm -f "$r"/etc/ssh/ssh_host_*' in script
    assert "ssh-keygen -q -t ed25519" in script and "devkit_authorized_keys" in script


@pytest.mark.slow
def test_built_image_has_systemd_init_and_no_host_keys(node_image):
    inspect = subprocess.run(["docker", "image", "inspect", "-f", "{{json .Config.Cmd}} {{.Config.Env}}", node_image],
                             capture_output=True, text=True, check=True).stdout
    assert '["/sbin/init"]' in inspect and "container=docker" in inspect
    assert node_image == ni.image_tag()
    script = (
        "ls /etc/ssh/ssh_host_* 2>/dev/null | wc -l; "
        "for p in sshd iptables conntrack modprobe sudo curl ip ps; do command -v $p; done | wc -l; "
        "ldconfig -p | grep -c -e libdevmapper -e libseccomp -e libtirpc"
    )
    out = subprocess.run(["docker", "run", "--rm", "--entrypoint", "/bin/sh", node_image, "-c", script],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "8", "3"]
