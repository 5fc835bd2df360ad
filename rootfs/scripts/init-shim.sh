#!/usr/bin/env bash
# init-shim.sh: install image-cri-shim, the CRI image service that adds the registry credentials to pulls.
#
# /etc/image-cri-shim.yaml holds the registry password, so it is written 0600 (through a 0600 temporary file).
# Reads: SEALOS_SYS_IMAGE_ENDPOINT, BIN_DIR. Records: shim.{created,backup,dirs}.
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

shim_socket="${SEALOS_SYS_IMAGE_ENDPOINT:-/var/run/image-cri-shim.sock}"
require_path SEALOS_SYS_IMAGE_ENDPOINT "$shim_socket"
component shim

step "installing image-cri-shim"
mark="$(changes_mark)"
install_file "$ROOTFS/cri/image-cri-shim" "$BIN_DIR/image-cri-shim" 0755
install_file "$ROOTFS/etc/image-cri-shim.yaml" "$(host_path /etc/image-cri-shim.yaml)" 0600
if [[ -f "$ROOTFS/etc/crictl.yaml" ]]; then
  install_file "$ROOTFS/etc/crictl.yaml" "$(host_path /etc/crictl.yaml)" 0644
fi

step "installing image-cri-shim.service"
unit_mark="$(changes_mark)"
install_file "$ROOTFS/etc/image-cri-shim.service" "$SYSTEMD_DIR/image-cri-shim.service" 0644
if changed_since "$unit_mark"; then systemd_reload; fi

step "starting image-cri-shim"
changed=false
if changed_since "$mark"; then changed=true; fi
converge_unit image-cri-shim.service "$changed"

step "waiting for the image-cri-shim socket $shim_socket"
if ! wait_until 60 socket_exists "$(host_path "$shim_socket")"; then
  unit_diagnostics image-cri-shim.service >&2
  die "$shim_socket did not appear within 60s (journal above)"
fi
log "image-cri-shim is ready"
