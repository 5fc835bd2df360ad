"""Benchmark of the SSH layer's file transfer (figures, not pass/fail).

Starts its own OpenSSH sshd on 127.0.0.1 (root, a throwaway host key and client key in a temp dir), generates a
tree of about 200 MB in 2,000 files (half the bytes random like binaries, half compressible text like configs and
scripts), and prints one table:

- ceiling: raw paramiko channel throughput on the same link (200 MB from memory into `cat >/dev/null`), with the
  transport settings the session uses and, for comparison, paramiko's defaults;
- baseline: OpenSSH `tar c | ssh tar x` of the same tree, in the same run;
- push_tree first push (into an empty directory), re-push of the unchanged tree, re-push after changing one 1 MB
  file: time, bytes sent, and the ratios the issue asks for.

Run as root: `.venv/bin/python benchmarks/ssh_push.py [--size-mb 200] [--files 2000]`.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import paramiko

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sealos_provider.filetree import scan_dir  # noqa: E402
from sealos_provider.remote import dial  # noqa: E402
from sealos_provider.remote.session import open_session  # noqa: E402

WORDS = (
    "apiVersion kind metadata name namespace spec containers image registry port path mount volume "
    "kubelet cgroupDriver systemd docker cri socket address token certificate endpoint timeout "
    "enable disable true false server client config level info debug warn"
).split()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sshd(root: Path) -> tuple[subprocess.Popen, int]:
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "host_key")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "id")], check=True)
    (root / "authorized_keys").write_text((root / "id.pub").read_text())
    port = free_port()
    cfg = root / "sshd_config"
    cfg.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {root}/host_key\nPidFile {root}/sshd.pid\n"
        f"UsePAM no\nStrictModes no\nPermitRootLogin yes\nAuthorizedKeysFile {root}/authorized_keys\n"
    )
    subprocess.run(["/usr/sbin/sshd", "-t", "-f", str(cfg)], check=True)
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-f", str(cfg), "-E", str(root / "sshd.log")])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, port


def make_tree(root: Path, total_mb: int, files: int, rng: random.Random) -> Path:
    """`files` files totalling `total_mb` MB: even-numbered files random bytes, odd ones config-like text; one
    file is exactly 1 MiB (the one the third measurement changes)."""
    per_file = total_mb * 1024 * 1024 // files
    tree = root / "tree"
    for i in range(files):
        d = tree / f"d{i % 40:02d}" / f"s{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        size = 1024 * 1024 if i == 1 else max(1, int(per_file * rng.uniform(0.5, 1.5)))
        path = d / (f"bin{i}" if i % 2 == 0 else f"conf{i}.yaml")
        if i % 2 == 0:
            path.write_bytes(os.urandom(size))
        else:
            lines = []
            length = 0
            while length < size:
                line = f"{rng.choice(WORDS)}: {rng.choice(WORDS)}-{rng.randrange(10000)} # {' '.join(rng.choices(WORDS, k=4))}\n"
                lines.append(line)
                length += len(line)
            path.write_text("".join(lines)[:size])
        if i % 10 == 0:
            path.chmod(0o755)
    return tree


def paramiko_ceiling(port: int, key: paramiko.PKey, total: int, *, tuned: bool) -> float:
    """Seconds to push `total` bytes through one exec channel into `cat >/dev/null`."""
    sock = socket.create_connection(("127.0.0.1", port))
    if tuned:
        t = paramiko.Transport(sock, default_window_size=dial.WINDOW_SIZE, default_max_packet_size=dial.MAX_PACKET)
        opts = t.get_security_options()
        opts.ciphers = tuple(c for c in dial.PREFERRED_CIPHERS if c in opts.ciphers) + tuple(
            c for c in opts.ciphers if c not in dial.PREFERRED_CIPHERS
        )
    else:
        t = paramiko.Transport(sock)
    t.start_client(timeout=10)
    t.auth_publickey("root", key)
    chan = t.open_session()
    chan.exec_command("cat > /dev/null")
    block = os.urandom(1 << 20)
    started = time.monotonic()
    sent = 0
    while sent < total:
        chan.sendall(block)
        sent += len(block)
    chan.shutdown_write()
    chan.recv_exit_status()
    elapsed = time.monotonic() - started
    t.close()
    return elapsed


def fresh_disk(*trees: Path) -> None:
    """Remove earlier copies and flush dirty pages, so the next timed transfer starts from a quiet disk."""
    for tree in trees:
        shutil.rmtree(tree, ignore_errors=True)
    os.sync()


def openssh_baseline(port: int, root: Path, src: Path, dest: Path) -> float:
    dest.mkdir()
    ssh = (
        f"ssh -p {port} -i {root}/id -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        f"-o LogLevel=ERROR root@127.0.0.1"
    )
    started = time.monotonic()
    subprocess.run(f"tar -C {src} -cf - . | {ssh} 'tar -C {dest} -xf -'", shell=True, check=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each throughput measurement, interleaved; the best is reported (a shared machine is noisy)",
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sp-bench-"))
    proc, port = start_sshd(root)
    try:
        rng = random.Random(args.seed)
        src = make_tree(root, args.size_mb, args.files, rng)
        entries = scan_dir(src)
        tree_bytes = sum(e.size for e in entries)
        key = paramiko.Ed25519Key.from_private_key_file(str(root / "id"))
        spec = {
            "host": "127.0.0.1",
            "port": port,
            "private_key": (root / "id").read_text(),
            "host_key_policy": "insecure",
        }

        ceilings, defaults, baselines, firsts = [], [], [], []
        dest = root / "pushed"
        first = None
        stats = None
        for n in range(args.repeat):
            ceilings.append(paramiko_ceiling(port, key, tree_bytes, tuned=True))
            defaults.append(paramiko_ceiling(port, key, tree_bytes, tuned=False))
            # Both transfers write the same 200 MB to the same disk: each starts with the other's copy removed and
            # every dirty page flushed, and they take turns going first, so neither pays for the other's writeback.
            def baseline_run() -> None:
                fresh_disk(root / "baseline", dest)
                baselines.append(openssh_baseline(port, root, src, root / "baseline"))

            def push_run() -> None:
                nonlocal stats
                fresh_disk(root / "baseline", dest)
                with open_session(spec) as s:
                    t0 = time.monotonic()
                    stats = s.push_tree(entries, str(dest), manifest_name="bench")
                    firsts.append(time.monotonic() - t0)

            for run in (baseline_run, push_run) if n % 2 == 0 else (push_run, baseline_run):
                run()
            if first is None or firsts[-1] == min(firsts):
                first = stats
            print(
                f"  run {n + 1}: ceiling {ceilings[-1]:.2f}s, openssh {baselines[-1]:.2f}s, "
                f"first push {firsts[-1]:.2f}s",
                file=sys.stderr,
            )
        ceiling, ceiling_default, baseline, t_first = min(ceilings), min(defaults), min(baselines), min(firsts)
        with open_session(spec) as s:
            t0 = time.monotonic()
            again = s.push_tree(entries, str(dest), manifest_name="bench")
            t_again = time.monotonic() - t0
            one = next(e for e in entries if e.size == 1024 * 1024)
            local = Path(one.source)
            local.write_bytes(os.urandom(one.size))
            entries2 = scan_dir(src)
            t0 = time.monotonic()
            changed = s.push_tree(entries2, str(dest), manifest_name="bench")
            t_changed = time.monotonic() - t0
        check = subprocess.run(["diff", "-r", "-x", ".sealos-provider", str(src), str(dest)], capture_output=True)

        mb = tree_bytes / 1e6
        rows = [
            (
                "tree",
                "",
                f"{len(entries)} files, {mb:.1f} MB; best of {args.repeat} runs; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
            ),
            ("paramiko ceiling (tuned: AES-GCM, 16 MiB window)", f"{ceiling:.2f} s", f"{mb / ceiling:.0f} MB/s"),
            ("paramiko ceiling (library defaults)", f"{ceiling_default:.2f} s", f"{mb / ceiling_default:.0f} MB/s"),
            ("OpenSSH tar c | ssh tar x", f"{baseline:.2f} s", f"{mb / baseline:.0f} MB/s"),
            (
                "push_tree first push",
                f"{t_first:.2f} s",
                f"{first.bytes_sent / 1e6:.1f} MB sent; {t_first / baseline:.2f}x OpenSSH, {t_first / ceiling:.2f}x ceiling",
            ),
            (
                "first push / OpenSSH, paired per run",
                "",
                ", ".join(f"{f / b:.2f}" for f, b in zip(firsts, baselines))
                + f" (median {sorted(f / b for f, b in zip(firsts, baselines))[len(firsts) // 2]:.2f})",
            ),
            (
                "push_tree re-push, unchanged",
                f"{t_again:.2f} s",
                f"{again.bytes_sent} bytes sent ({100 * again.bytes_sent / tree_bytes:.4f}% of tree), {again.files_sent} files",
            ),
            (
                "push_tree re-push, one 1 MiB file changed",
                f"{t_changed:.2f} s",
                f"{changed.bytes_sent / 1e6:.3f} MB sent, {changed.files_sent} file(s)",
            ),
            ("pushed tree identical to source", "yes" if check.returncode == 0 else "NO", ""),
        ]
        width = max(len(r[0]) for r in rows)
        print(f"{'measurement'.ljust(width)} | {'time':>9} | detail")
        print(f"{'-' * width}-|-{'-' * 9}-|-{'-' * 40}")
        for name, t, detail in rows:
            print(f"{name.ljust(width)} | {t:>9} | {detail}")
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
