"""A minimal dynamic resource (write one file on a host over SSH) that proves the chain engine → shim → SSH works.

Used by the e2e smoke test and ``python -m sealos_provider.devkit smoke``; it is devkit, not product: the real
resources live in sealos_provider.resources. The provider class sits at module level in the installed package so it
is pickled by reference and the provider process can import it.
"""
from __future__ import annotations

import io
import posixpath
import shlex
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider


def _client(props: dict[str, Any]):
    import paramiko

    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # devkit nodes get fresh host keys every start
    key = paramiko.Ed25519Key.from_private_key(io.StringIO(props["private_key"]))
    client.connect(props["host"], port=int(props["port"]), username=props.get("user") or "root", pkey=key,
                   allow_agent=False, look_for_keys=False, timeout=20)
    return client


def _run(client, command: str, stdin: bytes = b"") -> None:
    chan_in, chan_out, chan_err = client.exec_command(command)
    chan_in.write(stdin)
    chan_in.channel.shutdown_write()
    status = chan_out.channel.recv_exit_status()
    if status != 0:
        raise RuntimeError(f"remote command failed (exit {status}): {chan_err.read().decode(errors='replace')[-400:]}")


class RemoteFileProvider(ResourceProvider):
    """Create writes ``content`` to ``path`` (content travels on stdin); delete removes the file."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        path = props["path"]
        if not posixpath.isabs(path):
            raise ValueError(f"path: {path!r} must be absolute, e.g. /tmp/hello.txt")
        client = _client(props)
        try:
            _run(client, f"mkdir -p {shlex.quote(posixpath.dirname(path))} && cat > {shlex.quote(path)}",
                 props["content"].encode())
        finally:
            client.close()
        return CreateResult(id_=f"{props['host']}:{int(props['port'])}:{path}", outs=dict(props))

    def diff(self, id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = ("host", "port", "user", "path", "content")
        changed = [k for k in keys if str(olds.get(k)) != str(news.get(k))]
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)

    def delete(self, id: str, props: dict[str, Any]) -> None:
        client = _client(props)
        try:
            _run(client, f"rm -f {shlex.quote(props['path'])}")
        finally:
            client.close()


class RemoteFile(pulumi.dynamic.Resource):
    """A file on a host reached over SSH with a private key (kept secret in state)."""

    path: pulumi.Output[str]

    def __init__(self, name: str, *, host: str, port: int, private_key: str, path: str, content: str,
                 user: str = "root", opts: pulumi.ResourceOptions | None = None) -> None:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["private_key"]))
        super().__init__(
            RemoteFileProvider(), name,
            {"host": host, "port": port, "user": user, "private_key": pulumi.Output.secret(private_key),
             "path": path, "content": content},
            opts,
        )
