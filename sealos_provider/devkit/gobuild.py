"""Building slot programs from source through the Go module proxy (crictl, cri-dockerd, image-cri-shim).

Each tool is tried once per version: a build or a refusal by the proxy is recorded in the cache, so a later run reuses
the binary or the recorded failure instead of spending minutes again (delete the record to retry).
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .paths import cache_lock, cache_root
from .proc import DevkitError, run


@dataclass(frozen=True)
class GoTool:
    """A main package at a version, with the ldflags that stamp its version."""

    name: str
    package: str
    version: str
    ldflags: str = ""


GO_TOOLS: dict[str, GoTool] = {
    "crictl": GoTool("crictl", "sigs.k8s.io/cri-tools/cmd/crictl", "v1.37.0",
                     "-X sigs.k8s.io/cri-tools/pkg/version.Version=v1.37.0"),
    "cri-dockerd": GoTool("cri-dockerd", "github.com/Mirantis/cri-dockerd", "v0.3.16"),
    "image-cri-shim": GoTool("image-cri-shim", "github.com/labring/sealos/cmd/image-cri-shim", "v5.0.1+incompatible"),
}


def go_binary() -> str:
    """The Go toolchain (PATH or /usr/local/go); Debian's 1.19 is too old for these modules."""
    found = shutil.which("go") or ("/usr/local/go/bin/go" if os.path.exists("/usr/local/go/bin/go") else None)
    if not found:
        raise DevkitError("go is not installed: install Go >= 1.25 into /usr/local/go")
    return found


def build_go_tool(tool: GoTool, log=print) -> Path:
    """Return the built binary for ``tool``; raises DevkitError with the recorded reason when it cannot be built."""
    with cache_lock(f"gobuild-{tool.name}"):
        return _build(tool, log)


def _build(tool: GoTool, log) -> Path:
    out_dir = cache_root() / "gobuild" / f"{tool.name}-{tool.version}"
    binary = out_dir / tool.name
    record = out_dir / "failed.json"
    if binary.exists():
        return binary
    if record.exists():
        raise DevkitError(json.loads(record.read_text())["error"])
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(out_dir), "CGO_ENABLED": "0", "GOFLAGS": "-trimpath"}
    argv = [go_binary(), "install"]
    if tool.ldflags:
        argv += ["-ldflags", f"-s -w {tool.ldflags}"]
    log(f"go build: {tool.package}@{tool.version}")
    try:
        run(argv + [f"{tool.package}@{tool.version}"], env=env, timeout=1200, cwd=str(out_dir))
    except DevkitError as exc:
        detail = " ".join(line.strip() for line in str(exc).splitlines()[1:] if line.strip())
        error = f"{tool.name}: go install {tool.package}@{tool.version} failed: {detail[-400:]}"
        record.write_text(json.dumps({"error": error}) + "\n")
        raise DevkitError(error) from None
    built = out_dir / Path(tool.package).name
    if built != binary:
        built.rename(binary)
    return binary
