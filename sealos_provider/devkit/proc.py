"""Running host commands for the devkit with errors that say what failed.

The devkit shells out to docker, mmdebstrap, go and apt; a bare CalledProcessError hides stderr, so every failure here
is re-raised as DevkitError carrying the command and the tail of its output.
"""
from __future__ import annotations

import subprocess
from typing import Mapping, Sequence


class DevkitError(RuntimeError):
    """A setup step failed; the message names the command and how to fix it where known."""


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    input: bytes | str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    timeout: float | None = None,
    capture: bool = True,
) -> subprocess.CompletedProcess:
    """Run ``argv`` (never through a shell) and return the completed process, text mode.

    With ``check`` a non-zero exit raises DevkitError including the last lines of stderr/stdout.
    """
    text_input = input.decode() if isinstance(input, bytes) else input
    try:
        proc = subprocess.run(
            list(argv),
            input=text_input,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            timeout=timeout,
            text=True,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
        )
    except FileNotFoundError as exc:
        raise DevkitError(f"{argv[0]}: not installed ({exc})") from None
    except subprocess.TimeoutExpired:
        raise DevkitError(f"{' '.join(argv[:3])}...: timed out after {timeout}s") from None
    if check and proc.returncode != 0:
        tail = "\n".join(((proc.stderr or "") + (proc.stdout or "")).strip().splitlines()[-15:])
        raise DevkitError(f"command failed (exit {proc.returncode}): {' '.join(argv[:6])}\n{tail}")
    return proc
