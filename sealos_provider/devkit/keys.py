"""SSH key pairs for node sets: generated per set (never a fixed key in the repo), written 0600."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


@dataclass(frozen=True)
class KeyPair:
    """An ed25519 key pair: ``private_key`` is OpenSSH PEM text, ``public_key`` the authorized_keys line."""

    private_key: str = field(repr=False)
    public_key: str
    path: Path


def generate_key_pair(path: Path, comment: str = "sealos-provider-devkit") -> KeyPair:
    """Create an ed25519 key at ``path`` (0600) and ``path.pub``; an existing pair at ``path`` is reused."""
    pub_path = path.with_name(path.name + ".pub")
    if path.exists() and pub_path.exists():
        return KeyPair(path.read_text(), pub_path.read_text().strip(), path)
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(private)
    pub_line = f"{public} {comment}"
    pub_path.write_text(pub_line + "\n")
    return KeyPair(private, pub_line, path)
