"""Managed /etc/hosts entries, run under real bash against a temp file (the scripts edit in place)."""

import os
import subprocess

import pytest

from sealos_provider.steps.hosts_file import MARK, ensure_entry_script, remove_entry_script


def run(script: str) -> str:
    return subprocess.run(["bash", "-s"], input=script, text=True, capture_output=True, check=True).stdout.strip()


def test_entry_added_first_idempotent_replaced_and_removed(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n10.0.0.9 sealos.hub\n")
    inode = os.stat(hosts).st_ino

    assert run(ensure_entry_script("172.18.0.2", "sealos.hub", str(hosts))) == "changed"
    lines = hosts.read_text().splitlines()
    assert lines[0] == f"172.18.0.2 sealos.hub  {MARK}"  # first, so it wins over the user's stale line
    assert "10.0.0.9 sealos.hub" in lines  # the user's line is kept

    assert run(ensure_entry_script("172.18.0.2", "sealos.hub", str(hosts))) == "unchanged"
    assert hosts.read_text().count(MARK) == 1

    assert run(ensure_entry_script("172.18.0.3", "sealos.hub", str(hosts))) == "changed"
    assert hosts.read_text().count(MARK) == 1 and "172.18.0.3 sealos.hub" in hosts.read_text()

    assert run(remove_entry_script("sealos.hub", str(hosts))) == "changed"
    assert hosts.read_text() == "127.0.0.1 localhost\n10.0.0.9 sealos.hub\n"
    assert os.stat(hosts).st_ino == inode  # edited in place: bind mounts survive


def test_entries_for_other_names_are_independent(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("")
    run(ensure_entry_script("10.1.1.1", "sealos.hub", str(hosts)))
    run(ensure_entry_script("10.1.1.2", "apiserver.cluster.local", str(hosts)))
    run(remove_entry_script("sealos.hub", str(hosts)))
    assert hosts.read_text() == f"10.1.1.2 apiserver.cluster.local  {MARK}\n"


@pytest.mark.parametrize("address,name", [("not-an-ip", "sealos.hub"), ("10.0.0.1", "bad name;rm -rf /"), ("10.0.0.1", "")])
def test_bad_values_refused_before_any_script(address, name):
    with pytest.raises(ValueError):
        ensure_entry_script(address, name)
