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


def test_records_report_the_recorded_paths_that_are_gone(tmp_path):
    present = tmp_path / "bin" / "dockerd"
    present.parent.mkdir()
    present.write_text("x")
    link = tmp_path / "bin" / "docker"
    link.symlink_to(tmp_path / "nowhere")  # a dangling symlink is still there
    record = tmp_path / "state" / "docker.created"
    record.parent.mkdir()
    record.write_text(f"{present}\n{link}\n{tmp_path}/bin/runc\n\n{tmp_path}/with space/ctr\n")
    never = tmp_path / "state" / "kube.created"  # not installed (yet): nothing is gone
    q = query(records=[str(record), str(never)])
    out = subprocess.run(["bash", "-c", gather_script(q)], capture_output=True, text=True, check=True).stdout
    facts = parse_facts(out, q)
    assert facts.gone(str(record)) == [f"{tmp_path}/bin/runc", f"{tmp_path}/with space/ctr"]
    assert facts.gone(str(never)) == [] and str(never) in facts.missing_recorded


def test_in_service_needs_active_and_not_disabled():
    facts = parse_facts(
        "unit\ta.service\tactive\tenabled\nunit\tb.service\tactive\tdisabled\nunit\tc.service\tinactive\tenabled\n"
        "unit\td.service\tactive\tstatic\n"
    )
    assert [facts.in_service(u) for u in ("a.service", "b.service", "c.service", "d.service")] == [True, False, False, True]
