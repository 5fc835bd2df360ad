"""Diff rules as data: the provider's diff follows the table, compares old outputs with new inputs after normalising
numbers, and never needs a host (diff opens no connection: there is no session in this test at all)."""

import pytest

from sealos_provider.resources import rules
from sealos_provider.resources.container_runtime import ContainerRuntimeProvider
from sealos_provider.resources.kube_node import KubeNodeProvider
from sealos_provider.resources.registry import RegistryProvider

BASE = {
    "resource_name": "runtime-a",
    "connection": {"host": "10.0.0.1", "port": 22, "user": "root", "private_key": "KEY"},
    "internal_address": "10.0.0.1",
    "rootfs_dir": "/src/rootfs",
    "arch": "amd64",
    "cluster_name": "default",
    "data_root": "/var/lib/sealos",
    "env": {"registry_password": "old", "registry_port": 5000},
    "keep_data": False,
    "rendered": {"etc/daemon.json": "aaa"},
    "tree_digest": "sha256:1",
    "registry_address": "10.0.0.1",
}


def outputs(**over):
    """Old outputs as the engine hands them to diff: numbers are floats, computed outputs present."""
    out = {**BASE, "host_key": "ssh-ed25519 AAAA", "drift": [], "last_run": {"ran": []}}
    out["connection"] = {**BASE["connection"], "port": 22.0}
    out["env"] = {**BASE["env"], "registry_port": 5000.0}
    out.update(over)
    return out


def test_no_change_is_no_diff_despite_float_numbers():
    result = ContainerRuntimeProvider().diff("id", outputs(), dict(BASE))
    assert result.changes is False


@pytest.mark.parametrize(
    "change,replaces,first_delete",
    [
        ({"env": {**BASE["env"], "registry_port": 5443}}, [], False),
        ({"env": {**BASE["env"], "cri_data": "/data/docker"}}, ["env"], True),
        ({"connection": {**BASE["connection"], "host": "10.0.0.2"}}, ["connection"], False),
        ({"connection": {**BASE["connection"], "port": 2222}}, [], False),
        ({"rendered": {"etc/daemon.json": "bbb"}}, [], False),
        ({"cluster_name": "other"}, ["cluster_name"], True),
    ],
)
def test_runtime_changes_follow_the_table(change, replaces, first_delete):
    result = ContainerRuntimeProvider().diff("id", outputs(), {**BASE, **change})
    assert result.changes is True
    assert result.replaces == replaces
    assert bool(result.delete_before_replace) == first_delete


def test_password_change_is_nothing_for_the_runtime_but_an_update_for_registry_and_nodes():
    news = {**BASE, "env": {**BASE["env"], "registry_password": "new"}}
    assert ContainerRuntimeProvider().diff("id", outputs(), news).changes is False
    for provider in (RegistryProvider(), KubeNodeProvider()):
        result = provider.diff("id", outputs(), news)
        assert result.changes is True and result.replaces == []


def test_drift_found_by_refresh_makes_the_next_up_an_update():
    result = ContainerRuntimeProvider().diff("id", outputs(drift=["/etc/docker/daemon.json differs"]), dict(BASE))
    assert result.changes is True and result.replaces == []


def test_action_lookup_uses_wildcards():
    assert rules.action_for("ContainerRuntime", "connection.private_key") == rules.UPDATE
    assert rules.action_for("ContainerRuntime", "connection.host") == rules.REPLACE
    assert rules.action_for("Registry", "env.registry_data") == rules.REPLACE_FIRST_DELETE
    assert rules.action_for("KubeNode", "join.token") == rules.NONE


def test_readme_table_is_generated_from_the_rules():
    readme = open("README.md", encoding="utf-8").read()
    assert rules.markdown_table() in readme, "README's diff table is stale: run `make rules-table` and paste it"


def test_readme_env_table_is_generated_from_env_fields():
    from sealos_provider.image.env import markdown_table as env_table

    readme = open("README.md", encoding="utf-8").read()
    assert env_table() in readme, "README's env table is stale: regenerate it from sealos_provider.image.env.markdown_table"
