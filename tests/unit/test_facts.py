"""Host facts gathered in one bash round trip and parsed back; run here under real bash against temp files."""

import hashlib
import subprocess

from sealos_provider.steps.facts import gather_script, parse_facts, query


def gather(q):
    out = subprocess.run(["bash", "-s"], input=gather_script(q), text=True, capture_output=True, check=True).stdout
    return parse_facts(out, q)


def test_files_paths_lines_and_units(tmp_path):
    f = tmp_path / "odd name's \"file\".conf"
    f.write_bytes(b"content\n")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n10.0.0.1 sealos.hub  # sealos-provider\n")
    q = query(
        files=[str(f), str(tmp_path / "missing")],
        paths=[str(tmp_path), str(tmp_path / "missing")],
        lines=[(str(hosts), "10.0.0.1 sealos.hub  # sealos-provider"), (str(hosts), "10.0.0.1 sealos.hub")],
        units=["surely-not-a-unit-here.service"],
    )
    facts = gather(q)
    assert facts.sha(str(f)) == hashlib.sha256(b"content\n").hexdigest()
    assert facts.sha(str(tmp_path / "missing")) is None
    assert facts.exists(str(tmp_path)) and not facts.exists(str(tmp_path / "missing"))
    assert facts.line_present[(str(hosts), "10.0.0.1 sealos.hub  # sealos-provider")] is True
    assert facts.line_present[(str(hosts), "10.0.0.1 sealos.hub")] is False  # whole lines only
    assert not facts.active("surely-not-a-unit-here.service")
