"""htpasswd lines: bcrypt that Apache's htpasswd (and so the distribution registry) accepts, deterministic per
credentials, different when the password changes."""

import shutil
import subprocess

import pytest

from sealos_provider.steps.htpasswd import htpasswd_line, verify

HOSTILE = "p\"a'ss:#\\$w{{0}} *&!ü"


@pytest.mark.parametrize("password", ["passw0rd", HOSTILE])
def test_line_verifies_and_is_stable(password):
    line = htpasswd_line("admin", password)
    assert line.startswith(b"admin:$2a$10$") and line.endswith(b"\n")
    assert line == htpasswd_line("admin", password)
    assert verify(line, "admin", password)
    assert not verify(line, "admin", password + "x")
    assert htpasswd_line("admin", password + "x") != line


@pytest.mark.skipif(shutil.which("htpasswd") is None, reason="apache2-utils not installed")
def test_apache_htpasswd_accepts_our_line(tmp_path):
    f = tmp_path / "htpasswd"
    f.write_bytes(htpasswd_line("admin", HOSTILE))
    ok = subprocess.run(["htpasswd", "-v", "-i", str(f), "admin"], input=HOSTILE, text=True, capture_output=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(["htpasswd", "-v", "-i", str(f), "admin"], input="wrong", text=True, capture_output=True)
    assert bad.returncode != 0


@pytest.mark.parametrize("user", ["", "ad:min"])
def test_bad_username_refused(user):
    with pytest.raises(ValueError):
        htpasswd_line(user, "x")
