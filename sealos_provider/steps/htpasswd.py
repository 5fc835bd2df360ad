"""The registry's htpasswd line: `user:<bcrypt>` as `sealos` writes it (cost 10, Go's `$2a$` prefix).

The salt is derived from the credentials (HMAC-SHA256 keyed by the password), so the same credentials always give the
same line. That keeps `check` deterministic (a preview does not show a new htpasswd on every run) and lets probes
compare digests; a password change still changes the line. The hash is still bcrypt: slow to attack offline.
"""

from __future__ import annotations

import hashlib
import hmac

import bcrypt

_ALPHABET = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
BCRYPT_MAX_BYTES = 72


def _salt(username: str, password: str, cost: int) -> bytes:
    digest = hmac.new(password.encode(), f"sealos-provider htpasswd salt:{username}".encode(), hashlib.sha256).digest()
    chars = bytes(_ALPHABET[b % 64] for b in digest[:21])
    last = bytes([_ALPHABET[(digest[21] % 4) * 16]])  # the 22nd char carries 2 bits: keep it canonical
    return b"$2a$%02d$" % cost + chars + last


def htpasswd_line(username: str, password: str, cost: int = 10) -> bytes:
    if ":" in username or not username:
        raise ValueError("registry username must be non-empty and must not contain ':'")
    if len(password.encode()) > BCRYPT_MAX_BYTES:
        raise ValueError(f"registry password is longer than bcrypt's {BCRYPT_MAX_BYTES} bytes")
    hashed = bcrypt.hashpw(password.encode(), _salt(username, password, cost))
    return username.encode() + b":" + hashed + b"\n"


def verify(line: bytes, username: str, password: str) -> bool:
    user, _, hashed = line.strip().partition(b":")
    return user == username.encode() and bcrypt.checkpw(password.encode(), hashed)
