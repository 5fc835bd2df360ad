#!/usr/bin/env bash
# clean.sh [criData] [criDockerdData]: the Kubefile's clean hook: the inverse of init.sh, in reverse order. Every part
# runs even if an earlier one failed (a partial install still gets cleaned); the exit code is 1 if any part failed, and
# the message names them. A part missing from the rootfs is skipped with a warning (sealos #3667).
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

criData="${1:-${criData:-/var/lib/docker}}"
criDockerdData="${2:-${criDockerdData:-/var/lib/cri-dockerd}}"
export criData criDockerdData

failed=()
for part in clean-kube clean-shim clean-cri-dockerd clean-docker; do
  step "$part.sh"
  if [[ ! -f "$SCRIPTS_DIR/$part.sh" ]]; then
    warn "$SCRIPTS_DIR/$part.sh is missing: skipped"
    continue
  fi
  bash "$SCRIPTS_DIR/$part.sh" || failed+=("$part.sh")
done
STEP="clean"
if ((${#failed[@]} > 0)); then die "these clean steps failed: ${failed[*]} (see their errors above); fix the cause and run clean.sh again"; fi
log "the node runtime is removed"
