"""The real Pulumi CLI for tests and the demo, and a workspace on a local file backend with the offline settings.

``ensure_pulumi`` prefers a ``pulumi`` on PATH at the pinned version, then the cached build, and otherwise runs
tools/build-pulumi-cli.sh (a Go build through the module proxy). The Python language host and the pulumi-command
plugin cannot be built here (tools/pulumi-build-notes.md), so programs run through the Automation API with inline
programs: the engine then needs only ``pulumi`` and the dynamic-provider shim, both in the returned bin dir.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Callable, Mapping

from .paths import REPO_ROOT, cache_root, venv_python
from .proc import DevkitError, run

BUILD_SCRIPT = REPO_ROOT / "tools" / "build-pulumi-cli.sh"
SHIM = "pulumi-resource-pulumi-python"


def pinned_version() -> str:
    """The pulumi version this project pins (pyproject.toml), falling back to the installed SDK's version."""
    pyproject = REPO_ROOT / "pyproject.toml"
    if pyproject.exists():
        m = re.search(r'"pulumi==([0-9]+\.[0-9]+\.[0-9]+)"', pyproject.read_text())
        if m:
            return m.group(1)
    return metadata.version("pulumi")


def _cli_version(pulumi: Path) -> str:
    proc = subprocess.run([str(pulumi), "version"], capture_output=True, text=True, timeout=60)
    return proc.stdout.strip().lstrip("v") if proc.returncode == 0 else ""


def cached_bin_dir(version: str | None = None) -> Path:
    """Where tools/build-pulumi-cli.sh puts the CLI for ``version``."""
    return cache_root() / "pulumi" / f"v{version or pinned_version()}" / "bin"


def ensure_pulumi(version: str | None = None, *, build: bool = True, log=print) -> Path:
    """Return a bin dir holding ``pulumi`` (at the pinned version) and the dynamic-provider shim."""
    version = version or pinned_version()
    on_path = shutil.which("pulumi")
    if on_path and _cli_version(Path(on_path)) == version:
        bindir = Path(on_path).resolve().parent
        if (bindir / SHIM).exists() or shutil.which(SHIM):
            return bindir
    cached = cached_bin_dir(version)
    if (cached / "pulumi").exists() and (cached / SHIM).exists() and (cached.parent / ".complete").exists():
        return cached
    if not build:
        raise DevkitError(f"pulumi v{version} is not built: run tools/build-pulumi-cli.sh {version}")
    log(f"pulumi: building v{version} with {BUILD_SCRIPT.name} (minutes when cold)")
    env = {**os.environ, "PATH": os.environ.get("PATH", "") + ":/usr/local/go/bin"}
    proc = run(["bash", str(BUILD_SCRIPT), version], env=env, timeout=3600)
    return Path(proc.stdout.strip().splitlines()[-1])


def pulumi_env(state_dir: Path, bin_dir: Path | None = None, passphrase: str = "") -> dict[str, str]:
    """Environment for running the CLI offline on a file backend under ``state_dir``.

    The backend lives in ``state_dir/backend`` and PULUMI_HOME in ``state_dir/home``, so nothing touches the user's
    ~/.pulumi; PYTHONPATH carries the repo root (and tests/) so the provider process can unpickle provider classes.
    """
    bin_dir = bin_dir or ensure_pulumi()
    state_dir = Path(state_dir).resolve()
    (state_dir / "backend").mkdir(parents=True, exist_ok=True)
    (state_dir / "home").mkdir(parents=True, exist_ok=True)
    pythonpath = [str(REPO_ROOT), str(REPO_ROOT / "tests")]
    if os.environ.get("PYTHONPATH"):
        pythonpath.append(os.environ["PYTHONPATH"])
    return {
        "PULUMI_BACKEND_URL": f"file://{state_dir / 'backend'}",
        "PULUMI_CONFIG_PASSPHRASE": passphrase,
        "PULUMI_HOME": str(state_dir / "home"),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
        "PULUMI_PYTHON_CMD": str(venv_python()),
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PYTHONPATH": ":".join(pythonpath),
    }


def workspace_stack(
    project: str,
    stack: str,
    program: Callable[[], None],
    state_dir: Path,
    config: Mapping[str, object] | None = None,
    *,
    bin_dir: Path | None = None,
):
    """Create or select ``project/stack`` running the inline ``program`` on a file backend in ``state_dir``.

    ``config`` maps keys to values; a value wrapped as ``("secret", v)`` is set as a secret. Returns the
    ``pulumi.automation.Stack``; the work dir is ``state_dir/work`` (where the provider plugin runs).
    """
    from pulumi import automation as auto  # local import: importing the devkit must not pull in pulumi

    bin_dir = bin_dir or ensure_pulumi()
    env = pulumi_env(state_dir, bin_dir)
    # The CLI and the plugins it starts inherit env_vars; the driver process needs PATH for PulumiCommand too.
    work_dir = Path(state_dir).resolve() / "work"
    work_dir.mkdir(parents=True, exist_ok=True)
    settings = auto.ProjectSettings(
        name=project, runtime="python", backend=auto.ProjectBackend(url=env["PULUMI_BACKEND_URL"])
    )
    opts = auto.LocalWorkspaceOptions(
        work_dir=str(work_dir),
        pulumi_home=env["PULUMI_HOME"],
        env_vars=env,
        secrets_provider="passphrase",
        project_settings=settings,
        pulumi_command=auto.PulumiCommand(root=str(bin_dir.parent), skip_version_check=True)
        if (bin_dir / "pulumi").exists() and bin_dir.name == "bin"
        else None,
    )
    st = auto.create_or_select_stack(stack_name=stack, project_name=project, program=program, opts=opts)
    for key, value in (config or {}).items():
        secret = isinstance(value, tuple) and len(value) == 2 and value[0] == "secret"
        raw = value[1] if secret else value
        st.set_config(key, auto.ConfigValue(value=str(raw), secret=secret))
    return st


class Workspace:
    """A temp Pulumi home + file backend for tests: ``stack(program)`` gives inline-program stacks on it."""

    def __init__(self, state_dir: Path, bin_dir: Path | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.bin_dir = bin_dir or ensure_pulumi()
        self.env = pulumi_env(self.state_dir, self.bin_dir)
        self.stacks: list = []

    @property
    def backend_dir(self) -> Path:
        """Where the file backend keeps stack state (``.pulumi/stacks/<project>/<stack>.json``)."""
        return self.state_dir / "backend"

    def stack(self, program: Callable[[], None], *, project: str = "devkit-test", stack: str = "test",
              config: Mapping[str, object] | None = None):
        """An inline-program stack (see ``workspace_stack``); remembered for ``destroy_all``."""
        st = workspace_stack(project, stack, program, self.state_dir, config, bin_dir=self.bin_dir)
        self.stacks.append(st)
        return st

    def state_text(self) -> str:
        """All state/history files of the backend concatenated: for "no secret in plaintext" assertions."""
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.backend_dir.rglob("*")) if p.is_file())

    def destroy_all(self) -> None:
        """Best-effort destroy of every stack made here (fixture teardown after a failed test)."""
        for st in self.stacks:
            try:
                st.destroy()
            except Exception:
                pass
