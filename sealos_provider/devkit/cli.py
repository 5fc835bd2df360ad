"""``python -m sealos_provider.devkit``: the setup steps of the tests and the demo, one subcommand each.

Every subcommand is idempotent and prints what it did and how long it took, so `make demo`/CI logs show where setup
time goes.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .proc import DevkitError

DEFAULT_PREFIX = "devkit"


def _say(msg: str) -> None:
    print(msg, flush=True)


def cmd_engine(_: argparse.Namespace) -> None:
    from .engine import ensure_engine

    _say(f"engine: {ensure_engine(log=_say)}")


def cmd_image(_: argparse.Namespace) -> None:
    from .engine import ensure_engine
    from .node_image import ensure_node_image

    ensure_engine(log=_say)
    _say(f"image: {ensure_node_image(log=_say)}")


def cmd_nodes_up(args: argparse.Namespace) -> None:
    from .engine import ensure_engine
    from .nodes import start_nodes

    ensure_engine(log=_say)
    nodeset = start_nodes(args.count, prefix=args.prefix, keep=True)
    for node in nodeset:
        d = node.to_dict()
        _say(f"node {d['name']}: ssh {d['user']}@{d['ssh_host']} -p {d['ssh_port']} -i {d['key_path']}"
             f"  internal_ip {d['internal_ip']}")
    if args.json:
        nodeset.write_json(Path(args.json))
        _say(f"nodes: wrote {args.json}")


def cmd_nodes_down(args: argparse.Namespace) -> None:
    import shutil

    from .nodes import remove_set
    from .paths import cache_root

    remove_set(args.prefix)
    shutil.rmtree(cache_root() / "nodes" / args.prefix, ignore_errors=True)
    _say(f"nodes: removed set {args.prefix!r} (containers, volumes, network, keys)")


def cmd_pulumi(_: argparse.Namespace) -> None:
    from .pulumi_cli import ensure_pulumi

    print(ensure_pulumi(log=lambda m: print(m, file=sys.stderr)))


def cmd_artifacts(args: argparse.Namespace) -> None:
    from .engine import ensure_engine
    from .local_artifacts import ensure_artifacts

    ensure_engine(log=_say)
    _say(f"artifacts: {args.set} set in {ensure_artifacts(args.set, log=_say)}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sealos_provider.devkit", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("engine", help="install/start the Docker engine").set_defaults(fn=cmd_engine)
    sub.add_parser("image", help="build/import the node image").set_defaults(fn=cmd_image)
    nodes = sub.add_parser("nodes", help="start or remove node containers")
    nsub = nodes.add_subparsers(dest="action", required=True)
    up = nsub.add_parser("up", help="start N ready nodes (replaces a set with the same prefix)")
    up.add_argument("count", type=int)
    up.add_argument("--prefix", default=DEFAULT_PREFIX)
    up.add_argument("--json", help="also write the nodes' connection facts to this JSON file")
    up.set_defaults(fn=cmd_nodes_up)
    down = nsub.add_parser("down", help="remove a node set")
    down.add_argument("--prefix", default=DEFAULT_PREFIX)
    down.set_defaults(fn=cmd_nodes_down)
    sub.add_parser("pulumi", help="build or find the Pulumi CLI; prints its bin dir").set_defaults(fn=cmd_pulumi)
    art = sub.add_parser("artifacts", help="fill rootfs slots from local programs (and doubles)")
    art.add_argument("set", nargs="?", default="real", choices=("real", "with-doubles"))
    art.set_defaults(fn=cmd_artifacts)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    start = time.monotonic()
    try:
        args.fn(args)
    except DevkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    label = args.command + (f" {args.action}" if getattr(args, "action", None) else "")
    # `pulumi` keeps stdout for the bin dir alone, so scripts can capture it
    out = sys.stderr if args.command == "pulumi" else sys.stdout
    print(f"{label}: done in {time.monotonic() - start:.1f}s", file=out)
    return 0
