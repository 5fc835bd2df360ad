"""What the end-to-end tests read off the nodes: HTTP answers, SSH logins, the doubles' invocation log."""

from __future__ import annotations

import base64
import json
import time

DOUBLES_LOG = "/var/log/sealos-provider-doubles.log"


def wait_until(probe, seconds: float) -> bool:
    """Poll ``probe`` once a second until it is true or ``seconds`` have passed; its last answer."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if probe():
            return True
        time.sleep(1)
    return probe()


def ssh_accepts(node) -> int:
    """How many SSH logins sshd has accepted on this node: proves an operation opened no connection."""
    out = node.exec("journalctl -u ssh -u sshd --no-pager -o cat 2>/dev/null | grep -c 'Accepted publickey' || true").stdout
    return int(out.strip() or 0)


def curl_status(node, url: str, user: str | None = None, password: str | None = None) -> str:
    """HTTP status from inside a node; credentials go to curl's config on stdin (no argv)."""
    if user is None:
        return node.exec(f"curl -s -o /dev/null -w '%{{http_code}}' {url}").stdout.strip()
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    cfg = f'header = "Authorization: Basic {token}"\n'
    return node.exec(f"curl -s -o /dev/null -w '%{{http_code}}' -K - {url}", input=cfg).stdout.strip()


def kubeadm_calls(node) -> list[dict]:
    """Every invocation of the kubeadm double on ``node``, in order (argv and time, from the doubles' log)."""
    lines = [json.loads(line) for line in node.exec(f"cat {DOUBLES_LOG}").stdout.splitlines() if line.strip()]
    return [call for call in lines if call.get("double") == "kubeadm-double"]
