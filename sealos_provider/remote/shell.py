"""Building what goes over an exec channel: the SSH command string (fixed, never containing a value) and the stdin
stream that carries the sudo password, the environment and the script.

Wire format, for every command the session runs:

    SSH exec string:  [sudo -k -S -p '' -- | sudo -n -- ] timeout -k 5 <T> bash -s
    stdin:            [<sudo password>\\n] <wrapper> [<the command's own stdin bytes>]

    wrapper:          __sp_main() {
                      export NAME='value'            (one per env entry, single-quoted, byte for byte)
                      eval '<the command or script, single-quoted>'
                      }
                      __sp_main [</dev/null]; exit $?

bash reads a script on a pipe one byte at a time, so after it has read the last wrapper line the rest of stdin is
exactly the command's stdin. `eval` means a syntax error in the command cannot make bash fall through into reading
the data as commands, and `exit $?` means it never reads past the wrapper. No value ever reaches argv, the SSH
command string or SSH setenv.
"""

from __future__ import annotations

import math
import re
import shlex
from typing import Mapping

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
KILL_GRACE = 5
GUARD_EXTRA = 2


def quote(value: str) -> str:
    """Single-quote `value` for bash, byte for byte (NUL cannot be represented and is refused)."""
    if "\0" in value:
        raise ValueError("a NUL byte cannot be passed to a shell")
    return shlex.quote(value)


def exports(env: Mapping[str, str] | None) -> str:
    """`export K='v'` lines; names are checked so a bad one is reported instead of becoming shell code."""
    lines = []
    for name, value in (env or {}).items():
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            raise ValueError(
                f"env name {name!r} is not a valid shell variable name (letters, digits, _; not starting with a digit)"
            )
        if not isinstance(value, str):
            raise ValueError(f"env {name}: value must be a string, got {type(value).__name__}")
        if "\0" in value:
            raise ValueError(f"env {name}: value contains a NUL byte, which no environment variable can hold")
        lines.append(f"export {name}={quote(value)}\n")
    return "".join(lines)


def wrapper(body: str, env: Mapping[str, str] | None = None, *, has_stdin: bool = False) -> bytes:
    """The script that bash -s reads first (see the module docstring)."""
    redirect = "" if has_stdin else " </dev/null"
    text = f"__sp_main() {{\n{exports(env)}eval {quote(body)}\n}}\n__sp_main{redirect}; exit $?\n"
    return text.encode("utf-8")


def exec_string(*, sudo: str | None, timeout: float | None) -> str:
    """The fixed SSH command string. `sudo` is None (no sudo), "nopasswd" or "password"."""
    parts = []
    if sudo == "password":
        parts.append("sudo -k -S -p '' --")
    elif sudo == "nopasswd":
        parts.append("sudo -n --")
    if timeout is not None:
        parts.append(f"timeout -k {KILL_GRACE} {int(math.ceil(timeout)) + GUARD_EXTRA}")
    parts.append("bash -s")
    return " ".join(parts)


def sudo_prefix(password: str | None) -> bytes:
    """The first stdin line for `sudo -S`; a newline inside would split it, so it is refused."""
    if password is None:
        return b""
    if "\n" in password or "\r" in password:
        raise ValueError("sudo_password must not contain a newline (sudo reads one line)")
    return password.encode("utf-8") + b"\n"
