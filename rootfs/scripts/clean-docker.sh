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

if [[ "$ours" == true ]]; then
  # Best effort, before the records go: what our dockerd left behind that no record lists.
  step "removing docker's runtime leftovers"
  run_dir="$(host_path /run/docker)"
  while IFS= read -r mount_point; do
    umount -l -- "$mount_point" 2>/dev/null || warn "could not unmount $mount_point"
  done < <(awk -v p="$run_dir/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  rm -rf -- "$run_dir" "$(host_path /run/docker.sock)" "$(host_path /run/docker.pid)" ||
    warn "could not remove everything under $run_dir"
  # dockerd's containerd shims leave an empty /run/containerd/s; rmdir keeps a system containerd's files.
  rmdir -- "$(host_path /run/containerd/s)" "$(host_path /run/containerd)" 2>/dev/null || true
  if is_recorded dirs "$(host_path /etc/docker)"; then rm -f -- "$(host_path /etc/docker/key.json)"; fi
  # containerd's empty plugin dirs inside the /opt/containerd init made (a plugin someone installed there stays)
  opt_containerd="$(host_path /opt/containerd)"
  if is_recorded dirs "$opt_containerd" && [[ -d "$opt_containerd" ]]; then
    find "$opt_containerd" -mindepth 1 -depth -type d -empty -delete 2>/dev/null || true
  fi
  if [[ -z "$HOST_ROOT" ]] && command_exists ip && ip link show docker0 >/dev/null 2>&1; then
    ip link delete docker0 || warn "could not delete the docker0 bridge"
  fi
fi

step "removing what init-docker.sh created (criData=$criData)"
clean_records || die "some recorded paths could not be removed (see the warnings above)"
reload_if_systemd
log "docker cleaned"
