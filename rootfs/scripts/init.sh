#!/usr/bin/env bash
# init.sh: the Kubefile's init hook: docker, cri-dockerd, image-cri-shim, then the kube prerequisites, in that order.
# The provider runs the per-component scripts one by one; this keeps `sealos run` of the tree working.
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

for part in init-docker init-cri-dockerd init-shim init-kube; do
  step "$part.sh"
  bash "$SCRIPTS_DIR/$part.sh" || die "$part.sh failed (see its error above)"
done
STEP="init"
log "the node runtime is installed"
