"""Diff rules as data: for each resource, what a change of each input does.

`diff` reads these tables, the README's table is generated from them (`python -m sealos_provider.resources.rules`),
and the tests check both. Keys are dotted input paths (`env.registry_port`, `connection.host`); a key ending in `.*`
covers every sub-key not listed on its own.

Actions:
- `update`: steps re-run in place; each step's probe decides what really runs, so only what the change touches runs;
- `replace`: a new resource is created, then the old one deleted (different host: both can coexist);
- `replace-first-delete`: the old one is deleted first (same host, two copies cannot coexist, e.g. moving data dirs);
- `none`: stored, nothing to do on the host (the value does not reach this resource's files).
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

UPDATE = "update"
REPLACE = "replace"
REPLACE_FIRST_DELETE = "replace-first-delete"
NONE = "none"

_CONNECTION = {
    "connection.host": REPLACE,
    "connection.*": UPDATE,  # port, user, credentials: how we reach the host, not what is on it
}
_COMMON = {
    **_CONNECTION,
    "internal_address": UPDATE,
    "cluster_name": REPLACE_FIRST_DELETE,
    "data_root": REPLACE_FIRST_DELETE,
    "keep_data": UPDATE,
    "image_digest": NONE,  # the per-part `rendered`/`tree_digest` below say precisely what changed
    "rootfs_dir": UPDATE,
    "artifact_cache": UPDATE,
    "arch": REPLACE_FIRST_DELETE,
    "tree_digest": UPDATE,
    "rendered.*": UPDATE,
    "resource_name": NONE,
}

RULES: Mapping[str, Mapping[str, str]] = {
    "RootfsImage": {
        "rootfs_dir": UPDATE,
        "artifact_cache": UPDATE,
        "arch": UPDATE,
        "components.*": UPDATE,
        "digest": UPDATE,
        "resource_name": NONE,
    },
    "ContainerRuntime": {
        **_COMMON,
        "registry_address": UPDATE,
        "cri_dockerd": UPDATE,
        "env.cri_data": REPLACE_FIRST_DELETE,
        "env.cri_dockerd_data": REPLACE_FIRST_DELETE,
        "env.registry_domain": UPDATE,
        "env.registry_port": UPDATE,
        "env.sandbox_image": UPDATE,
        "env.registry_username": NONE,
        "env.registry_password": NONE,
        "env.*": UPDATE,
    },
    "Registry": {
        **_COMMON,
        # The host's runtime was replaced (e.g. a new cri_data): the registry's data and config did not move, so it
        # is updated in place (its steps re-run what the new Docker lacks: the image load, the unit), never
        # replaced, which would run clean-registry and take the pushed images with it.
        "runtime_id": UPDATE,
        "env.registry_data": REPLACE_FIRST_DELETE,
        "env.registry_config": REPLACE_FIRST_DELETE,
        "env.registry_domain": UPDATE,
        "env.registry_port": UPDATE,
        "env.registry_username": UPDATE,
        "env.registry_password": UPDATE,
        "env.*": UPDATE,
    },
    "KubeNode": {
        **_COMMON,
        "role": REPLACE_FIRST_DELETE,
        "first": REPLACE_FIRST_DELETE,
        "node_name": REPLACE_FIRST_DELETE,
        "kubeadm.*": REPLACE_FIRST_DELETE,
        "registry_endpoint": UPDATE,
        "apiserver_address": UPDATE,
        "join.*": NONE,  # a joined node stays joined when the first control plane's token changes
        "env.cri_data": REPLACE_FIRST_DELETE,
        "env.registry_domain": UPDATE,
        "env.registry_port": UPDATE,
        "env.registry_username": UPDATE,
        "env.registry_password": UPDATE,
        "env.*": UPDATE,
    },
}


def action_for(resource: str, path: str) -> str:
    table = RULES[resource]
    if path in table:
        return table[path]
    head = path
    while "." in head:
        head = head.rsplit(".", 1)[0]
        if head + ".*" in table:
            return table[head + ".*"]
    return table.get(path.split(".", 1)[0] + ".*", UPDATE)


def normalise(value: Any) -> Any:
    """Make old outputs and new inputs comparable: ints come back from the engine as floats, tuples as lists."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, (list, tuple)):
        return [normalise(v) for v in value]
    if isinstance(value, Mapping):
        return {k: normalise(v) for k, v in value.items()}
    return value


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted paths to leaf values; lists are leaves (their order matters as a whole)."""
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for key, sub in value.items():
            out.update(flatten(sub, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: normalise(value)} if prefix else {}


def changed_paths(olds: Mapping[str, Any], news: Mapping[str, Any], keys: Iterable[str]) -> list[str]:
    """Dotted paths under `keys` whose value differs between old outputs and new inputs."""
    old_flat = flatten({k: olds.get(k) for k in keys if k in olds})
    new_flat = flatten({k: news.get(k) for k in keys if k in news})
    return sorted(p for p in set(old_flat) | set(new_flat) if old_flat.get(p) != new_flat.get(p))


def markdown_table() -> str:
    """The README's table: one row per (resource, input) rule."""
    rows = ["| resource | input | on change |", "|---|---|---|"]
    words = {
        UPDATE: "update in place",
        REPLACE: "replace (create new, then delete old)",
        REPLACE_FIRST_DELETE: "replace, deleting first",
        NONE: "no host change",
    }
    for resource, table in RULES.items():
        for key, action in table.items():
            if key in ("resource_name",):
                continue
            rows.append(f"| {resource} | `{key}` | {words[action]} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # pragma: no cover - documentation helper
    print(markdown_table(), end="")
