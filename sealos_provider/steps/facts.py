"""Host facts, gathered in one round trip (after pyinfra's facts): file digests, unit states, paths, HTTP answers.

Probes and `read` ask questions of a `Facts` object instead of running commands one by one. The gathering script is
plain POSIX-ish bash sent on stdin; its answers come back one per line, tab-separated, so paths with spaces survive.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Iterable, Optional


@dataclass(frozen=True)
class FactQuery:
    """What to ask a host. Sets of strings, so queries from several steps merge cleanly."""

    files: frozenset[str] = frozenset()  # sha256 of each (or absent)
    units: frozenset[str] = frozenset()  # systemctl is-active / is-enabled
    paths: frozenset[str] = frozenset()  # exists?
    urls: frozenset[str] = frozenset()  # HTTP status of a GET without credentials
    containers: frozenset[str] = frozenset()  # docker container running?
    lines: frozenset[tuple[str, str]] = frozenset()  # (file, exact line): present?
    records: frozenset[str] = frozenset()  # install records (<state>/<component>.created): which listed paths are gone?

    def merge(self, other: "FactQuery") -> "FactQuery":
        return FactQuery(
            self.files | other.files,
            self.units | other.units,
            self.paths | other.paths,
            self.urls | other.urls,
            self.containers | other.containers,
            self.lines | other.lines,
            self.records | other.records,
        )


def query(
    files: Iterable[str] = (),
    units: Iterable[str] = (),
    paths: Iterable[str] = (),
    urls: Iterable[str] = (),
    containers: Iterable[str] = (),
    lines: Iterable[tuple[str, str]] = (),
    records: Iterable[str] = (),
) -> FactQuery:
    return FactQuery(
        frozenset(files),
        frozenset(units),
        frozenset(paths),
        frozenset(urls),
        frozenset(containers),
        frozenset(lines),
        frozenset(records),
    )


@dataclass
class Facts:
    """Answers from one host. Missing answers mean "not asked", which probes treat as "not done"."""

    file_sha256: dict[str, Optional[str]] = field(default_factory=dict)
    unit_active: dict[str, str] = field(default_factory=dict)
    unit_enabled: dict[str, str] = field(default_factory=dict)
    path_exists: dict[str, bool] = field(default_factory=dict)
    url_status: dict[str, int] = field(default_factory=dict)
    container_running: dict[str, bool] = field(default_factory=dict)
    line_present: dict[tuple[str, str], bool] = field(default_factory=dict)
    missing_recorded: dict[str, list[str]] = field(default_factory=dict)  # record file -> its paths that are gone

    def active(self, unit: str) -> bool:
        return self.unit_active.get(unit) == "active"

    def in_service(self, unit: str) -> bool:
        """Running now and set to start at boot (a unit someone disabled would not come back after a reboot)."""
        return self.active(unit) and self.unit_enabled.get(unit) not in ("disabled", "masked")

    def gone(self, record: str) -> list[str]:
        """Paths an install recorded as created that no longer exist (a binary someone removed, say)."""
        return self.missing_recorded.get(record, [])

    def sha(self, path: str) -> Optional[str]:
        return self.file_sha256.get(path)

    def exists(self, path: str) -> bool:
        return self.path_exists.get(path, False)


def gather_script(q: FactQuery) -> str:
    """The bash text that answers `q`; each answer is one tab-separated line."""
    lines = ["set -u", "export LC_ALL=C"]
    for path in sorted(q.files):
        p = shlex.quote(path)
        lines.append(
            f"if [ -f {p} ]; then printf 'file\\t%s\\t%s\\n' {p} \"$(sha256sum < {p} | cut -d' ' -f1)\"; "
            f"else printf 'file\\t%s\\t-\\n' {p}; fi"
        )
    for unit in sorted(q.units):
        u = shlex.quote(unit)
        lines.append(
            f"printf 'unit\\t%s\\t%s\\t%s\\n' {u} \"$(systemctl is-active {u} 2>/dev/null || true)\" "
            f"\"$(systemctl is-enabled {u} 2>/dev/null || true)\""
        )
    for path in sorted(q.paths):
        p = shlex.quote(path)
        lines.append(f"if [ -e {p} ] || [ -L {p} ]; then printf 'path\\t%s\\t1\\n' {p}; else printf 'path\\t%s\\t0\\n' {p}; fi")
    for url in sorted(q.urls):
        u = shlex.quote(url)
        lines.append(
            f"printf 'url\\t%s\\t%s\\n' {u} \"$(curl -s -o /dev/null -m 5 -w '%{{http_code}}' {u} 2>/dev/null || true)\""
        )
    for name in sorted(q.containers):
        n = shlex.quote(name)
        lines.append(
            f"printf 'container\\t%s\\t%s\\n' {n} "
            f"\"$(docker inspect -f '{{{{.State.Running}}}}' {n} 2>/dev/null || echo false)\""
        )
    for i, (path, text) in enumerate(sorted(q.lines)):
        p, t = shlex.quote(path), shlex.quote(text)
        lines.append(f"if grep -qxF -- {t} {p} 2>/dev/null; then printf 'line\\t{i}\\t1\\n'; else printf 'line\\t{i}\\t0\\n'; fi")
    for record in sorted(q.records):
        r = shlex.quote(record)
        lines.append(
            f"printf 'record\\t%s\\n' {r}; if [ -f {r} ]; then while IFS= read -r p; do "
            f"if [ -n \"$p\" ] && [ ! -e \"$p\" ] && [ ! -L \"$p\" ]; then printf 'gone\\t%s\\t%s\\n' {r} \"$p\"; fi; "
            f"done < {r}; fi"
        )
    lines.append("exit 0")
    return "\n".join(lines) + "\n"


def parse_facts(output: str, q: FactQuery | None = None) -> Facts:
    facts = Facts()
    asked_lines = sorted(q.lines) if q is not None else []
    for raw in output.splitlines():
        parts = raw.split("\t")
        kind = parts[0]
        if kind == "file" and len(parts) == 3:
            facts.file_sha256[parts[1]] = None if parts[2] == "-" else parts[2]
        elif kind == "unit" and len(parts) == 4:
            facts.unit_active[parts[1]] = parts[2]
            facts.unit_enabled[parts[1]] = parts[3]
        elif kind == "path" and len(parts) == 3:
            facts.path_exists[parts[1]] = parts[2] == "1"
        elif kind == "url" and len(parts) == 3:
            facts.url_status[parts[1]] = int(parts[2]) if parts[2].isdigit() else 0
        elif kind == "line" and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(asked_lines):
            facts.line_present[asked_lines[int(parts[1])]] = parts[2] == "1"
        elif kind == "container" and len(parts) == 3:
            facts.container_running[parts[1]] = parts[2].strip() == "true"
        elif kind == "record" and len(parts) == 2:
            facts.missing_recorded.setdefault(parts[1], [])
        elif kind == "gone" and len(parts) == 3:
            facts.missing_recorded.setdefault(parts[1], []).append(parts[2])
    return facts
