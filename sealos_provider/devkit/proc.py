"""Running host commands for the devkit with errors that say what failed.

The devkit shells out to docker, mmdebstrap, go and apt; a bare CalledProcessError hides stderr, so every failure here
is re-raised as DevkitError carrying the command and the tail of its output.
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterable, Mapping, Sequence


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


def parent_pids() -> dict[int, int]:
    """pid -> parent pid of every process, read from /proc (the comm field may hold spaces and parentheses, so the
    fields are split after its last ')')."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return parents


def with_descendants(roots: Iterable[int], parents: Mapping[int, int] | None = None) -> list[int]:
    """``roots`` and every process below them, parents before children."""
    parents = parent_pids() if parents is None else parents
    found, todo = [], list(roots)
    while todo:
        pid = todo.pop(0)
        found.append(pid)
        todo += [child for child, parent in parents.items() if parent == pid]
    return found
