#!/usr/bin/env bash
# clean-shim.sh: undo init-shim.sh from its records (unit, binary, /etc/image-cri-shim.yaml; a user's file that was
# replaced is restored).
# Reads: SEALOS_SYS_IMAGE_ENDPOINT. Records read: shim.*.
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

shim_socket="${SEALOS_SYS_IMAGE_ENDPOINT:-/var/run/image-cri-shim.sock}"
component shim

step "stopping image-cri-shim"
stop_unit image-cri-shim.service

step "removing what init-shim.sh created"
had_records=false
if [[ -s "$(record_file created)" ]]; then had_records=true; fi
clean_records || die "some recorded paths could not be removed (see the warnings above)"
if [[ "$had_records" == true && -S "$(host_path "$shim_socket")" ]]; then rm -f -- "$(host_path "$shim_socket")"; fi
reload_if_systemd
log "image-cri-shim cleaned"
