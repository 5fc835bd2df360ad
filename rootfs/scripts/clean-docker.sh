#!/usr/bin/env bash
# clean-docker.sh [criData]: undo init-docker.sh from its records. A docker the user installed keeps its binaries, unit
# and data; only its daemon.json is restored. A docker we installed is stopped and its binaries, unit, daemon.json and
# the data directory init created (unless keepData=true) are removed. criData is accepted for sealos compatibility;
# what is removed is what init recorded.
# Reads: criData, keepData. Records read: docker.*.
set -Eeuo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

criData="${1:-${criData:-/var/lib/docker}}"
component docker

if [[ "$(get_fact user-installed)" == true ]]; then
  step "restoring the user's docker configuration"
  clean_records || die "some recorded paths could not be removed (see the warnings above)"
  if command_exists systemctl && unit_active docker.service; then
    systemctl restart docker.service || warn "could not restart the user's docker after restoring daemon.json"
  fi
  exit 0
fi

step "stopping docker"
ours=false
if is_recorded created "$BIN_DIR/dockerd"; then ours=true; fi
stop_unit docker.service
stop_unit docker.socket

step "removing what init-docker.sh created (criData=$criData)"
clean_records || die "some recorded paths could not be removed (see the warnings above)"

if [[ "$ours" == true ]]; then
  step "removing docker's runtime leftovers"
  rm -rf -- "$(host_path /run/docker)" "$(host_path /run/docker.sock)" "$(host_path /run/docker.pid)"
  if command_exists ip && ip link show docker0 >/dev/null 2>&1; then
    ip link delete docker0 || warn "could not delete the docker0 bridge"
  fi
fi
reload_if_systemd
log "docker cleaned"
