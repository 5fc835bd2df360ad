#!/usr/bin/env bash
# clean-cri-dockerd.sh [criDockerdData]: undo init-cri-dockerd.sh from its records (units, cri-dockerd, crictl,
# /etc/crictl.yaml, and criDockerdData if init created it and keepData is not true).
# Reads: criDockerdData, keepData, SEALOS_SYS_CRI_ENDPOINT. Records read: cri-dockerd.*.
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

criDockerdData="${1:-${criDockerdData:-/var/lib/cri-dockerd}}"
cri_socket="${SEALOS_SYS_CRI_ENDPOINT:-/var/run/cri-dockerd.sock}"
component cri-dockerd

step "stopping cri-docker"
stop_unit cri-docker.service
stop_unit cri-docker.socket

step "removing what init-cri-dockerd.sh created (criDockerdData=$criDockerdData)"
had_records=false
if [[ -s "$(record_file created)" ]]; then had_records=true; fi
clean_records || die "some recorded paths could not be removed (see the warnings above)"
if [[ "$had_records" == true && -S "$(host_path "$cri_socket")" ]]; then rm -f -- "$(host_path "$cri_socket")"; fi
reload_if_systemd
log "cri-dockerd cleaned"
