#!/usr/bin/env bash
# Build the Pulumi CLI (engine) through the Go module proxy and install the Python dynamic-provider shim and the
# language-host exec script next to it, into a cache keyed by version.
#
# Usage: tools/build-pulumi-cli.sh [VERSION]   (default: the pulumi version pinned in pyproject.toml)
# Prints the bin directory on its last line. Safe to repeat and to run concurrently: a finished build is reused and a
# second caller waits for the first (flock).
#
# Why a build: the pulumi wheel is the SDK only and the CLI's download site is not reachable from these machines
# (../shared/spec/pulumi-cli.md). What cannot be built here, and why, is in tools/pulumi-build-notes.md: the Python
# language host (pulumi-language-python) and the pulumi-command provider plugin are not served by the module proxy,
# so the tests use the Automation API with inline programs (they need only `pulumi` and the dynamic shim).
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="${1:-$(sed -n 's/^[[:space:]]*"pulumi==\([0-9.]*\)".*/\1/p' "$here/../pyproject.toml" | head -n1)}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || {
  echo "build-pulumi-cli: cannot read the pinned version (got '$version'): pass it, e.g. tools/build-pulumi-cli.sh 3.260.0" >&2
  exit 2
}
cache="${SEALOS_PROVIDER_CACHE:-$HOME/.cache/sealos-provider}/pulumi/v$version"
bin="$cache/bin"
mkdir -p "$cache"

exec 9>"$cache/.lock"
flock 9

if [[ -x "$bin/pulumi" && -x "$bin/pulumi-resource-pulumi-python" && -f "$cache/.complete" ]]; then
  echo "$bin"
  exit 0
fi

go_bin="$(command -v go || true)"
[[ -n "$go_bin" ]] || { [[ -x /usr/local/go/bin/go ]] && go_bin=/usr/local/go/bin/go; }
[[ -n "$go_bin" ]] || { echo "build-pulumi-cli: go is not installed (Go >= 1.25.11 is needed; Debian's 1.19 is too old)" >&2; exit 1; }

mkdir -p "$cache/src" "$bin"
cd "$cache/src"
cat > go.mod <<GOMOD
module sealos-provider.local/pulumi-build

go 1.25

require (
	github.com/pulumi/pulumi/pkg/v3 v$version
	github.com/pulumi/pulumi/sdk/v3 v$version
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
GOMOD
cat > tools.go <<'GOSRC'
//go:build tools

package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
GOSRC

if [[ ! -x "$bin/pulumi" ]] || [[ "$("$bin/pulumi" version 2>/dev/null)" != "v$version" ]]; then
  echo "build-pulumi-cli: resolving modules for pulumi v$version" >&2
  "$go_bin" mod tidy >&2
  echo "build-pulumi-cli: compiling the CLI (8-15 min on 2 cores when cold, seconds when the Go build cache is warm)" >&2
  CGO_ENABLED=0 "$go_bin" build -trimpath -tags osusergo,grpcnotrace \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version" \
    -o "$bin/pulumi.partial" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi >&2
  mv -f "$bin/pulumi.partial" "$bin/pulumi"
fi

# The non-Go pieces ship inside the sdk/v3 module without exec bits: install them 0755 next to the CLI.
sdk_dir="$("$go_bin" list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"
install -m 0755 "$sdk_dir/python/dist/pulumi-resource-pulumi-python" "$bin/pulumi-resource-pulumi-python"
install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$bin/pulumi-language-python-exec"

got="$("$bin/pulumi" version)"
[[ "$got" == "v$version" ]] || { echo "build-pulumi-cli: built pulumi reports '$got', expected v$version" >&2; exit 1; }
touch "$cache/.complete"
echo "$bin"
