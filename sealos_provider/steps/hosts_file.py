"""Managed /etc/hosts entries: `<address> <name>  # sealos-provider`, edited in place.

In place, because /etc/hosts is often a bind mount (containers, some clouds) where a rename-based `sed -i` fails; and
marked, so removing our entry never touches a line the user wrote for the same name. Our line goes first, because the
resolver takes the first line that names a host: a stale user entry for the registry domain must not win. The entry is written before any
login or pull on the node (sealos #2206: "lookup sealos.hub: no such host").
"""

from __future__ import annotations

import ipaddress
import re
import shlex

MARK = "# sealos-provider"
_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def _validate(address: str, name: str) -> None:
    ipaddress.ip_address(address)  # raises ValueError naming the bad address
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is not a valid host name for /etc/hosts")


def entry_line(address: str, name: str) -> str:
    """The exact line our entry is, as a probe looks for it."""
    return f"{address} {name}  {MARK}"


def ensure_entry_script(address: str, name: str, hosts_file: str = "/etc/hosts") -> str:
    """Bash text making `name` resolve to `address` through our marked line (and only ours); prints `changed` or
    `unchanged`."""
    _validate(address, name)
    f, n, a = shlex.quote(hosts_file), shlex.quote(name), shlex.quote(address)
    mark = shlex.quote(MARK)
    return f"""set -Eeuo pipefail
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
{{ printf '%s %s  %s\\n' {a} {n} {mark}
  awk -v name={n} -v mark={mark} '{{ if (index($0, mark) && $2 == name) next; print }}' {f}; }} > "$tmp"
if cmp -s "$tmp" {f}; then echo unchanged; else cat "$tmp" > {f}; echo changed; fi
"""


def remove_entry_script(name: str, hosts_file: str = "/etc/hosts") -> str:
    """Bash text removing our marked line for `name`, leaving every other line as it was."""
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is not a valid host name for /etc/hosts")
    f, n, mark = shlex.quote(hosts_file), shlex.quote(name), shlex.quote(MARK)
    return f"""set -Eeuo pipefail
[ -f {f} ] || exit 0
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
awk -v name={n} -v mark={mark} '{{ if (index($0, mark) && $2 == name) next; print }}' {f} > "$tmp"
if ! cmp -s "$tmp" {f}; then cat "$tmp" > {f}; echo changed; else echo unchanged; fi
"""
